"""Recurring posts: each firing of a schedules/*.toml rule is one post, made through plan and the
ledger like a dropped file, caught up after downtime within the late cut-off, and reported past it.
Deliveries overdue past the cut-off are marked late, never sent."""

from __future__ import annotations

import logging
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from publisher.config.settings import Settings, load_settings
from publisher.errors import ScheduleError
from publisher.intake.recurring import State
from publisher.intake.schedulefile import parse_schedule
from publisher.oversight.review import late_deliveries, review_text, status_text
from publisher.planning.render import Renderer
from publisher.service.daemon import RULE_JOB, Daemon
from publisher.service.engine import Engine
from publisher.store.models import Attempt, Delivery, Post
from publisher.vocabulary import DeliveryStatus
from tests.support.clock import FakeClock
from tests.support.files import REPO, Drop
from tests.support.processes import publisher, running, wait_for_line
from tests.support.schedules import DAILY, write_rule

MONDAY_10_IST = datetime(2026, 11, 30, 4, 30, tzinfo=UTC)  # Monday 2026-11-30 10:00 Asia/Kolkata
WEEKLY = (REPO / "schedules" / "weekly-scheme.toml").read_text(encoding="utf-8")
CIRCLES = ("tamil-nadu", "haryana", "west-bengal", "maharashtra")


def start(settings: Settings, clock: FakeClock) -> Engine:
    """An engine as the daemon builds one at start: reading the rules then."""
    return Engine(settings, dry_run=True, clock=clock).start()


def posts(engine: Engine) -> list[Post]:
    with engine.ledger() as session:
        return list(session.scalars(select(Post).order_by(Post.id)))


def deliveries(engine: Engine) -> list[Delivery]:
    with engine.ledger() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


@pytest.fixture
def weekly(settings: Settings, clock: FakeClock) -> Settings:
    """The repository's example rule, and the clock on the Monday it fires at 10:00 IST."""
    write_rule(settings, "weekly-scheme.toml", WEEKLY)
    clock.now = MONDAY_10_IST
    return settings


def test_a_firing_makes_one_post_in_each_accounts_language(
    weekly: Settings, clock: FakeClock
) -> None:
    engine = start(weekly, clock)
    tick = engine.tick()

    [post] = posts(engine)
    assert tick.created == [post.id]
    assert post.key == "directorate/weekly-scheme@2026-11-30T04:30Z"
    assert post.not_before == MONDAY_10_IST
    expected = {
        (a.key, locale) for unit, a in weekly.accounts() if unit in CIRCLES for locale in a.locales
    }
    rows = deliveries(engine)
    assert {(d.account, d.locale) for d in rows} == expected
    assert len(rows) == 20
    assert all(d.status == DeliveryStatus.DRY_RUN for d in rows)  # due now, so out at once
    by_locale = {d.locale: d.text for d in rows if d.platform == "facebook"}
    assert "சேமியுங்கள்" in by_locale["ta"]  # rendered from the Tamil catalog
    assert "Save with Sukanya Samriddhi Yojana" in by_locale["en"]
    assert "₹250" in by_locale["hi"]
    # The officers see it like a dropped file: an archive folder with the rule and a receipt.
    folder = weekly.paths.queue / "directorate" / "archive" / "2026-11-30_1000_weekly-scheme"
    assert (folder / "weekly-scheme.toml").read_text(encoding="utf-8") == WEEKLY
    receipt = (folder / "weekly-scheme.receipt.txt").read_text(encoding="utf-8")
    assert "Publish at: 2026-11-30 10:00 IST" in receipt
    status = (weekly.paths.queue / "directorate" / "STATUS.txt").read_text(encoding="utf-8")
    assert "weekly-scheme.toml" in status


@pytest.mark.both_stores
def test_the_same_firing_twice_is_one_post_also_from_another_process(
    weekly: Settings, clock: FakeClock
) -> None:
    first = start(weekly, clock)
    first.tick()
    clock.advance(seconds=30)
    assert first.tick().created == []
    other = start(weekly, clock)  # a second process with its own memory, on the same ledger
    assert other.tick().created == []
    assert other.recurring.fire("weekly-scheme") is None  # settled already in this process too
    # Two processes that both missed the other's post: the second insert loses, quietly.
    rule = other.recurring.rules["weekly-scheme"]
    assert other.recurring._record(rule, rule.firing(MONDAY_10_IST), clock()) is None
    assert len(posts(first)) == 1
    assert len(deliveries(first)) == 20


