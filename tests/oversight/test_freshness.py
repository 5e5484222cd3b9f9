"""The 7-day guarantee on the example organisation: warnings to the nodal officer over real SMTP,
evergreen posts at the deadline through plan and the ledger, alerts and the digest to the
directorate's cell, and the pools' checks."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from publisher.adapters.stub import StubAdapter
from publisher.cli import main
from publisher.config.credentials import Credentials
from publisher.config.platforms import PlatformOptions
from publisher.config.settings import Settings, load_settings
from publisher.dispatch.dispatcher import Dispatcher
from publisher.errors import AuthError
from publisher.intake.evergreen import PoolError, load_pools
from publisher.oversight.freshness import Freshness, mailer
from publisher.planning.render import Renderer
from publisher.service.engine import Engine
from publisher.store.db import make_engine, open_ledger, upgrade
from publisher.store.models import AccountActivity, Delivery, Post
from publisher.vocabulary import DeliveryStatus
from tests.fakes.smtp import FakeSMTP, ReceivedMessage
from tests.support.clock import FakeClock
from tests.support.files import REPO, Drop
from tests.support.processes import running, wait_for_line
from tests.support.stubs import HARYANA_X

TN_X = "x:TNPostalCircle"
OFFICER_TN = "bd.tn@indiapost.gov.in"
DIRECTORATE = "ddgmarketing@indiapost.gov.in"  # [freshness] alert_to


@pytest.fixture
def smtp() -> Iterator[FakeSMTP]:
    with FakeSMTP() as server:
        yield server


@pytest.fixture
def live(config_path: Path, smtp: FakeSMTP) -> Settings:
    """The example config, mailing through the fake server, with the repository's pools."""
    pools = config_path.parent / "evergreen"
    shutil.copytree(REPO / "schedules" / "evergreen", pools)
    text = config_path.read_text(encoding="utf-8")
    text = text.replace('evergreen = "schedules/evergreen"', 'evergreen = "evergreen"')
    text += (
        f'\n[platforms.email]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\n'
        'sender = "publisher@indiapost.gov.in"\n'
    )
    config_path.write_text(text, encoding="utf-8")
    return load_settings(config_path)


@dataclass
class World:
    engine: Engine
    freshness: Freshness
    dispatcher: Dispatcher
    platform: StubAdapter
    smtp: FakeSMTP
    paused: set[str] = field(default_factory=set)

    def mails(self, to: str | None = None) -> list[ReceivedMessage]:
        return [m for m in self.smtp.messages if to is None or m.rcpt_tos == [to]]

    def posts(self) -> list[Post]:
        with self.engine.ledger() as session:
            posts = session.scalars(select(Post).order_by(Post.id)).all()
            for post in posts:
                _ = post.deliveries
            return list(posts)


@pytest.fixture
def world(live: Settings, clock: FakeClock, smtp: FakeSMTP) -> World:
    engine = Engine(live, dry_run=True, clock=clock).start()
    renderer = Renderer.from_settings(live)
    paused: set[str] = set()
    freshness = Freshness(
        live,
        renderer,
        engine.ledger,
        clock,
        load_pools(live, renderer, clock()),
        mailer(live, Credentials(None), clock),
        dry_run=False,
        paused=paused.__contains__,
    )
    platform = StubAdapter(HARYANA_X, {}, PlatformOptions(), clock)  # takes every post
    dispatcher = Dispatcher(
        engine.ledger,
        {a.key: platform for _, a in live.accounts()},
        clock,
        live.dispatch,
        live.paths.queue,
    )
    return World(engine, freshness, dispatcher, platform, smtp, paused)


def test_a_silent_account_warns_its_nodal_officer_once_per_silence(
    world: World, clock: FakeClock, drop: Drop
) -> None:
    world.freshness.sweep()  # the engine starts counting
    clock.advance(days=5, minutes=-1)
    world.freshness.sweep()
    assert world.mails() == []
    clock.advance(minutes=1)
    world.freshness.sweep()
    warnings = world.mails(OFFICER_TN)
    assert len(warnings) == 3  # Tamil Nadu's X, Facebook and Instagram accounts
    [x] = [m for m in warnings if "@TNPostalCircle (x)" in m.message["Subject"]]
    body = x.message.get_body(("plain",)).get_content()
    assert "Dear K. Meenakshi" in body
    assert "published nothing for 5 days" in body
    assert '"tamil-nadu" folder' in body
    assert x.mail_from == "publisher@indiapost.gov.in"
    world.freshness.sweep()
    clock.advance(hours=6)
    world.freshness.sweep()
    assert len(world.mails(OFFICER_TN)) == 3  # once per silence, however many sweeps

    drop("tamil-nadu", "news.toml", 'platforms = ["x"]\n[text]\nta = "செய்தி"\nen = "News"\n')
    world.engine.intake.scan()
    world.dispatcher.run_due()
    clock.advance(days=5)
    world.freshness.sweep()
    again = [m["Subject"] for m in (r.message for r in world.mails(OFFICER_TN))]
    assert len(again) == 4  # a new silence of the X account: a new warning
    assert "@TNPostalCircle (x)" in again[-1]


