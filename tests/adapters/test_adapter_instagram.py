"""The Instagram adapter over real HTTP against the fake Graph API: container, status polling,
media_publish, carousel, first comment, quota, and resuming a container after a crash."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from publisher.adapters.base import Media, Outgoing
from publisher.adapters.instagram import InstagramAdapter, InstagramOptions
from publisher.config.organisation import Account
from publisher.errors import PermanentError, RateLimitedError, TransientError, UncertainError
from publisher.vocabulary import Part
from tests.fakes.graph_api import FakeGraph

IG, TOKEN = "17841400000000002", "EAAB-haryana-ig-token"
ACCOUNT = Account(
    platform="instagram", handle="haryanapostalcircle", locales=["hi"], platform_id=IG
)
BASE = "https://media.indiapost.example/queue"


def clock() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph() as server:
        server.add_instagram(IG, "haryanapostalcircle", TOKEN)
        yield server


def adapter(fake: FakeGraph, media_base_url: str | None = BASE) -> InstagramAdapter:
    options = InstagramOptions(
        api_base_url=fake.url, media_base_url=media_base_url, container_poll_seconds=0
    )
    return InstagramAdapter(ACCOUNT, {"access_token": TOKEN}, options, clock)


def photos(tmp_path: Path, n: int) -> list[Media]:
    out = []
    for i in range(n):
        path = tmp_path / f"photo{i}.jpg"
        path.write_bytes(b"\xff\xd8\xff" + bytes([i]) * 10)
        out.append(Media(path, f"तस्वीर {i}", f"haryana/archive/2026-11-23_stamps/photo{i}.jpg"))
    return out


class Checkpoints(dict[str, str]):
    def record(self, key: str, value: str) -> None:
        self[key] = value


def delivery(
    parts: list[Part], media: list[Media], progress: Checkpoints | None = None
) -> Outgoing:
    progress = Checkpoints() if progress is None else progress
    return Outgoing(1, "k", f"instagram:{ACCOUNT.handle}", "instagram", "hi", parts, [], media,
                    progress=progress, checkpoint=progress.record)  # fmt: skip


def test_photo_post_goes_through_container_polling_and_publish(
    fake: FakeGraph, tmp_path: Path
) -> None:
    checkpoints = Checkpoints()
    receipt = adapter(fake).publish(
        delivery(
            [Part("post", "नया डाक टिकट @indiapost.official", [])], photos(tmp_path, 1), checkpoints
        )
    )
    [container] = fake.ig_containers.values()
    assert container.media_url == f"{BASE}/haryana/archive/2026-11-23_stamps/photo0.jpg"
    assert container.caption == "नया डाक टिकट @indiapost.official"
    assert container.alt_text == "तस्वीर 0"
    assert checkpoints == {"container": container.id, "media": receipt.remote_id}
    assert receipt.remote_id in fake.ig_media
    polls = [r for r in fake.requests if r.path == f"/{container.id}"]
    assert len(polls) >= 2  # IN_PROGRESS, then FINISHED


def test_several_photos_make_a_carousel(fake: FakeGraph, tmp_path: Path) -> None:
    receipt = adapter(fake).publish(delivery([Part("post", "तीन टिकट", [])], photos(tmp_path, 3)))
    media = fake.ig_media[str(receipt.remote_id)]
    assert media.media_type == "CAROUSEL_ALBUM"
    assert len(media.children) == 3


def test_overflow_tags_go_into_the_first_comment(fake: FakeGraph, tmp_path: Path) -> None:
    parts = [Part("post", "टिकट", ["a"]), Part("comment", "@circle17post @circle18post", ["b"])]
    receipt = adapter(fake).publish(delivery(parts, photos(tmp_path, 1)))
    [comment] = fake.comments.values()
    assert comment.message == "@circle17post @circle18post"
    assert receipt.part_ids == [comment.id]


def test_refuses_without_a_public_media_address(fake: FakeGraph, tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="media_base_url"):
        adapter(fake, media_base_url=None).publish(
            delivery([Part("post", "x", [])], photos(tmp_path, 1))
        )
    assert fake.requests == []


def test_refuses_a_post_without_a_photo(fake: FakeGraph) -> None:
    with pytest.raises(PermanentError, match="needs at least one photo"):
        adapter(fake).publish(delivery([Part("post", "x", [])], []))


def test_container_that_fails_processing_is_permanent(fake: FakeGraph, tmp_path: Path) -> None:
    fake.fail_containers(1, status="ERROR")
    with pytest.raises(PermanentError, match="ERROR"):
        adapter(fake).publish(delivery([Part("post", "x", [])], photos(tmp_path, 1)))


def test_spent_publishing_quota_is_a_rate_limit(fake: FakeGraph, tmp_path: Path) -> None:
    fake.ig_quota_total = 1
    instagram = adapter(fake)
    instagram.publish(delivery([Part("post", "one", [])], photos(tmp_path, 1)))
    with pytest.raises(RateLimitedError, match="used its 1 posts"):
        instagram.publish(delivery([Part("post", "two", [])], photos(tmp_path, 1)))


def test_crash_after_the_container_resumes_it_instead_of_posting_twice(
    fake: FakeGraph, tmp_path: Path
) -> None:
    checkpoints = Checkpoints()
    media = photos(tmp_path, 1)
    fake.fail_next("drop_after_store", path_contains="media_publish")
    with pytest.raises(UncertainError):
        adapter(fake).publish(delivery([Part("post", "एक बार", [])], media, checkpoints))
    assert fake.count_published(IG) == 1  # it did go out
    receipt = adapter(fake).publish(delivery([Part("post", "एक बार", [])], media, checkpoints))
    assert fake.count_published(IG) == 1  # and the retry found it
    assert receipt.remote_id in fake.ig_media
    assert len(fake.ig_containers) == 1


def test_a_finished_container_left_by_a_crash_is_published_not_remade(
    fake: FakeGraph, tmp_path: Path
) -> None:
    checkpoints = Checkpoints()
    media = photos(tmp_path, 1)
    fake.fail_next(2, path_contains="media_publish")
    with pytest.raises(Exception, match="Graph API error 2"):
        adapter(fake).publish(delivery([Part("post", "फिर से", [])], media, checkpoints))
    adapter(fake).publish(delivery([Part("post", "फिर से", [])], media, checkpoints))
    assert len(fake.ig_containers) == 1
    assert fake.count_published(IG) == 1


def test_reconcile_finds_a_post_more_than_a_page_of_media_back(
    fake: FakeGraph, tmp_path: Path
) -> None:
    """A busy account: the post whose answer was lost is followed by 60 more (the adapter asks
    for 50 a page) before it is looked for."""
    fake.ig_quota_total, fake.container_polls = 100, 0
    instagram, media = adapter(fake), photos(tmp_path, 1)
    fake.fail_next("drop_after_store", path_contains="media_publish")
    with pytest.raises(UncertainError):
        instagram.publish(delivery([Part("post", "पोस्ट जो पहुँच गई", [])], media))
    [lost] = fake.ig_media
    for n in range(60):
        instagram.publish(delivery([Part("post", f"सूचना {n}", [])], media))
    found = instagram.find_existing(delivery([Part("post", "पोस्ट जो पहुँच गई", [])], media))
    assert found is not None and found.remote_id == lost
    assert fake.count_published(IG) == 61


def test_metrics_and_check(fake: FakeGraph, tmp_path: Path) -> None:
    instagram = adapter(fake)
    receipt = instagram.publish(delivery([Part("post", "x", [])], photos(tmp_path, 1)))
    fake.set_metrics(str(receipt.remote_id), like_count=40, comments_count=3)
    got = instagram.metrics([receipt])[str(receipt.remote_id)]
    assert (got.likes, got.comments) == (40, 3)
    assert instagram.check().valid


def test_a_comment_that_failed_is_resumed_without_publishing_again(
    fake: FakeGraph, tmp_path: Path
) -> None:
    checkpoints = Checkpoints()
    parts = [Part("post", "टिकट", []), Part("comment", "@circle17post", [])]
    media = photos(tmp_path, 1)
    fake.fail_next(2, path_contains="comments")
    with pytest.raises(TransientError):
        adapter(fake).publish(delivery(parts, media, checkpoints))
    receipt = adapter(fake).publish(delivery(parts, media, checkpoints))
    assert fake.count_published(IG) == 1
    [comment] = fake.comments.values()
    assert receipt.part_ids == [comment.id]


def test_a_published_container_whose_post_cannot_be_found_is_uncertain(
    fake: FakeGraph, tmp_path: Path
) -> None:
    """Never a second container once one is published: a person decides."""
    checkpoints = Checkpoints()
    media = photos(tmp_path, 1)
    adapter(fake).publish(delivery([Part("post", "पहला", [])], media, checkpoints))
    del checkpoints["media"]  # as if the crash came right after media_publish
    with pytest.raises(UncertainError, match="published, but its post was not found"):
        adapter(fake).publish(delivery([Part("post", "दूसरा पाठ", [])], media, checkpoints))
    assert len(fake.ig_containers) == 1
