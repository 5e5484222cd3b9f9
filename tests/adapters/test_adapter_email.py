"""The e-mail adapter over real SMTP against the fake server: STARTTLS, SMTPS, login, MIME."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from publisher.adapters.base import Media, Outgoing
from publisher.adapters.email import EmailAdapter, EmailOptions
from publisher.config.organisation import Account
from publisher.errors import AuthError, PermanentError, TransientError, UncertainError
from publisher.vocabulary import Part
from tests.fakes.smtp import FakeSMTP

ACCOUNT = Account(
    platform="email",
    handle="marketing-division",
    locales=["en"],
    recipients=["ddgmarketing@indiapost.gov.in", "admarketingdivision@gmail.com"],
)
LOGIN = {"username": "publisher", "password": "smtp-pass-1234"}


def clock() -> datetime:
    return datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


@pytest.fixture
def smtp() -> Iterator[FakeSMTP]:
    with FakeSMTP(starttls=True, user=LOGIN["username"], password=LOGIN["password"]) as server:
        yield server


def adapter(server: FakeSMTP, security: str = "starttls", **login: str) -> EmailAdapter:
    options = EmailOptions(
        host=server.host,
        port=server.port,
        security=security,  # type: ignore[arg-type]
        sender="social@indiapost.gov.in",
        ca_file=server.cert_path,
        timeout_seconds=5,
    )
    return EmailAdapter(ACCOUNT, {**LOGIN, **login}, options, clock)


def delivery(text: str, media: list[Media] | None = None) -> Outgoing:
    return Outgoing(1, "tn/pongal|email:marketing-division|en", "email:marketing-division",
                    "email", "en", [Part("post", text, [])], [], media or [])  # fmt: skip


def test_photographs_with_descriptions_reach_the_marketing_division(
    smtp: FakeSMTP, tmp_path: Path
) -> None:
    photo = tmp_path / "pongal-cover.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    text = "Special cover released at Chennai GPO.\nPhotographs attached."
    receipt = adapter(smtp).publish(delivery(text, [Media(photo, "A cover with a Pongal pot")]))

    [received] = smtp.messages
    assert received.rcpt_tos == ACCOUNT.recipients
    message = received.message
    assert message["Subject"] == "Special cover released at Chennai GPO."
    assert message["From"] == "social@indiapost.gov.in"
    assert message["Message-ID"] == receipt.remote_id
    body = message.get_body(("plain",)).get_content()
    assert "Photographs attached." in body
    assert "pongal-cover.png: A cover with a Pongal pot" in body
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "pongal-cover.png"
    assert attachment.get_content() == photo.read_bytes()
    assert received.tls


def test_the_same_delivery_always_has_the_same_message_id(smtp: FakeSMTP) -> None:
    first = adapter(smtp).publish(delivery("one"))
    second = adapter(smtp).publish(delivery("one"))
    assert first.remote_id == second.remote_id


def test_implicit_tls(tmp_path: Path) -> None:
    with FakeSMTP(implicit_tls=True, user="publisher", password=LOGIN["password"]) as server:
        adapter(server, security="ssl").publish(delivery("over SMTPS"))
        assert server.messages[0].tls


def test_wrong_password_is_an_auth_error(smtp: FakeSMTP) -> None:
    with pytest.raises(AuthError, match="refused the login"):
        adapter(smtp, password="wrong").publish(delivery("x"))
    assert smtp.messages == []


def test_temporary_refusal_is_transient(smtp: FakeSMTP) -> None:
    smtp.fail_next(451, stage="DATA")
    with pytest.raises(TransientError, match="451"):
        adapter(smtp).publish(delivery("x"))


def test_refused_recipients_are_permanent(smtp: FakeSMTP) -> None:
    smtp.fail_next(554, stage="RCPT", count=2)
    with pytest.raises(PermanentError, match="554"):
        adapter(smtp).publish(delivery("x"))


def test_connection_cut_during_data_is_uncertain(smtp: FakeSMTP) -> None:
    smtp.fail_next("drop", stage="DATA")
    with pytest.raises(UncertainError, match="dropped while sending"):
        adapter(smtp).publish(delivery("x"))


def test_a_message_handed_to_the_server_waits_for_a_person_when_reconciled(
    smtp: FakeSMTP,
) -> None:
    """A mail server cannot be asked what it took: once the message was handed over (the
    checkpoint taken just before), reconciling leaves the decision to a person."""
    progress: dict[str, str] = {}
    smtp.fail_next("drop", stage="DATA")
    with pytest.raises(UncertainError):
        adapter(smtp).publish(replace(delivery("x"), checkpoint=progress.__setitem__))
    assert list(progress) == ["handed"]
    with pytest.raises(UncertainError, match="resolve it by hand"):
        adapter(smtp).find_existing(replace(delivery("x"), progress=progress))


def test_a_message_never_handed_over_is_reconciled_as_not_sent(smtp: FakeSMTP) -> None:
    """A crash before the checkpoint (while connecting, say): nothing reached the server, so
    reconciling answers "not there" and the dispatcher sends it, without a person."""
    assert adapter(smtp).find_existing(delivery("x")) is None
    assert smtp.messages == []


def test_unreachable_server_is_transient() -> None:
    options = EmailOptions(host="127.0.0.1", port=9, security="none", timeout_seconds=2)
    with pytest.raises(TransientError, match="cannot reach"):
        EmailAdapter(ACCOUNT, {}, options, clock).publish(delivery("x"))


def test_check_logs_in(smtp: FakeSMTP) -> None:
    assert adapter(smtp).check().valid
    assert not adapter(smtp, password="wrong").check().valid