def test_nothing_is_said_about_an_account_with_a_post_scheduled_before_its_deadline(
    world: World, clock: FakeClock, drop: Drop, live: Settings
) -> None:
    world.freshness.sweep()
    when = (clock() + timedelta(days=6)).astimezone(live.zone)
    drop(
        "haryana",
        "later.toml",
        f'platforms = ["x"]\npublish_at = "{when:%Y-%m-%d %H:%M}"\n[text]\nhi = "नमस्ते"\n',
    )
    world.engine.intake.scan()
    clock.advance(days=5, hours=1)
    world.freshness.sweep()
    subjects = [m.message["Subject"] for m in world.mails("marketing.hr@indiapost.gov.in")]
    assert not any("@HaryanaPostal (x)" in s for s in subjects)
    assert any("@HaryanaPostalCircle (facebook)" in s for s in subjects)


def test_at_the_deadline_an_evergreen_post_goes_once_in_the_accounts_languages_with_tags(
    world: World, clock: FakeClock
) -> None:
    world.freshness.sweep()
    clock.advance(days=7, hours=-2, minutes=-1)
    world.freshness.sweep()
    assert world.posts() == []
    clock.advance(minutes=1)  # two sweeps before the deadline
    result = world.freshness.sweep()
    world.freshness.sweep()
    posts = world.posts()
    # Every account but four Instagram ones: only Tamil Nadu's pool has an item with a photo.
    assert len(posts) == len(result.evergreen) == 11
    [tn] = [p for p in posts if p.deliveries[0].account == TN_X]
    assert tn.key.startswith(f"tamil-nadu/evergreen/{TN_X}/")
    assert tn.source_name == "post-box.toml"  # never used: the first by name
    assert {d.locale for d in tn.deliveries} == {"ta", "en"}
    [ta] = [d for d in tn.deliveries if d.locale == "ta"]
    assert ta.text.startswith("உங்கள் கடிதங்களுக்காக ஒவ்வொரு நாளும்")
    assert "@IndiaPostOffice" in ta.text  # the mandatory tag list, as on any post
    assert ta.not_before == clock() + timedelta(hours=1)  # one sweep before the deadline
    [photo] = ta.media
    assert photo["alt"] == "சிவப்பு நிற அஞ்சல் பெட்டி"
    copied = world.engine.settings.paths.queue / photo["path"]
    assert (
        copied.read_bytes() == (REPO / "schedules/evergreen/tamil-nadu/post-box.png").read_bytes()
    )
    [ig] = [p for p in posts if p.deliveries[0].account == "instagram:tnpostalcircle"]
    assert ig.source_name == "post-box.toml"

    clock.advance(hours=1)
    world.dispatcher.run_due()
    assert {d.account for d in world.platform.published} >= {TN_X}
    clock.advance(hours=2)
    assert world.freshness.sweep().evergreen == []
    assert len(world.posts()) == 11


def test_the_item_used_least_recently_goes_next(world: World, clock: FakeClock) -> None:
    world.freshness.sweep()
    chosen = []
    for _ in range(5):
        clock.advance(days=7, hours=-2)
        world.freshness.sweep()
        clock.advance(hours=1)
        world.dispatcher.run_due()
        chosen.append([p.source_name for p in world.posts() if p.deliveries[0].account == TN_X])
    assert chosen[-1] == [
        "post-box.toml",
        "savings-safe.toml",
        "speed-post.toml",
        "sukanya.toml",
        "post-box.toml",
    ]


def test_a_paused_account_gets_no_evergreen_post_and_the_directorate_is_alerted(
    world: World, clock: FakeClock
) -> None:
    world.paused.add(TN_X)
    world.freshness.sweep()
    clock.advance(days=7, hours=-2)
    world.freshness.sweep()
    assert not any(p.deliveries[0].account == TN_X for p in world.posts())
    subjects = [m.message["Subject"] for m in world.mails(DIRECTORATE)]
    assert "Freshness alert: @TNPostalCircle (x) is paused" in subjects
    officer = [m.message["Subject"] for m in world.mails(OFFICER_TN)]
    assert not any("@TNPostalCircle (x)" in s for s in officer)  # nothing an officer can do
    world.freshness.sweep()
    assert [m.message["Subject"] for m in world.mails(DIRECTORATE)].count(
        "Freshness alert: @TNPostalCircle (x) is paused"
    ) == 1

    world.paused.clear()  # resumed after its deadline: the evergreen post goes at once
    clock.advance(days=1)
    world.freshness.sweep()
    [tn] = [p for p in world.posts() if p.deliveries[0].account == TN_X]
    assert tn.not_before == clock()


