"""The Facebook Page adapter over real HTTP against the fake Graph API: facebook-sdk on the wire,
a current Graph version pinned, every error code named in the issue classified."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from publisher.adapters.base import Media, Outgoing
from publisher.adapters.facebook import FacebookAdapter
from publisher.adapters.graph import GraphOptions
from publisher.config.organisation import Account
from publisher.errors import (
    AuthError,
    PermanentError,
    RateLimitedError,
    TransientError,
    UncertainError,
)
from publisher.vocabulary import Amplified, Part
from tests.fakes.graph_api import FakeGraph

PAGE, TOKEN = "100064556412347", "EAAB-haryana-page-token"
ACCOUNT = Account(
    platform="facebook", handle="HaryanaPostalCircle", locales=["hi"], platform_id=PAGE
)


def clock() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph() as server:
        server.add_page(PAGE, "Haryana Postal Circle", TOKEN)
        yield server


def adapter(fake: FakeGraph, timeout: float = 5, token: str = TOKEN) -> FacebookAdapter:
    options = GraphOptions(api_base_url=fake.url, timeout_seconds=timeout, graph_version="v21.0")
    return FacebookAdapter(ACCOUNT, {"page_access_token": token}, options, clock)


def delivery(text: str, media: list[Media] | None = None) -> Outgoing:
    return Outgoing(1, "k", f"facebook:{ACCOUNT.handle}", "facebook", "hi",
                    [Part("post", text, [])], [], media or [])  # fmt: skip


def test_text_post_goes_to_the_feed_on_the_pinned_version(fake: FakeGraph) -> None:
    receipt = adapter(fake).publish(delivery("हरियाणा डाक: नए डाक टिकट @PostOffice.IN"))
    [sent] = fake.requests
    assert (sent.method, sent.version, sent.path) == ("POST", "v21.0", f"/{PAGE}/feed")
    assert sent.form["message"] == "हरियाणा डाक: नए डाक टिकट @PostOffice.IN"
    assert receipt.remote_id in fake.posts
    assert receipt.url == f"https://www.facebook.com/{receipt.remote_id}"


def test_another_pinned_version_reaches_the_url(fake: FakeGraph) -> None:
    options = GraphOptions(api_base_url=fake.url, graph_version="v23.0")
    FacebookAdapter(ACCOUNT, {"page_access_token": TOKEN}, options, clock).publish(delivery("x"))
    assert fake.requests[0].version == "v23.0"


def test_several_photos_make_one_post_with_alt_text(fake: FakeGraph, tmp_path: Path) -> None:
    media = []
    for n in (1, 2):
        photo = tmp_path / f"stamp{n}.png"
        photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes([n]) * 50)
        media.append(Media(photo, f"डाक टिकट {n}"))
    receipt = adapter(fake).publish(delivery("दो नए टिकट", media))
    photos = list(fake.photos.values())
    assert [p.published for p in photos] == [False, False]
    assert [p.alt_text for p in photos] == ["डाक टिकट 1", "डाक टिकट 2"]
    post_request = fake.requests[-1]
    assert json.loads(post_request.form["attached_media[1]"]) == {"media_fbid": photos[1].id}
    assert fake.posts[str(receipt.remote_id)].attached_media == [p.id for p in photos]
    assert fake.count_published(PAGE) == 1


@pytest.mark.parametrize("code", [1, 2])
def test_transient_codes(fake: FakeGraph, code: int) -> None:
    fake.fail_next(code)
    with pytest.raises(TransientError, match=f"Graph API error {code}"):
        adapter(fake).publish(delivery("x"))


def test_is_transient_flag_is_transient(fake: FakeGraph) -> None:
    fake.fail_next(9999, transient=True, status=500)
    with pytest.raises(TransientError):
        adapter(fake).publish(delivery("x"))


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001])
def test_rate_limit_codes_wait_as_long_as_graph_says(fake: FakeGraph, code: int) -> None:
    fake.fail_next(code, minutes=7)
    with pytest.raises(RateLimitedError) as err:
        adapter(fake).publish(delivery("x"))
    assert err.value.retry_after == 7 * 60


@pytest.mark.parametrize("code", [190, 10, 200, 299])
def test_auth_and_permission_codes(fake: FakeGraph, code: int) -> None:
    fake.fail_next(code)
    with pytest.raises(AuthError):
        adapter(fake).publish(delivery("x"))


def test_blocked_content_is_permanent(fake: FakeGraph) -> None:
    fake.fail_next(368)
    with pytest.raises(PermanentError, match="368"):
        adapter(fake).publish(delivery("x"))


def test_duplicate_is_reconciled_not_retried(fake: FakeGraph) -> None:
    facebook = adapter(fake)
    first = facebook.publish(delivery("एक ही पोस्ट"))
    fake.fail_next(506)
    again = facebook.publish(delivery("एक ही पोस्ट"))
    assert again.remote_id == first.remote_id
    assert fake.count_published(PAGE) == 1


def test_dropped_connection_after_storing_is_uncertain_then_found(fake: FakeGraph) -> None:
    facebook = adapter(fake)
    fake.fail_next("drop_after_store", path_contains="/feed")
    with pytest.raises(UncertainError):
        facebook.publish(delivery("पोस्ट जो पहुँच गई"))
    found = facebook.find_existing(delivery("पोस्ट जो पहुँच गई"))
    assert found is not None and found.remote_id in fake.posts
    assert fake.count_published(PAGE) == 1


def test_reconcile_finds_a_post_more_than_a_page_of_posts_back(fake: FakeGraph) -> None:
    """A burst: the post whose answer was lost is followed by 150 more (Graph lists 100 a page)
    before it is looked for."""
    facebook = adapter(fake)
    fake.fail_next("drop_after_store", path_contains="/feed")
    with pytest.raises(UncertainError):
        facebook.publish(delivery("पोस्ट जो पहुँच गई"))
    [lost] = fake.posts
    for n in range(150):
        facebook.publish(delivery(f"सूचना {n}"))
    found = facebook.find_existing(delivery("पोस्ट जो पहुँच गई"))
    assert found is not None and found.remote_id == lost
    assert fake.count_published(PAGE) == 151


def test_reconcile_looks_only_after_the_delivery_was_due(fake: FakeGraph) -> None:
    facebook = adapter(fake)
    facebook.publish(delivery("हर हफ़्ते की सूचना"))
    due_later = replace(delivery("हर हफ़्ते की सूचना"), not_before=clock() + timedelta(hours=1))
    assert facebook.find_existing(due_later) is None
    assert facebook.find_existing(delivery("हर हफ़्ते की सूचना")) is not None


def test_expired_token(fake: FakeGraph) -> None:
    fake.expire_token(TOKEN)
    with pytest.raises(AuthError, match="190"):
        adapter(fake).publish(delivery("x"))
    assert not adapter(fake).check().valid


def test_metrics(fake: FakeGraph) -> None:
    facebook = adapter(fake)
    receipt = facebook.publish(delivery("x"))
    fake.set_metrics(str(receipt.remote_id), shares=4, reactions=31, comments=6)
    got = facebook.metrics([receipt])[str(receipt.remote_id)]
    assert (got.likes, got.shares, got.comments) == (31, 4, 6)


def test_check_lists_missing_permissions(fake: FakeGraph) -> None:
    fake.add_page("200", "Other", "EAAB-read-only", scopes=("pages_read_engagement",))
    account = Account(platform="facebook", handle="Other", locales=["en"], platform_id="200")
    options = GraphOptions(api_base_url=fake.url)
    check = FacebookAdapter(
        account, {"page_access_token": "EAAB-read-only"}, options, clock
    ).check()
    assert not check.valid
    assert check.missing_permissions == ["pages_manage_posts"]
    assert adapter(fake).check().valid


def test_an_html_error_page_is_classified_by_its_http_status(fake: FakeGraph) -> None:
    fake.fail_next("html", status=502)
    with pytest.raises(TransientError, match="HTTP 502"):
        adapter(fake).publish(delivery("x"))
    fake.fail_next("html", status=403)
    with pytest.raises(PermanentError, match="HTTP 403"):
        adapter(fake).publish(delivery("x"))


SOURCE = "https://www.facebook.com/100064556412345_122100000000000009"


def share(url: str | None, remote_id: str | None = None) -> Outgoing:
    source = Amplified("facebook:PostOffice.IN", remote_id, url)
    return Outgoing(2, "p|facebook:HaryanaPostalCircle|share", f"facebook:{ACCOUNT.handle}",
                    "facebook", "en", [], [], [], kind="share", source=source)  # fmt: skip


def test_a_share_is_a_feed_post_linking_to_the_source(fake: FakeGraph) -> None:
    receipt = adapter(fake).deliver(share(SOURCE))
    [sent] = fake.requests
    assert (sent.method, sent.path, sent.form) == ("POST", f"/{PAGE}/feed", {"link": SOURCE})
    post = fake.posts[str(receipt.remote_id)]
    assert (post.page_id, post.link, post.message) == (PAGE, SOURCE, None)
    assert receipt.url == f"https://www.facebook.com/{receipt.remote_id}"


def test_a_source_known_only_by_its_id_is_shared_by_its_address(fake: FakeGraph) -> None:
    adapter(fake).deliver(share(None, "100064556412345_1220"))
    [post] = fake.posts.values()
    assert post.link == "https://www.facebook.com/100064556412345_1220"


def test_a_share_facebook_calls_a_duplicate_waits_for_a_person(fake: FakeGraph) -> None:
    fake.fail_next(506, path_contains="/feed")
    x = adapter(fake)
    with pytest.raises(UncertainError, match="already shared"):
        x.deliver(share(SOURCE))
    with pytest.raises(UncertainError, match="cannot tell"):
        x.find_delivered(share(SOURCE))  # Graph does not list what a Page has shared


def test_a_page_cannot_retweet(fake: FakeGraph) -> None:
    wrong = Outgoing(**{**share(SOURCE).__dict__, "kind": "retweet"})
    with pytest.raises(PermanentError, match="cannot retweet"):
        adapter(fake).deliver(wrong)
    assert fake.requests == []