def test_next_firings_are_in_the_organisations_zone(weekly: Settings, clock: FakeClock) -> None:
    rule = parse_schedule(
        weekly.paths.schedules / "weekly-scheme.toml",
        weekly,
        Renderer.from_settings(weekly),
        clock(),
    )
    wednesday = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    upcoming = rule.firings(wednesday)
    assert [next(upcoming).isoformat() for _ in range(2)] == [
        "2026-12-07T04:30:00+00:00",  # Monday 10:00 IST is 04:30 UTC, every week: no DST
        "2026-12-14T04:30:00+00:00",
    ]
    assert rule.latest(wednesday) == MONDAY_10_IST
    assert rule.latest(MONDAY_10_IST) == MONDAY_10_IST  # at its minute, it has fired
    assert rule.latest(MONDAY_10_IST - timedelta(seconds=1)) == MONDAY_10_IST - timedelta(days=7)


def test_firings_follow_daylight_saving_time_in_a_zone_that_has_it(
    config_path: Path, clock: FakeClock
) -> None:
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace('"Asia/Kolkata"', '"Europe/London"'), encoding="utf-8")
    settings = load_settings(config_path)
    path = write_rule(settings, "weekly-scheme.toml", WEEKLY)
    rule = parse_schedule(path, settings, Renderer.from_settings(settings), clock())
    upcoming = rule.firings(datetime(2027, 3, 20, tzinfo=UTC))
    # The clocks go forward on Sunday 2027-03-28: 10:00 in London is 10:00 UTC, then 09:00 UTC.
    assert [next(upcoming).isoformat() for _ in range(2)] == [
        "2027-03-22T10:00:00+00:00",
        "2027-03-29T09:00:00+00:00",
    ]
    assert rule.latest(datetime(2027, 10, 31, 12, tzinfo=UTC)) == datetime(
        2027, 10, 25, 9, 0, tzinfo=UTC
    )  # the last Monday of summer time; back to 10:00 UTC from 2027-11-01
    assert next(rule.firings(datetime(2027, 10, 31, tzinfo=UTC))).hour == 10


def test_a_firing_missed_while_down_is_made_once_at_start(
    weekly: Settings, clock: FakeClock
) -> None:
    clock.advance(hours=5)  # the daemon was down at 10:00 and starts at 15:00 IST
    engine = start(weekly, clock)
    assert len(engine.tick().created) == 1
    [post] = posts(engine)
    assert post.not_before == MONDAY_10_IST  # the firing it stands for, not the start time
    assert {d.status for d in deliveries(engine)} == {DeliveryStatus.DRY_RUN}  # within cut-off
    clock.advance(hours=1)
    restarted = start(weekly, clock)
    assert restarted.tick().created == []
    assert len(posts(restarted)) == 1