def test_an_empty_pool_and_a_failing_platform_alert_the_directorate(
    world: World, clock: FakeClock, drop: Drop
) -> None:
    world.freshness.sweep()
    drop("tamil-nadu", "news.toml", 'platforms = ["x"]\n[text]\nta = "செய்தி"\nen = "News"\n')
    world.engine.intake.scan()
    world.platform.refuse = AuthError("401 Unauthorized: token expired; renew the credential")
    world.dispatcher.run_due()
    clock.advance(days=7, hours=-2)
    world.freshness.sweep()
    alerts = {m.message["Subject"]: m for m in world.mails(DIRECTORATE)}
    failing = alerts["Freshness alert: @TNPostalCircle (x) is failing on its platform"]
    body = failing.message.get_body(("plain",)).get_content()
    assert "401 Unauthorized: token expired" in body
    assert "K. Meenakshi" in body
    assert "Freshness alert: @haryanapostalcircle (instagram) has no evergreen item" in alerts
    # The platform may be back: the evergreen post is tried all the same.
    assert any(p.deliveries[0].account == TN_X for p in world.posts())


def test_the_directorate_gets_one_digest_a_day_of_the_accounts_at_risk(
    world: World, clock: FakeClock, live: Settings
) -> None:
    world.freshness.sweep()
    clock.advance(days=5)
    local = clock().astimezone(live.zone)
    clock.advance(hours=(9 - local.hour) % 24 + 24, minutes=-local.minute)  # 09:00 a day later
    world.freshness.sweep()
    world.freshness.sweep()
    digests = [m for m in world.mails(DIRECTORATE) if "digest" in m.message["Subject"]]
    assert len(digests) == 1
    body = digests[0].message.get_body(("plain",)).get_content()
    assert "- tamil-nadu: x:TNPostalCircle, silent 6." in body
    assert "nothing scheduled" in body
    assert body.count("\n- ") == 15
    clock.advance(days=1)
    world.freshness.sweep()
    assert len([m for m in world.mails(DIRECTORATE) if "digest" in m.message["Subject"]]) == 2


def test_dry_run_logs_notices_and_sends_nothing(
    live: Settings, clock: FakeClock, smtp: FakeSMTP, caplog: pytest.LogCaptureFixture
) -> None:
    engine = Engine(live, dry_run=True, clock=clock).start()
    engine.sweep_freshness()
    clock.advance(days=5)
    engine.sweep_freshness()
    assert smtp.messages == []
    assert f"warning to {OFFICER_TN}: Silent for 5 days: @TNPostalCircle (x)" in caplog.text


def test_last_content_is_recorded_with_the_outcome_and_backfilled_by_the_migration(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = make_engine(url)
    upgrade(engine, "0005")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO posts (id, key, unit, source_name, source_sha256, priority, "
                "not_before, received_at, request) VALUES (1, 'k', 'u', 'f', 's', 0, "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00', '{}')"
            )
        )
        for n, (account, status, finished) in enumerate(
            [
                ("x:A", "sent", "2026-01-02 10:00:00"),
                ("x:A", "sent", "2026-01-05 10:00:00"),
                ("x:A", "dry_run", "2026-01-06 10:00:00"),
                ("x:B", "failed", "2026-01-03 10:00:00"),
            ]
        ):
            connection.execute(
                text(
                    "INSERT INTO deliveries (post_id, idempotency_key, unit, account, platform, "
                    "locale, text, parts, notes, progress, tags, media, status, priority, "
                    "not_before, attempts, finished_at) VALUES (1, :key, 'u', :account, 'x', "
                    ":locale, 't', '[]', '[]', '{}', '[]', '[]', :status, 0, "
                    "'2026-01-01 00:00:00', 1, :finished)"
                ),
                {
                    "key": str(n),
                    "account": account,
                    "locale": ["en", "hi", "ta", "en"][n],
                    "status": status,
                    "finished": finished,
                },
            )
    ledger = open_ledger(url)  # upgrades to head
    with ledger() as session:
        rows = {r.account: r for r in session.scalars(select(AccountActivity))}
    assert rows["x:A"].last_sent_at is not None
    assert rows["x:A"].last_sent_at.isoformat() == "2026-01-05T10:00:00+00:00"
    assert rows["x:A"].last_dry_run_at is not None
    assert rows["x:A"].last_dry_run_at.isoformat() == "2026-01-06T10:00:00+00:00"
    assert rows["x:B"].last_sent_at is None
    assert rows["x:B"].tracked_since.isoformat() == "2026-01-01T00:00:00+00:00"


