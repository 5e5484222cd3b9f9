"""Amplification end to end: the engine publishes a directorate post for real (X and Facebook
over HTTP against the fakes), and every circle's account retweets or shares it, once, whatever
crashes and restarts happen on the way."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from publisher.config.settings import load_settings
from publisher.service.engine import Engine
from publisher.store.models import Attempt, Delivery
from publisher.vocabulary import DeliveryStatus
from tests.fakes.graph_api import FakeGraph
from tests.fakes.x_api import FakeX
from tests.support.clock import FakeClock
from tests.support.files import Drop
from tests.support.processes import publisher

APP = ("ip-app-key", "ip-app-secret")
# X user ids by handle: an account's user id is read off its access token ("<id>-...").
X_USERS = {
    "IndiaPostOffice": "2001",
    "TNPostalCircle": "2002",
    "HaryanaPostal": "2003",
    "WBPostalCircle": "2004",
    "MahaPostalCircle": "2005",
}
CIRCLES_ON_X = {"2002", "2003", "2004", "2005"}
EVERY_CIRCLE_RETWEETS = """
[[amplify]]
sources = ["directorate"]
targets = ["all"]
platforms = ["x", "facebook"]
"""
DIRECTORATE_POST = """\
platforms = [{platforms}]
locales = [{locales}]
[text]
en = "India Post: Speed Post now delivers on Sundays in 100 cities."
hi = "भारतीय डाक: स्पीड पोस्ट अब 100 शहरों में रविवार को भी।"
"""


@pytest.fixture
def fakes(clock: FakeClock) -> Iterator[tuple[FakeX, FakeGraph]]:
    with FakeX(clock) as x, FakeGraph(clock) as graph:
        yield x, graph


def publishing(
    config_path: Path,
    clock: FakeClock,
    x: FakeX,
    graph: FakeGraph,
    rules: str = EVERY_CIRCLE_RETWEETS,
    *,
    known: set[str] | None = None,
) -> Engine:
    """An engine that really publishes, to the fakes (see ``configure``)."""
    configure(config_path, x, graph, rules, known=known)
    return Engine(load_settings(config_path), dry_run=False, clock=clock).start()


def configure(
    config_path: Path,
    x: FakeX,
    graph: FakeGraph,
    rules: str = EVERY_CIRCLE_RETWEETS,
    *,
    known: set[str] | None = None,
    lease_seconds: float = 300,
) -> None:
    """The example config with ``rules``, sending to the fakes, with a credential for every
    account; the fakes know the accounts in ``known`` (default: all of them)."""
    settings = load_settings(config_path)
    secrets = []
    for _, account in settings.accounts():
        if account.platform == "x":
            user = X_USERS[account.handle]
            token = (f"{user}-token", f"{user}-secret")
            if known is None or account.handle in known:
                x.add_user(user, account.handle, *APP, *token)
            fields = dict(zip(("consumer_key", "consumer_secret"), APP, strict=True))
            fields |= {"access_token": token[0], "access_token_secret": token[1]}
        elif account.platform == "facebook":
            token_value = f"page-token-{account.platform_id}"
            if known is None or account.handle in known:
                graph.add_page(str(account.platform_id), account.handle, token_value)
            fields = {"page_access_token": token_value}
        else:  # not amplified here, but the engine builds every account's adapter
            fields = {"access_token": f"token-{account.handle}"}
        secrets.append(
            f"[{account.credential}]\n" + "".join(f'{k} = "{v}"\n' for k, v in fields.items())
        )
    secrets_file = config_path.parent / "secrets.toml"
    secrets_file.write_text("\n".join(secrets), encoding="utf-8")
    secrets_file.chmod(0o600)
    text = config_path.read_text(encoding="utf-8")
    if "[credentials]" not in text:
        text += (
            f'\n[credentials]\nfile = "{secrets_file}"\n'
            f'[platforms.x]\napi_base_url = "{x.url}"\ntimeout_seconds = 5\n'
            f'[platforms.facebook]\napi_base_url = "{graph.url}"\ntimeout_seconds = 5\n' + rules
        )
        text = text.replace("lease_seconds = 60 ", f"lease_seconds = {lease_seconds}")
        config_path.write_text(text, encoding="utf-8")


def rows(engine: Engine, kind: str | None = None) -> list[Delivery]:
    with engine.ledger() as session:
        query = select(Delivery).order_by(Delivery.id)
        if kind:
            query = query.where(Delivery.kind == kind)
        return list(session.scalars(query))


def retweet_calls(x: FakeX) -> int:
    return sum(r.method == "POST" and r.path.endswith("/retweets") for r in x.requests)


@pytest.mark.both_stores
def test_a_directorate_post_on_x_is_retweeted_once_by_every_circle(
    config_path: Path, clock: FakeClock, drop: Drop, fakes: tuple[FakeX, FakeGraph]
) -> None:
    x, graph = fakes
    engine = publishing(config_path, clock, x, graph)
    drop(
        "directorate",
        "sundays.toml",
        DIRECTORATE_POST.format(platforms='"x"', locales='"en", "hi"'),
    )
    engine.tick()

    english, hindi = rows(engine, "post")
    assert (english.status, hindi.status) == (DeliveryStatus.SENT, DeliveryStatus.SENT)
    assert len(x.tweets) == 2  # the directorate's two languages
    assert sorted(user for user, _ in x.retweets) == sorted(CIRCLES_ON_X)
    assert {tweet for _, tweet in x.retweets} == {english.remote_id}  # one version: the first sent
    assert retweet_calls(x) == 4
    retweets = rows(engine, "retweet")
    assert {d.account for d in retweets} == {
        "x:TNPostalCircle",
        "x:HaryanaPostal",
        "x:WBPostalCircle",
        "x:MahaPostalCircle",
    }
    for d in retweets:
        assert (d.status, d.source_delivery_id, d.remote_id) == (
            "sent",
            english.id,
            english.remote_id,
        )
        assert d.counts_for_freshness is False  # the rule did not say so
        assert d.post_id == english.post_id  # shown on the directorate post's receipt

    clock.advance(hours=1)
    engine.tick()
    publishing(config_path, clock, x, graph).tick()  # a restart: the ledger is all there is
    assert retweet_calls(x) == 4
    assert len(rows(engine, "retweet")) == 4
    receipt = next(
        (config_path.parent / "var" / "queue" / "directorate" / "archive").rglob("*.receipt.txt")
    )
    assert "x:TNPostalCircle" in receipt.read_text(encoding="utf-8")
    assert "sent (retweet)" in receipt.read_text(encoding="utf-8")


def test_a_post_whose_answer_was_lost_is_amplified_once_found_after_a_restart(
    config_path: Path, clock: FakeClock, drop: Drop, fakes: tuple[FakeX, FakeGraph]
) -> None:
    x, graph = fakes
    engine = publishing(config_path, clock, x, graph)
    x.fail_next("drop_after_store", path_prefix="/2/tweets", method="POST")
    drop("directorate", "sundays.toml", DIRECTORATE_POST.format(platforms='"x"', locales='"en"'))
    engine.tick()
    [source] = rows(engine, "post")
    assert source.status == DeliveryStatus.SENDING  # X has it, the engine cannot know yet
    assert x.retweets == []
    assert rows(engine, "retweet") == []

    clock.advance(minutes=6)  # the lease expires; the daemon was restarted meanwhile
    restarted = publishing(config_path, clock, x, graph)
    restarted.tick()
    [source] = rows(restarted, "post")
    assert (source.status, source.remote_id) == (DeliveryStatus.SENT, x.tweets[0].id)
    assert sorted(user for user, _ in x.retweets) == sorted(CIRCLES_ON_X)
    restarted.tick()
    assert retweet_calls(x) == 4
    assert len(x.tweets) == 1


@pytest.mark.both_stores
def test_separate_runs_after_a_lost_answer_retweet_once(config_path: Path, drop: Drop) -> None:
    """Real processes, one after another, as a daemon restarted after its call to X was cut:
    the first leaves the post uncertain, the second finds it on X and sets the retweets going,
    the third has nothing left to do."""
    with FakeX() as x, FakeGraph() as graph:
        configure(config_path, x, graph, lease_seconds=0.5)
        x.fail_next("drop_after_store", path_prefix="/2/tweets", method="POST")
        drop(
            "directorate", "sundays.toml", DIRECTORATE_POST.format(platforms='"x"', locales='"en"')
        )
        runs = [publisher("run", "--once", config=config_path)]
        assert x.retweets == []
        time.sleep(0.6)  # the first run's lease on the post runs out
        runs += [publisher("run", "--once", config=config_path) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0, 0], runs[-1].stderr
    assert "outcome uncertain" in runs[0].stderr
    assert "reconciled: found as" in runs[1].stderr
    assert len(x.tweets) == 1
    assert sorted(user for user, _ in x.retweets) == sorted(CIRCLES_ON_X)
    assert retweet_calls(x) == 4


def test_a_retweet_whose_answer_was_lost_is_found_among_the_retweeters(
    config_path: Path, clock: FakeClock, drop: Drop, fakes: tuple[FakeX, FakeGraph]
) -> None:
    x, graph = fakes
    engine = publishing(config_path, clock, x, graph)
    x.fail_next("drop_after_store", path_prefix="/2/users/", method="POST")
    drop("directorate", "sundays.toml", DIRECTORATE_POST.format(platforms='"x"', locales='"en"'))
    engine.tick()
    lost = [d for d in rows(engine, "retweet") if d.status == DeliveryStatus.SENDING]
    assert len(lost) == 1
    assert len(x.retweets) == 4  # X made all four

    clock.advance(minutes=6)
    engine.tick()
    assert {d.status for d in rows(engine, "retweet")} == {DeliveryStatus.SENT}
    assert retweet_calls(x) == 4  # the lost one was looked up, not made again
    with engine.ledger() as session:
        outcomes = session.scalars(
            select(Attempt.outcome).where(Attempt.delivery_id == lost[0].id).order_by(Attempt.id)
        ).all()
    assert outcomes == [None, "reconcile:sent"]


def test_facebook_pages_share_the_directorate_post_by_its_address(
    config_path: Path, clock: FakeClock, drop: Drop, fakes: tuple[FakeX, FakeGraph]
) -> None:
    x, graph = fakes
    engine = publishing(config_path, clock, x, graph)
    drop(
        "directorate",
        "sundays.toml",
        DIRECTORATE_POST.format(platforms='"facebook"', locales='"en"'),
    )
    engine.tick()
    [source] = rows(engine, "post")
    assert source.status == DeliveryStatus.SENT and source.remote_url
    shares = {p.page_id: p for p in graph.posts.values() if p.link}
    assert set(shares) == {
        "100064556412346",
        "100064556412347",
        "100064556412348",
        "100064556412349",
    }
    for post in shares.values():
        assert (post.link, post.message, post.is_published) == (source.remote_url, None, True)
    recorded = rows(engine, "share")
    assert sorted(d.remote_id for d in recorded) == sorted(p.id for p in shares.values())
    assert {d.status for d in recorded} == {DeliveryStatus.SENT}
    engine.tick()
    assert len(graph.posts) == 5  # the directorate's post and four shares, once


def test_a_source_post_that_failed_is_not_amplified(
    config_path: Path, clock: FakeClock, drop: Drop, fakes: tuple[FakeX, FakeGraph]
) -> None:
    x, graph = fakes
    circles = {"TNPostalCircle", "HaryanaPostal", "WBPostalCircle", "MahaPostalCircle"}
    engine = publishing(config_path, clock, x, graph, known=circles)  # X refuses the directorate
    drop("directorate", "sundays.toml", DIRECTORATE_POST.format(platforms='"x"', locales='"en"'))
    engine.tick()
    clock.advance(hours=1)
    engine.tick()
    [source] = rows(engine, "post")
    assert source.status == DeliveryStatus.FAILED
    assert rows(engine, "retweet") == []
    assert retweet_calls(x) == 0


def test_an_amplification_never_amplifies_a_circles_copy_or_itself(
    config_path: Path, clock: FakeClock, drop: Drop, fakes: tuple[FakeX, FakeGraph]
) -> None:
    """Circle to circle, and a directorate post published on every circle's own account too: the
    circles retweet the directorate's tweet, not each other's copies of it, and nobody retweets a
    retweet."""
    x, graph = fakes
    rules = '\n[[amplify]]\nsources = ["all"]\ntargets = ["all"]\nplatforms = ["x"]\n'
    engine = publishing(config_path, clock, x, graph, rules)
    post = DIRECTORATE_POST.format(platforms='"x"', locales='"en"').replace(
        "[text]", 'units = ["all"]\n[text]'
    )
    drop("directorate", "sundays.toml", post)
    engine.tick()
    engine.tick()
    directorate_tweet = next(t.id for t in x.tweets if t.author_id == "2001")
    assert len(x.tweets) == 5  # the directorate's and each circle's own copy
    assert sorted(x.retweets) == sorted((user, directorate_tweet) for user in CIRCLES_ON_X)
