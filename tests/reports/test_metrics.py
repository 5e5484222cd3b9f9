"""KPIs collected over real HTTP from the fake X and Graph servers into snapshots over time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from publisher.reports.metrics import Collection, collect
from publisher.service.engine import Engine
from publisher.store.models import Delivery, MetricSnapshot
from tests.support.clock import FakeClock
from tests.support.files import Drop
from tests.support.live import Live, live
from tests.support.processes import publisher, running, wait_for_line

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
POST = """\
platforms = {platforms}
locales = ["hi"]

[text]
hi = "हरियाणा डाक परिमंडल: नए डाक टिकट उपलब्ध हैं। {n}"
{media}"""


def post(n: int, platforms: str = '["x", "facebook"]', photo: str | None = None) -> str:
    media = f'[[media]]\nfile = "{photo}"\nalt = {{ hi = "डाक टिकट" }}\n' if photo else ""
    return POST.format(platforms=platforms, n=n, media=media)


@pytest.fixture
def harness(config_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    with live(config_path, clock, monkeypatch) as running:
        yield running


def snapshots(h: Live) -> dict[str, list[MetricSnapshot]]:
    """Snapshots by delivery account, oldest first."""
    with h.engine.ledger() as session:
        rows = session.execute(
            select(Delivery.account, MetricSnapshot)
            .join(Delivery, Delivery.id == MetricSnapshot.delivery_id)
            .order_by(MetricSnapshot.taken_at, MetricSnapshot.id)
        ).all()
    out: dict[str, list[MetricSnapshot]] = {}
    for account, snapshot in rows:
        out.setdefault(account, []).append(snapshot)
    return out


def sent(h: Live) -> dict[str, Delivery]:
    with h.engine.ledger() as session:
        rows = session.scalars(select(Delivery).where(Delivery.status == "sent")).all()
    return {d.account: d for d in rows}


def run_collection(h: Live, clock: FakeClock) -> Collection:
    adapters = h.engine.dispatcher.adapters
    return collect(h.engine.ledger, adapters.get, h.settings.metrics, clock)


def test_two_collections_store_two_growing_snapshots_per_post(
    harness: Live, drop: Drop, clock: FakeClock
) -> None:
    drop("haryana", "stamps.toml", post(1))
    drop("haryana", "cover.png", PNG)
    drop("haryana", "cover.toml", post(2, '["instagram"]', photo="cover.png"))
    harness.engine.tick()
    delivered = sent(harness)
    assert set(delivered) == {"x:HaryanaPostal", "facebook:HaryanaPostalCircle",
                              "instagram:haryanapostalcircle"}  # fmt: skip
    tweet = delivered["x:HaryanaPostal"].remote_id
    page_post = delivered["facebook:HaryanaPostalCircle"].remote_id
    media = delivered["instagram:haryanapostalcircle"].remote_id
    assert tweet and page_post and media
    harness.x.set_metrics(tweet, like_count=5, retweet_count=2, quote_count=1, reply_count=3,
                          impression_count=120)  # fmt: skip
    harness.graph.set_metrics(page_post, reactions=7, shares=2, comments=1)
    harness.graph.set_metrics(media, like_count=11, comments_count=4, views=250)

    clock.advance(hours=1)
    first = run_collection(harness, clock)
    clock.advance(hours=1)
    harness.x.set_metrics(tweet, like_count=9, impression_count=300)
    harness.graph.set_metrics(page_post, reactions=10)
    harness.graph.set_metrics(media, like_count=15)
    second = run_collection(harness, clock)

    assert (first.snapshots, second.snapshots, first.failed) == (3, 3, {})
    taken = snapshots(harness)
    x1, x2 = taken["x:HaryanaPostal"]
    assert (x1.likes, x1.shares, x1.comments, x1.views) == (5, 3, 3, 120)
    assert (x2.likes, x2.views) == (9, 300)
    assert (x1.taken_at, x2.taken_at) == (clock() - timedelta(hours=1), clock())
    f1, f2 = taken["facebook:HaryanaPostalCircle"]
    assert (f1.likes, f1.shares, f1.comments, f2.likes) == (7, 2, 1, 10)
    i1, i2 = taken["instagram:haryanapostalcircle"]
    assert (i1.likes, i1.comments, i1.views, i2.likes) == (11, 4, 250, 15)


def test_instagram_without_the_insights_permission_still_gets_likes(
    harness: Live, drop: Drop, clock: FakeClock
) -> None:
    drop("haryana", "cover.png", PNG)
    drop("haryana", "cover.toml", post(2, '["instagram"]', photo="cover.png"))
    harness.engine.tick()
    media = sent(harness)["instagram:haryanapostalcircle"].remote_id
    assert media is not None
    harness.graph.set_metrics(media, like_count=3, views=40)
    [token] = [t for t, ids in harness.graph.tokens.items() if "17841400000000003" in ids]
    harness.graph.scopes[token].remove("instagram_manage_insights")
    done = run_collection(harness, clock)
    assert done.failed == {}
    [snapshot] = snapshots(harness)["instagram:haryanapostalcircle"]
    assert (snapshot.likes, snapshot.views) == (3, None)


def test_posts_older_than_the_window_are_no_longer_asked_about(
    harness: Live, drop: Drop, clock: FakeClock
) -> None:
    drop("haryana", "stamps.toml", post(1, '["x"]'))
    harness.engine.tick()
    clock.advance(days=harness.settings.metrics.window_days, minutes=1)
    lookups_before = sum(r.path == "/2/tweets" and r.method == "GET" for r in harness.x.requests)
    done = run_collection(harness, clock)
    lookups = sum(r.path == "/2/tweets" and r.method == "GET" for r in harness.x.requests)
    assert (done.snapshots, lookups - lookups_before) == (0, 0)


def test_150_x_posts_are_looked_up_in_two_batches(
    config_path: Path, drop: Drop, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = 'quotas = [{ per = "account", posts = 200, minutes = 1440 }]'  # above X's default 100
    with live(config_path, clock, monkeypatch, x_options=room) as harness:
        for n in range(150):
            drop("haryana", f"p{n:03}.toml", post(n, '["x"]'))
        harness.engine.tick()  # at most a batch of 100 a pass
        harness.engine.tick()
        assert harness.x.count_posts() == 150
        done = run_collection(harness, clock)
        lookups = [r for r in harness.x.requests if r.path == "/2/tweets" and r.method == "GET"]
        assert [len(r.query["ids"].split(",")) for r in lookups] == [100, 50]
        assert done.snapshots == 150


def test_a_failing_platform_does_not_stop_the_others_and_is_asked_again(
    harness: Live, drop: Drop, clock: FakeClock
) -> None:
    drop("haryana", "stamps.toml", post(1))
    harness.engine.tick()
    harness.graph.fail_next(2, path_contains="/")  # Graph is down for the next call
    first = run_collection(harness, clock)
    assert list(first.failed) == ["facebook:HaryanaPostalCircle"]
    assert set(snapshots(harness)) == {"x:HaryanaPostal"}
    clock.advance(hours=1)
    second = run_collection(harness, clock)
    assert second.failed == {}
    assert {k: len(v) for k, v in snapshots(harness).items()} == {
        "x:HaryanaPostal": 2,
        "facebook:HaryanaPostalCircle": 1,
    }


def test_the_daemon_collects_metrics_on_its_interval(config_path: Path) -> None:
    """A collection at start, then every [metrics] interval_minutes (here one minute)."""
    text = config_path.read_text(encoding="utf-8").replace(
        "interval_minutes = 60 ", "interval_minutes = 1 "
    )
    config_path.write_text(text, encoding="utf-8")
    with running(config_path) as daemon:
        wait_for_line(daemon, "metrics collected: 0 snapshots of 0 deliveries")
        assert daemon.poll() is None


def test_metrics_collect_by_hand_names_accounts_it_cannot_measure(
    config_path: Path, engine: Engine, drop: Drop
) -> None:
    """Only accounts with posts to measure need a credential; here one is missing."""
    drop("haryana", "p.toml", post(1, '["x"]'))
    engine.intake.scan()
    with engine.ledger.begin() as session:  # as if it had been sent for real
        session.execute(
            update(Delivery).values(status="sent", remote_id="1", finished_at=engine.clock())
        )
    run = publisher("metrics", "collect", config=config_path)
    assert run.returncode == 1
    assert "x:HaryanaPostal is not measured: credential 'x-haryana' is not set" in run.stderr
    assert "metrics collected: 0 snapshots of 0 deliveries" in run.stdout
    assert "x:IndiaPostOffice" not in run.stderr  # nothing of its to measure