def test_a_sent_delivery_moves_the_accounts_last_content_and_clears_failing(
    world: World, clock: FakeClock, drop: Drop
) -> None:
    drop("tamil-nadu", "news.toml", 'platforms = ["x"]\n[text]\nen = "News"\n')
    world.engine.intake.scan()
    world.platform.refuse = AuthError("401 Unauthorized")
    world.dispatcher.run_due()
    with world.engine.ledger() as session:
        row = session.get_one(AccountActivity, TN_X)
        assert (row.failing_since, row.last_error, row.last_sent_at) == (
            clock(),
            "401 Unauthorized",
            None,
        )
    world.platform.refuse = None
    drop("tamil-nadu", "again.toml", 'platforms = ["x"]\n[text]\nen = "Again"\n')
    clock.advance(minutes=5)
    world.engine.intake.scan()
    world.dispatcher.run_due()
    with world.engine.ledger() as session:
        row = session.get_one(AccountActivity, TN_X)
        assert (row.failing_since, row.last_error, row.last_sent_at) == (None, None, clock())
        sent = session.scalars(select(Delivery).where(Delivery.status == DeliveryStatus.SENT))
        assert [d.account for d in sent] == [TN_X]


BAD = {
    "tamil-nadu/dated.toml": 'publish_at = "2030-01-01 10:00"\n[text]\nta = "வணக்கம்"\nen = "Hi"\n',
    "west-bengal/photo.toml": '[text]\nbn = "ডাক"\nen = "Post"\n[[media]]\nfile = "gone.png"\n',
    "tamil-nadu/broken.toml": '[text]\nen = "no closing quote\n',
    "haryana/long.toml": '[text]\nhi = "' + "डाक " * 120 + '"\nen = "Post"\n',
}


def test_bad_evergreen_items_stop_start_up_naming_file_key_and_fix(
    live: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pools = live.paths.evergreen
    (pools / "nowhere").mkdir()
    for name, content in BAD.items():
        (pools / name).write_text(content, encoding="utf-8")
    with pytest.raises(PoolError) as caught:
        load_pools(live, Renderer.from_settings(live), FakeClock()())
    problems = {p.where: p for p in caught.value.problems}
    dated = problems["tamil-nadu/dated.toml: publish_at"]
    assert (dated.line, dated.fix) == (1, "Remove the publish_at line")
    assert "TOML syntax" in "".join(problems)
    assert problems["nowhere"].fix.startswith("Rename it to one of: directorate, tamil-nadu")
    assert any(w.startswith("haryana/long.toml: text.hi") for w in problems)
    gone = problems["west-bengal/photo.toml: media[0].file"]
    assert (gone.line, gone.what) == (5, "'gone.png' is not a file beside this item")

    config = str(tmp_path / "config.toml")
    assert main(["--config", config, "run", "--dry-run", "--once"]) == 1
    err = capsys.readouterr().err
    assert "tamil-nadu/dated.toml: publish_at: 'publish_at' has no place" in err


def test_freshness_command_shows_days_silent_and_deadline(
    live: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(tmp_path / "config.toml"), "freshness"]) == 0
    out = capsys.readouterr().out
    assert "deadline" in out.splitlines()[1]
    assert "tamil-nadu" in out
    assert "x:TNPostalCircle" in out
    assert "never" in out


def test_the_daemon_sweeps_at_start_and_publishes_from_the_pool(
    config_path: Path, settings: Settings
) -> None:
    """A dry-run daemon started eight days after the account's last (dry-run) content: its first
    sweep records the evergreen post at once, and its next tick publishes it."""
    shutil.copytree(REPO / "schedules", config_path.parent / "schedules")
    ledger = open_ledger(settings.database_url)
    long_ago = FakeClock()() - timedelta(days=8)
    with ledger.begin() as session:
        session.add(AccountActivity(account=TN_X, tracked_since=long_ago, last_dry_run_at=long_ago))
    with running(config_path) as daemon:
        wait_for_line(daemon, f"{TN_X} silent since")
        wait_for_line(daemon, f"dry_run to {TN_X} (ta)")
    with ledger() as session:
        row = session.get_one(AccountActivity, TN_X)
        assert row.last_dry_run_at is not None
        assert row.last_dry_run_at > long_ago


def test_a_notice_the_mail_server_refuses_goes_at_the_next_sweep(
    world: World, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    world.freshness.sweep()
    clock.advance(days=5)
    world.smtp.fail_next(451, stage="DATA", count=15)  # every warning of this sweep
    assert world.freshness.sweep().warned == []
    assert "could not be e-mailed, trying again at the next sweep" in caplog.text
    clock.advance(hours=1)
    assert len(world.freshness.sweep().warned) == 15
    assert len(world.mails(OFFICER_TN)) == 3