def test_a_firing_missed_past_the_cut_off_is_reported_not_made(
    weekly: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    clock.advance(hours=weekly.dispatch.late_after_hours, minutes=1)
    engine = start(weekly, clock)
    with caplog.at_level(logging.WARNING):
        assert engine.tick().created == []
        engine.tick()
    assert posts(engine) == []
    warnings = [r.getMessage() for r in caplog.records if "weekly-scheme" in r.getMessage()]
    assert len(warnings) == 1  # once, not at every tick
    assert "firing at 2026-11-30 10:00 IST has no post" in warnings[0]
    assert "it is not created" in warnings[0]
    assert "Next firing: 2026-12-07 10:00 IST" in warnings[0]
    with engine.ledger() as session:
        [line] = engine.recurring.status_lines(session, clock())
    assert "weekly-scheme (directorate, cron '0 10 * * mon')" in line
    assert "last 2026-11-30 10:00 IST: MISSED: no post, past dispatch.late_after_hours" in line


def test_status_names_each_rules_post(weekly: Settings, clock: FakeClock) -> None:
    engine = start(weekly, clock)
    engine.tick()
    [post] = posts(engine)
    with engine.ledger() as session:
        [line] = engine.recurring.status_lines(session, clock())
    assert f"last 2026-11-30 10:00 IST: post {post.id}; next 2026-12-07 10:00 IST" in line


LATER = """\
platforms = ["x"]
publish_at = "{when}"
[text]
hi = "हरियाणा डाक परिमंडल: नए डाक टिकट उपलब्ध हैं।"
en = "Haryana Postal Circle: new stamps on sale."
"""


def scheduled_in_an_hour(engine: Engine, drop: Drop, clock: FakeClock) -> None:
    when = (clock() + timedelta(hours=1)).astimezone(engine.settings.zone)
    drop("haryana", "later.toml", LATER.format(when=f"{when:%Y-%m-%d %H:%M}"))
    engine.tick()
    assert {d.status for d in deliveries(engine)} == {DeliveryStatus.PENDING}


def test_a_delivery_overdue_past_the_cut_off_is_late_not_sent(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    scheduled_in_an_hour(engine, drop, clock)
    clock.advance(hours=1 + engine.settings.dispatch.late_after_hours, seconds=1)  # engine down
    tick = engine.tick()

    assert tick.sent == []
    assert len(tick.late) == 2
    rows = deliveries(engine)
    assert {d.status for d in rows} == {DeliveryStatus.LATE}
    assert all(d.attempts == 0 and d.remote_id is None for d in rows)
    assert "dispatch.late_after_hours" in (rows[0].last_error or "")
    with engine.ledger() as session:
        assert session.scalar(select(func.count()).select_from(Attempt)) == 0  # never tried
        status = status_text(session, engine.settings, clock())
        review = review_text(late_deliveries(session, clock()), engine.settings)
    header, *lines = status.splitlines()[1:]
    assert header.split()[-2:] == ["late", "amplified"]
    [haryana_x] = [line for line in lines if "x:HaryanaPostal" in line]
    assert haryana_x.split()[-2] == "2"
    assert review.count(" late  post haryana/") == 2
    folder = engine.settings.paths.queue / "haryana"
    assert "2 late" in (folder / "STATUS.txt").read_text(encoding="utf-8")
    [receipt] = folder.glob("archive/*/later.receipt.txt")
    assert receipt.read_text(encoding="utf-8").count(" late\n") == 2
    assert engine.tick().sent == []  # and never later either


def test_a_delivery_overdue_within_the_cut_off_still_goes_out(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    scheduled_in_an_hour(engine, drop, clock)
    clock.advance(hours=engine.settings.dispatch.late_after_hours)
    assert len(engine.tick().sent) == 2
    assert {d.status for d in deliveries(engine)} == {DeliveryStatus.DRY_RUN}


def test_a_rules_photo_goes_with_each_firing(settings: Settings, clock: FakeClock) -> None:
    png = (REPO / "examples" / "queue" / "tamil-nadu" / "pongal-cover.png").read_bytes()
    (settings.paths.schedules).mkdir(parents=True)
    (settings.paths.schedules / "cover.png").write_bytes(png)
    write_rule(
        settings,
        "cover.toml",
        'unit = "tamil-nadu"\ncron = "0 9 * * *"\nplatforms = ["x"]\n[text]\nen = "Pongal!"\n'
        '[[media]]\nfile = "cover.png"\nalt = { en = "A Pongal pot" }\n',
    )
    clock.now = MONDAY_10_IST
    engine = start(settings, clock)
    engine.tick()
    clock.advance(days=1)
    engine.tick()
    rows = deliveries(engine)
    assert len(rows) == 2  # two firings, one English delivery each
    for d in rows:
        [media] = d.media
        assert media["alt"] == "A Pongal pot"
        assert (settings.paths.queue / media["path"]).read_bytes() == png
    assert rows[0].media[0]["path"] == "tamil-nadu/archive/2026-11-30_0900_cover/cover.png"
    assert (settings.paths.schedules / "cover.png").exists()  # kept for the next firing


def test_schedule_sub_folders_are_not_rules(
    weekly: Settings, clock: FakeClock, config_path: Path
) -> None:
    assert weekly.paths.schedules == config_path.parent / "schedules"  # beside config.toml
    write_rule(weekly, "evergreen/pool.toml", "not a rule at all [")
    assert list(start(weekly, clock).recurring.rules) == ["weekly-scheme"]


# (what is wrong, the file, what the error must say: key, line, fix)
BAD = [
    ("malformed TOML", 'unit = "directorate\n' + WEEKLY, ["line 1", "not valid TOML"]),
    (
        "bad cron",
        WEEKLY.replace('"0 10 * * mon"', '"0 25 * * mon"'),
        ["line 5, cron: '0 25 * * mon' is not a cron rule", "higher than the maximum", "e.g."],
    ),
    (
        "cron with four fields",
        WEEKLY.replace('"0 10 * * mon"', '"0 10 * mon"'),
        [
            "cron: '0 10 * mon' is not a cron rule",
            "(Wrong number of fields, got 4, expected 5)",
            'e.g. "0 10 * * mon"',
        ],
    ),
    (
        "numbered weekday",
        WEEKLY.replace('"0 10 * * mon"', '"0 10 * * 1"'),
        ["cron: the day of the week '1' is a number", "Write day names instead: mon"],
    ),
    (
        "unknown unit, and an unknown key",
        WEEKLY.replace('unit = "directorate"', 'unit = "kerala"').replace("units =", "targets ="),
        ["line 4, unit: 'kerala' is not a unit", "one of: directorate, tamil-nadu", "targets"],
    ),
    (
        "a file name that cannot name the rule",
        WEEKLY,
        ["id: the file name 'weekly scheme' cannot name the rule", 'or add id = "weekly-scheme"'],
    ),
    (
        "unknown key",
        WEEKLY.replace("template =", "templat ="),
        ["line 7, templat: 'templat' is not a key", "Did you mean 'template'?", "unit, cron"],
    ),
    (
        "publish_at given",
        WEEKLY.replace("template =", 'publish_at = "2026-12-01 10:00"\ntemplate ='),
        ["line 7, publish_at: a recurring post has no publish_at", 'say when with cron = "'],
    ),
    (
        "template variable missing",
        WEEKLY.replace("min_deposit = 250", ""),
        ["template: ", "min_deposit", "Add it under [vars]"],
    ),
    (
        "photo not in the schedules folder",
        WEEKLY + '\n[[media]]\nfile = "poster.png"\nalt = { en = "A poster" }\n',
        ["line 15, media[0].file: 'poster.png' is not a file in the schedules folder", "beside"],
    ),
    (
        "rule key under [vars]",
        WEEKLY + 'cron = "0 11 * * tue"\n',
        ["vars.cron: 'cron' is inside the [vars] section", "Move the line above"],
    ),
]


@pytest.mark.parametrize(("case", "text", "expected"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_schedule_file_names_file_key_and_fix(
    settings: Settings, clock: FakeClock, case: str, text: str, expected: list[str]
) -> None:
    name = "weekly scheme.toml" if "file name" in case else "weekly-scheme.toml"
    path = write_rule(settings, name, text)
    with pytest.raises(ScheduleError) as err:
        start(settings, clock)  # a bad rule stops start-up
    assert err.value.path == str(path)
    message = "\n".join(str(p) for p in err.value.problems)
    for part in expected:
        assert part in message, case


def test_the_daemon_has_one_cron_job_per_rule_in_the_organisations_zone(
    weekly: Settings, clock: FakeClock
) -> None:
    write_rule(weekly, "daily.toml", 'unit = "haryana"\ncron = "30 9 * * *"\n[text]\nhi = "नमस्ते"\n')
    engine = start(weekly, clock)
    daemon = Daemon(engine, reload=lambda: engine)
    daemon._schedule_rules()
    daemon._schedule_rules()  # as after SIGHUP: replaced, not added twice
    jobs = {j.id: j for j in daemon._scheduler.get_jobs()}
    assert set(jobs) == {RULE_JOB + "daily", RULE_JOB + "weekly-scheme"}
    job = jobs[RULE_JOB + "weekly-scheme"]
    assert str(job.trigger.timezone) == "Asia/Kolkata"
    assert (job.coalesce, job.max_instances) == (True, 1)
    assert str(job.trigger) == "cron[month='*', day='*', day_of_week='mon', hour='10', minute='0']"
    firing = engine.recurring.fire("weekly-scheme")  # what the job does at 10:00, then a tick
    assert firing is not None
    assert firing.state is State.CREATED
    assert [p.key for p in posts(engine)] == ["directorate/weekly-scheme@2026-11-30T04:30Z"]
    assert firing.post_id in engine.recurring.catch_up()  # so the tick writes its receipt


@pytest.mark.both_stores
def test_the_daemon_makes_a_due_firings_post_at_start_and_only_once(config_path: Path) -> None:
    """At start the daemon catches up a firing two hours old; restarted, it makes no second post;
    on SIGHUP a bad rule keeps the running rules, and a good new one is taken up."""
    from publisher.store.db import open_ledger

    settings = load_settings(config_path)
    fired = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)
    local = fired.astimezone(settings.zone)
    daily = DAILY.format(minute=local.minute, hour=local.hour)
    rule = write_rule(settings, "daily-tip.toml", daily)
    with running(config_path) as daemon:
        wait_for_line(daemon, "recurring post daily-tip for its firing at")
    with running(config_path) as daemon:  # a restart: the firing has its post already
        rule.write_text('unit = "haryana"\ncron = "0 10 * * 1"\n', encoding="utf-8")
        daemon.send_signal(signal.SIGHUP)
        wait_for_line(daemon, "config.toml was not reloaded; the running configuration stays")
        status = publisher("status", config=config_path)
        rule.write_text(daily, encoding="utf-8")
        write_rule(settings, "evening.toml", daily)
        daemon.send_signal(signal.SIGHUP)
        wait_for_line(daemon, "recurring post evening for its firing at")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the workers send them; SIGTERM would stop that
            with open_ledger(settings.database_url)() as session:
                keys = {
                    p.key: {d.status for d in p.deliveries} for p in session.scalars(select(Post))
                }
            if not set().union(*keys.values()) & {DeliveryStatus.PENDING, DeliveryStatus.SENDING}:
                break
            time.sleep(0.1)
    stamp = f"{fired:%Y-%m-%dT%H:%M}Z"
    assert keys == {
        f"haryana/daily-tip@{stamp}": {DeliveryStatus.DRY_RUN},
        f"haryana/evening@{stamp}": {DeliveryStatus.DRY_RUN},
    }
    assert status.returncode == 0  # the accounts' status still shows; the rule on disk was bad
    assert "Recurring posts cannot be read:" in status.stdout
    assert "daily-tip.toml has 1 problem(s)" in status.stdout
    status = publisher("status", config=config_path)
    assert status.returncode == 0, status.stderr
    assert f"daily-tip (haryana, cron '{local.minute} {local.hour} * * *'): last " in status.stdout
    assert "evening (haryana, " in status.stdout
    assert status.stdout.count(": post ") == 2


def test_a_bad_schedule_stops_start_up_naming_file_line_and_key(config_path: Path) -> None:
    settings = load_settings(config_path)
    path = write_rule(settings, "weekly-scheme.toml", WEEKLY.replace("10 * * mon", "10 * * 1"))
    run = publisher("run", "--dry-run", "--once", config=config_path)
    assert run.returncode == 1
    assert f"publisher: {path} has 1 problem(s):" in run.stderr
    assert "line 5, cron: the day of the week '1' is a number" in run.stderr
    assert "Traceback" not in run.stderr


def test_validate_previews_a_rules_next_firings_and_deliveries(config_path: Path) -> None:
    check = publisher(
        "validate", str(REPO / "schedules" / "weekly-scheme.toml"), config=config_path
    )
    assert check.returncode == 0, check.stdout + check.stderr
    out = check.stdout
    assert "valid, rule 'weekly-scheme' for unit directorate, cron '0 10 * * mon'" in out
    firings = [line for line in out.splitlines() if line.startswith("  20")]
    assert len(firings) == 5
    assert all(" 10:00 IST  (" in f and " 04:30 UTC)" in f for f in firings)
    assert "Each makes 20 deliveries:" in out
    assert "x:TNPostalCircle (ta)" in out
    assert "Sukanya Samriddhi Yojana" in out


def test_late_deliveries_are_reported_by_run_review_and_status(
    config_path: Path, engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    """The engine was down for two days after a post was recorded for later: the commands a
    person runs afterwards say it was not sent."""
    from sqlalchemy import update

    scheduled_in_an_hour(engine, drop, clock)
    with engine.ledger.begin() as session:  # as if its time had come two days ago
        session.execute(update(Delivery).values(not_before=datetime.now(UTC) - timedelta(days=2)))

    run = publisher("run", "--dry-run", "--once", config=config_path)
    assert run.returncode == 0, run.stderr
    assert "0 deliveries recorded as dry-run" in run.stdout
    assert "2 deliveries were late (due more than 24 hours before the engine" in run.stdout
    assert "and were NOT sent" in run.stdout
    assert "is late and is not sent" in run.stderr  # the warning, in the log
    review = publisher("review", config=config_path)
    assert review.stdout.count(" late  post haryana/") == 2
    status = publisher("status", config=config_path)
    [line] = [x for x in status.stdout.splitlines() if "x:HaryanaPostal" in x]
    assert line.split()[-2] == "2"  # late, then amplified
    assert "No recurring posts" in status.stdout
