"""FakeSMTP driven by Python's smtplib over SMTP on 127.0.0.1."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from tests.fakes.smtp import FakeSMTP

USER, SECRET = "cell@indiapost.gov.in", "dak-sewa-jan-sewa"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


@pytest.fixture
def fake() -> Iterator[FakeSMTP]:
    with FakeSMTP(starttls=True, user=USER, password=SECRET) as server:
        yield server


def notice(to: str = "editor@example.org") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = USER, to, "Aadhaar camp, GPO Mumbai"
    message.set_content("Camp on 12 May, 10:00-16:00.")
    message.add_attachment(PNG, maintype="image", subtype="png", filename="camp.png")
    return message


def connect(fake: FakeSMTP) -> smtplib.SMTP:
    client = smtplib.SMTP(fake.host, fake.port, timeout=5)
    client.starttls(context=fake.client_context())
    client.login(USER, SECRET)
    return client


def test_starttls_login_and_attachment(fake: FakeSMTP) -> None:
    with connect(fake) as client:
        client.send_message(notice(), to_addrs=["editor@example.org", "cc@example.org"])

    [got] = fake.messages
    assert got.mail_from == USER
    assert got.rcpt_tos == ["editor@example.org", "cc@example.org"]
    assert (got.login, got.tls) == (USER, True)
    assert got.message["Subject"] == "Aadhaar camp, GPO Mumbai"
    [attachment] = got.message.iter_attachments()
    assert attachment.get_content_type() == "image/png"
    assert attachment.get_filename() == "camp.png"
    assert attachment.get_content() == PNG
    assert b"Subject: Aadhaar camp, GPO Mumbai" in got.raw


def test_auth_is_offered_only_after_starttls(fake: FakeSMTP) -> None:
    with smtplib.SMTP(fake.host, fake.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPNotSupportedError):
            client.login(USER, SECRET)
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.send_message(notice())
    assert refused.value.smtp_code == 530


def test_bad_password(fake: FakeSMTP) -> None:
    with smtplib.SMTP(fake.host, fake.port, timeout=5) as client:
        client.starttls(context=fake.client_context())
        with pytest.raises(smtplib.SMTPAuthenticationError) as caught:
            client.login(USER, "wrong")
    assert caught.value.smtp_code == 535
    assert fake.logins[-1][1:] == (USER, False)


def test_implicit_tls() -> None:
    with FakeSMTP(implicit_tls=True, user=USER, password=SECRET) as fake:
        with smtplib.SMTP_SSL(fake.host, fake.port, context=fake.client_context()) as client:
            client.login(USER, SECRET)
            client.send_message(notice())
        assert [(m.tls, m.login) for m in fake.messages] == [(True, USER)]


def test_plain_server_without_auth() -> None:
    with FakeSMTP() as fake, smtplib.SMTP(fake.host, fake.port, timeout=5) as client:
        client.send_message(notice())
        assert [(m.tls, m.login) for m in fake.messages] == [(False, None)]


def test_temporary_failure_on_data(fake: FakeSMTP) -> None:
    fake.fail_next(451)
    with connect(fake) as client:
        with pytest.raises(smtplib.SMTPDataError) as caught:
            client.send_message(notice())
        assert caught.value.smtp_code == 451
        assert caught.value.smtp_error.startswith(b"4.3.0")
        assert fake.messages == []
        client.send_message(notice())  # only the next message failed
    assert len(fake.messages) == 1


def test_rejections_on_rcpt_and_mail(fake: FakeSMTP) -> None:
    fake.fail_next(554, stage="RCPT")
    with connect(fake) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.send_message(notice())
        assert refused.value.recipients == {"editor@example.org": (554, b"5.7.1 Message rejected")}
        fake.fail_next(451, stage="MAIL", reply="4.7.1 Try again later")
        with pytest.raises(smtplib.SMTPSenderRefused) as sender:
            client.send_message(notice())
        assert (sender.value.smtp_code, sender.value.smtp_error) == (451, b"4.7.1 Try again later")
    assert fake.messages == []


def test_connection_dropped_during_data(fake: FakeSMTP) -> None:
    fake.fail_next("drop")
    with pytest.raises(smtplib.SMTPServerDisconnected), connect(fake) as client:
        client.send_message(notice())
    assert fake.messages == []

    fake.fail_next("drop_after_store")
    with pytest.raises(smtplib.SMTPServerDisconnected), connect(fake) as client:
        client.send_message(notice())
    assert len(fake.messages) == 1


def test_fault_arguments_are_checked(fake: FakeSMTP) -> None:
    for code, stage in ((250, "DATA"), (451, "EHLO"), ("explode", "DATA")):
        with pytest.raises(ValueError, match="bad fault"):
            fake.fail_next(code, stage=stage)
