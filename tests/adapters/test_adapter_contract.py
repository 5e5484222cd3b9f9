"""One contract, every adapter: the same questions asked of X, Facebook, Instagram and e-mail, each
over its real client library against its fake server on 127.0.0.1; and of the package's stub
platform, which the engine's own tests stand on, so that it behaves as the real ones do."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from publisher.adapters.base import Adapter, Media, Outgoing
from publisher.adapters.email import EmailAdapter, EmailOptions
from publisher.adapters.facebook import FacebookAdapter
from publisher.adapters.graph import GraphOptions
from publisher.adapters.instagram import InstagramAdapter, InstagramOptions
from publisher.adapters.stub import Dropped, Outcome, StubAdapter
from publisher.adapters.x import XAdapter
from publisher.config.organisation import Account
from publisher.config.platforms import PlatformOptions
from publisher.errors import (
    AdapterError,
    AuthError,
    PermanentError,
    RateLimitedError,
    TransientError,
    UncertainError,
)
from publisher.vocabulary import Part, Receipt
from tests.fakes.graph_api import FakeGraph
from tests.fakes.smtp import FakeSMTP
from tests.fakes.x_api import FakeX

X_SECRETS = {"consumer_key": "k", "consumer_secret": "s", "access_token": "1001-t",
             "access_token_secret": "ts"}  # fmt: skip
ERRORS: dict[str, type[AdapterError]] = {
    "transient": TransientError,
    "rate_limited": RateLimitedError,
    "permanent": PermanentError,
    "auth": AuthError,
    "uncertain": UncertainError,
}


def clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Harness:
    """An adapter on its fake server, and how to make that server misbehave in each way."""

    make: Callable[..., Adapter[Any]]  # make(broken_credentials=False)
    posts: Callable[[], int]
    texts: Callable[[], list[str]]  # every text the platform received, parts included
    faults: dict[str, Callable[[], None]]
    follow_up: str | None  # the kind of part overflow becomes: reply, comment, or none
    needs_photo: bool = False


def _x(fake: FakeX) -> Harness:
    fake.add_user("1001", "HaryanaPostal", *X_SECRETS.values())
    account = Account(platform="x", handle="HaryanaPostal", locales=["hi"], platform_id="1001")
    options = PlatformOptions(api_base_url=fake.url, timeout_seconds=5)

    def make(broken_credentials: bool = False) -> Adapter[Any]:
        secrets = {**X_SECRETS, "access_token_secret": "wrong"} if broken_credentials else X_SECRETS
        return XAdapter(account, secrets, options, clock)

    return Harness(
        make,
        fake.count_posts,
        lambda: [t.text for t in fake.tweets],
        {
            "transient": lambda: fake.fail_next("server_error", status=503),
            "rate_limited": lambda: fake.fail_next("rate_limit"),
            "permanent": lambda: fake.fail_next("server_error", status=400),
            "uncertain": lambda: fake.fail_next("drop_after_store"),
        },
        follow_up="reply",
    )


def _facebook(fake: FakeGraph) -> Harness:
    fake.add_page("200", "Haryana Postal Circle", "EAAB-page")
    account = Account(platform="facebook", handle="HaryanaPC", locales=["hi"], platform_id="200")
    options = GraphOptions(api_base_url=fake.url, timeout_seconds=5)

    def make(broken_credentials: bool = False) -> Adapter[Any]:
        token = "EAAB-revoked" if broken_credentials else "EAAB-page"
        return FacebookAdapter(account, {"page_access_token": token}, options, clock)

    return Harness(
        make,
        lambda: fake.count_published("200"),
        lambda: [p.message or "" for p in fake.posts.values()],
        {
            "transient": lambda: fake.fail_next(2),
            "rate_limited": lambda: fake.fail_next(32, minutes=5),
            "permanent": lambda: fake.fail_next(368),
            "uncertain": lambda: fake.fail_next("drop_after_store", path_contains="/feed"),
        },
        follow_up=None,
    )


def _instagram(fake: FakeGraph) -> Harness:
    fake.add_instagram("300", "haryanapostalcircle", "EAAB-ig")
    account = Account(platform="instagram", handle="hpc", locales=["hi"], platform_id="300")
    options = InstagramOptions(
        api_base_url=fake.url, media_base_url="https://media.example", container_poll_seconds=0
    )

    def make(broken_credentials: bool = False) -> Adapter[Any]:
        token = "EAAB-revoked" if broken_credentials else "EAAB-ig"
        return InstagramAdapter(account, {"access_token": token}, options, clock)

    return Harness(
        make,
        lambda: fake.count_published("300"),
        lambda: (
            [m.caption or "" for m in fake.ig_media.values()]
            + [c.message for c in fake.comments.values()]
        ),
        {
            "transient": lambda: fake.fail_next(1, path_contains="media"),
            "rate_limited": lambda: fake.fail_next(4, path_contains="media"),
            "permanent": lambda: fake.fail_next(368, path_contains="media"),
            "uncertain": lambda: fake.fail_next("drop_after_store", path_contains="media_publish"),
        },
        follow_up="comment",
        needs_photo=True,
    )


def _email(fake: FakeSMTP) -> Harness:
    account = Account(platform="email", handle="marketing", locales=["hi"],
                      recipients=["ddgmarketing@indiapost.gov.in"])  # fmt: skip
    options = EmailOptions(host=fake.host, port=fake.port, security="starttls",
                           ca_file=fake.cert_path, timeout_seconds=5)  # fmt: skip

    def make(broken_credentials: bool = False) -> Adapter[Any]:
        password = "wrong" if broken_credentials else "pass-1234"
        return EmailAdapter(account, {"username": "u", "password": password}, options, clock)

    return Harness(
        make,
        lambda: len(fake.messages),
        lambda: [m.message.get_body(("plain",)).get_content() for m in fake.messages],
        {
            "transient": lambda: fake.fail_next(451, stage="DATA"),
            "permanent": lambda: fake.fail_next(554, stage="DATA"),
            "uncertain": lambda: fake.fail_next("drop", stage="DATA"),
        },
        follow_up=None,
    )


def _stub() -> Harness:
    account = Account(platform="x", handle="HaryanaPostal", locales=["hi"])
    made: list[StubAdapter] = []
    faults: list[Outcome] = []  # the next call's answer, set before the adapter is made

    def make(broken_credentials: bool = False) -> Adapter[Any]:
        adapter = StubAdapter(account, {}, PlatformOptions(), clock, faults)
        if broken_credentials:
            adapter.refuse = AuthError("the stub's token is revoked")
        made.append(adapter)
        return adapter

    def published() -> list[Outgoing]:
        return [d for adapter in made for d in adapter.published]

    return Harness(
        make,
        lambda: len(published()),
        lambda: [part.text for d in published() for part in d.parts],
        {
            "transient": lambda: faults.append(TransientError("503")),
            "rate_limited": lambda: faults.append(RateLimitedError("429", retry_after=60)),
            "permanent": lambda: faults.append(PermanentError("refused")),
            "uncertain": lambda: faults.append(Dropped("41")),
        },
        follow_up="reply",
    )


@pytest.fixture(params=["x", "facebook", "instagram", "email", "stub"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    if request.param == "stub":
        yield _stub()
    elif request.param == "x":
        with FakeX() as x:
            yield _x(x)
    elif request.param == "email":
        with FakeSMTP(starttls=True, user="u", password="pass-1234") as smtp:
            yield _email(smtp)
    else:
        with FakeGraph() as graph:
            yield (_facebook if request.param == "facebook" else _instagram)(graph)


def delivery(
    text: str, tmp_path: Path, follow_up: str | None = None, photo: bool = True
) -> Outgoing:
    parts = [Part("post", text, [])]
    if follow_up == "reply":
        parts.append(Part("reply", "@TNPostalCircle @WBPostalCircle", []))
    if follow_up == "comment":
        parts.append(Part("comment", "@tnpostalcircle @wbpostalcircle", []))
    media = []
    if photo:
        path = tmp_path / "stamp.jpg"
        path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(32))
        media.append(Media(path, "मोर का डाक टिकट", "haryana/archive/stamp.jpg"))
    return Outgoing(1, f"key-{text}", "acct", "p", "hi", parts, [], media)


def test_publish_puts_exactly_one_post_with_the_exact_text(
    harness: Harness, tmp_path: Path
) -> None:
    receipt = harness.make().publish(delivery("हरियाणा डाक: नया डाक टिकट", tmp_path))
    assert isinstance(receipt, Receipt)
    assert receipt.remote_id
    assert harness.posts() == 1
    assert any(t.startswith("हरियाणा डाक: नया डाक टिकट") for t in harness.texts())


def test_overflow_parts_follow_the_post(harness: Harness, tmp_path: Path) -> None:
    if harness.follow_up is None:
        pytest.skip("this platform takes every tag in the post itself")
    receipt = harness.make().publish(delivery("मुख्य पोस्ट", tmp_path, harness.follow_up))
    assert len(receipt.part_ids) == 1
    assert any(t.startswith(("@TNPostalCircle", "@tnpostalcircle")) for t in harness.texts())


def test_a_post_without_media_is_published_or_clearly_refused(
    harness: Harness, tmp_path: Path
) -> None:
    outgoing = delivery("केवल पाठ", tmp_path, photo=False)
    if harness.needs_photo:
        with pytest.raises(PermanentError, match="photo"):
            harness.make().publish(outgoing)
        assert harness.posts() == 0
    else:
        harness.make().publish(outgoing)
        assert harness.posts() == 1


@pytest.mark.parametrize("kind", list(ERRORS))
def test_each_error_class(harness: Harness, tmp_path: Path, kind: str) -> None:
    if kind == "auth":
        adapter = harness.make(broken_credentials=True)
    elif kind in harness.faults:
        harness.faults[kind]()
        adapter = harness.make()
    else:
        pytest.skip(f"the platform has no {kind} answer")
    with pytest.raises(ERRORS[kind]):
        adapter.publish(delivery("पोस्ट", tmp_path))


def test_reconcile_after_a_dropped_connection_finds_the_post(
    harness: Harness, tmp_path: Path
) -> None:
    harness.faults["uncertain"]()
    adapter = harness.make()
    progress: dict[str, str] = {}  # the checkpoints, as the ledger keeps them for a retry
    outgoing = replace(delivery("पहुँची या नहीं?", tmp_path), checkpoint=progress.__setitem__)
    with pytest.raises(UncertainError):
        adapter.publish(outgoing)
    posted = harness.posts()
    try:
        found = adapter.find_existing(replace(outgoing, progress=progress))
    except UncertainError:
        assert isinstance(adapter, EmailAdapter)  # a mail server cannot be asked: a person decides
        return
    assert (found is not None) == (posted == 1)
    assert harness.posts() == posted  # reconciling never posts
