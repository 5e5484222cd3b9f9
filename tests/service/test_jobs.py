"""The periodic jobs (the freshness sweep, metrics, the weekly report) run once per period across
every daemon sharing the ledger, by whichever asks first; on SQLite the one daemon always runs
them. The ledger's ``job_runs`` rows say which daemon ran which period."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from publisher.config.settings import Settings, load_settings
from publisher.service.daemon import SWEEP, WEEKLY_RETRY_JOB
from publisher.service.periodic import WEEKLY_JOB, WEEKLY_RETRY_MINUTES
from publisher.store.db import make_engine, open_ledger, upgrade
from publisher.store.jobs import KEEP, interval_slot, take_slot
from publisher.store.models import AccountActivity, JobRun
from tests.support.clock import FakeClock
from tests.support.daemons import two_daemons, wait_until
from tests.support.mail import weekly_mail
from tests.support.platforms import Platforms, fake_platforms

HOUR = timedelta(hours=1)
LEASE = timedelta(minutes=1)
OTHER = "another daemon sharing the ledger runs it"


def runs(ledger: sessionmaker[Session]) -> list[tuple[str, datetime, str]]:
    """The ledger's record of who ran what, as an administrator would read it."""
    with ledger() as session:
        rows = session.execute(
            select(JobRun.job, JobRun.slot, JobRun.host).order_by(JobRun.job, JobRun.slot)
        )
        return [(job, slot, host) for job, slot, host in rows]


@pytest.mark.both_stores
def test_the_first_daemon_to_take_a_period_runs_it_and_month_old_periods_are_forgotten(
    ledger_url: str,
) -> None:
    ledger = open_ledger(ledger_url)
    now = datetime(2026, 11, 29, 20, 7, 30, tzinfo=UTC)
    slot = interval_slot(now, HOUR)
    assert slot == datetime(2026, 11, 29, 20, 0, tzinfo=UTC)
    with ledger.begin() as session:
        assert take_slot(session, SWEEP, slot, "host-a:10", now, LEASE)
    with ledger.begin() as session:
        assert not take_slot(session, SWEEP, slot, "host-b:20", now + timedelta(seconds=1), LEASE)
        assert take_slot(
            session, "metrics", slot, "host-b:20", now, LEASE
        )  # each job its own periods
    with ledger.begin() as session:  # taken a month ago, and a little less
        assert take_slot(session, SWEEP, slot - KEEP - HOUR, "host-a:10", now - KEEP - HOUR, LEASE)
        assert take_slot(
            session, SWEEP, slot - KEEP + 2 * HOUR, "host-a:10", now - KEEP + HOUR, LEASE
        )

    later = now + HOUR
    with ledger.begin() as session:
        assert take_slot(session, SWEEP, interval_slot(later, HOUR), "host-b:20", later, LEASE)
    assert runs(ledger) == [
        (SWEEP, slot - KEEP + 2 * HOUR, "host-a:10"),
        (SWEEP, slot, "host-a:10"),
        (SWEEP, slot + HOUR, "host-b:20"),
        ("metrics", slot, "host-b:20"),
    ]
    ledger.kw["bind"].dispose()


@pytest.mark.both_stores
def test_daemons_racing_for_the_same_periods_take_each_exactly_once(ledger_url: str) -> None:
    """Four daemons (each an engine and connections of its own) ask for the same 50 periods at
    the same moments: each period goes to exactly one of them, and the ledger names it."""
    racers, periods = 4, 50
    open_ledger(ledger_url).kw["bind"].dispose()  # the schema (SQLite: created on opening)
    now = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)
    slots = [now + n * HOUR for n in range(periods)]
    won: list[list[datetime]] = [[] for _ in range(racers)]
    errors: list[BaseException] = []
    start = threading.Barrier(racers)

    def racer(n: int) -> None:
        ledger = open_ledger(ledger_url)
        try:
            start.wait()
            for slot in slots:
                with ledger.begin() as session:
                    if take_slot(session, SWEEP, slot, f"host-{n}:1", now, LEASE):
                        won[n].append(slot)
        except BaseException as error:
            errors.append(error)
            raise
        finally:
            ledger.kw["bind"].dispose()

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Counter(slot for mine in won for slot in mine) == dict.fromkeys(slots, 1)
    ledger = open_ledger(ledger_url)
    winners = {slot: f"host-{n}:1" for n, mine in enumerate(won) for slot in mine}
    assert runs(ledger) == [(SWEEP, slot, winners[slot]) for slot in slots]
    ledger.kw["bind"].dispose()


@pytest.mark.both_stores
def test_each_period_of_the_freshness_sweep_runs_in_one_daemon(
    settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="publisher.service.periodic")
    a, b = two_daemons(settings, clock)
    period = timedelta(minutes=settings.freshness.sweep_minutes)
    start = interval_slot(clock(), period)
    clock.now = start + timedelta(seconds=1)  # a's first run: just past the period's start
    a._sweep()
    b._sweep()  # the same period: a runs it
    clock.advance(seconds=period.total_seconds() - 2)  # a's next run, a hair before the next one
    a._sweep()  # still in the first period, by the clock: a takes the next, not skip its own run
    clock.advance(seconds=30)
    b._sweep()  # in the second period: a has it
    clock.advance(seconds=period.total_seconds())
    b._sweep()  # b asks first this time
    a._sweep()
    assert runs(a.engine.ledger) == [
        (SWEEP, start, f"host-a:{os.getpid()}"),
        (SWEEP, start + period, f"host-a:{os.getpid()}"),
        (SWEEP, start + 2 * period, f"host-b:{os.getpid()}"),
    ]
    assert caplog.text.count(OTHER) == 3


@pytest.mark.both_stores
def test_the_weekly_report_goes_once_per_firing_and_its_retry_once_by_either_daemon(
    config_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with weekly_mail(config_path, monkeypatch) as (smtp, settings):  # mondays at 09:00
        a, b = two_daemons(settings, clock)
        for daemon in (a, b):
            daemon._schedule_periodic()
        jobs = [daemon._scheduler.get_job(WEEKLY_JOB) for daemon in (a, b)]
        retries = [daemon._scheduler.get_job(WEEKLY_RETRY_JOB) for daemon in (a, b)]
        monday = datetime(2026, 11, 30, 9, 0, tzinfo=settings.zone).astimezone(UTC)

        clock.now = monday + timedelta(milliseconds=300)
        smtp.fail_next(451, stage="MAIL")  # busy: the report waits for a retry
        for job in jobs:
            job.func(*job.args)  # what each scheduler does at 09:00
        assert smtp.messages == []
        clock.advance(minutes=WEEKLY_RETRY_MINUTES - 1)
        for retry in retries:
            retry.func(*retry.args)  # each daemon's check, every minute: not due yet
        assert smtp.messages == []
        clock.advance(minutes=1)
        for retry in reversed(retries):  # b first: the retry is anyone's
            retry.func(*retry.args)
        assert len(smtp.messages) == 1

        clock.now = monday + timedelta(days=7, seconds=1)
        for job in reversed(jobs):  # b first, next week
            job.func(*job.args)
        for retry in retries:
            retry.func(*retry.args)
        assert len(smtp.messages) == 2
    assert runs(a.engine.ledger) == [
        (WEEKLY_JOB, monday, f"host-b:{os.getpid()}"),
        (WEEKLY_JOB, monday + timedelta(days=7), f"host-b:{os.getpid()}"),
    ]


# -- two real daemons on one PostgreSQL ledger ------------------------------------------------

OFFICER = "marketing.hr@indiapost.gov.in"  # tests/platforms.py's nodal officer
CELL = "cell@indiapost.gov.in"


def read(log: Path) -> str:
    return log.read_text(encoding="utf-8")


def said(log: Path, *parts: str) -> bool:
    """Whether a line of the daemon's log says all of ``parts``."""
    return any(all(part in line for part in parts) for line in read(log).splitlines())


@pytest.fixture
def platforms(tmp_path: Path) -> Iterator[Platforms]:
    with fake_platforms(tmp_path) as fakes:
        yield fakes


def configure(platforms: Platforms, url: str, fire: datetime) -> list[Path]:
    """Two hosts' configs (each its own folders) on one ledger and the fakes' mail server: the
    weekly report due at ``fire``, the freshness notices sent with the unit's SMTP login."""
    settings = load_settings(platforms.config)
    local = fire.astimezone(settings.zone)
    weekly = (
        f'{{ day = "{local:%A}", time = "{local:%H:%M}", to = ["{CELL}"], '
        'credential = "email-haryana" }'
    ).lower()
    text = platforms.config.read_text(encoding="utf-8") + (
        f'\n[database]\nurl = "{url}"\n'
        '\n[freshness]\nsmtp_credential = "email-haryana"\n'
        f"\n[reports]\nweekly = {weekly}\n"
    )
    configs = [platforms.config, platforms.config.parent / "host-b" / "config.toml"]
    configs[1].parent.mkdir()
    for config in configs:
        config.write_text(text, encoding="utf-8")
    return configs


def test_two_daemons_on_one_ledger_send_one_weekly_report_and_one_warning(
    platforms: Platforms, empty_postgres: str
) -> None:
    """Two hosts start at once and both fire the weekly report at the same minute and sweep at
    start: the mail server receives each message once, and the ledger names the daemon that
    sent the report."""
    engine = make_engine(empty_postgres)
    upgrade(engine)  # publisher db upgrade
    engine.dispose()
    ledger = open_ledger(empty_postgres)
    silent = datetime.now(UTC) - timedelta(days=5, hours=12)  # past the warning, before the pool
    with ledger.begin() as session:
        session.add(AccountActivity(account="x:HaryanaPostal", tracked_since=silent))
    # The weekly report's minute, far enough ahead for both daemons to be up by then.
    fire = (datetime.now(UTC) + timedelta(seconds=90)).replace(second=0, microsecond=0)
    configs = configure(platforms, empty_postgres, fire)
    logs = [config.parent / "daemon.log" for config in configs]

    with ExitStack() as stack:
        daemons = []
        for config, log in zip(configs, logs, strict=True):
            out = stack.enter_context(log.open("w", encoding="utf-8"))
            daemons.append(
                subprocess.Popen(
                    [sys.executable, "-m", "publisher", "--config", str(config), "run"],
                    stdout=subprocess.DEVNULL,
                    stderr=out,
                )
            )
        try:
            wait_until(
                "both daemons to start", lambda: all("watching" in read(log) for log in logs)
            )
            assert datetime.now(UTC) < fire, "the daemons took too long to start for this test"
            wait_until(
                "the weekly report to be sent by one daemon and left by the other",
                lambda: (
                    sum(said(log, "weekly report sent") for log in logs) == 1
                    and sum(said(log, f"{WEEKLY_JOB} of ", OTHER) for log in logs) == 1
                ),
                seconds=(fire - datetime.now(UTC)).total_seconds() + 60,
            )
        finally:
            for daemon in daemons:
                daemon.send_signal(signal.SIGTERM)
            for daemon in daemons:
                daemon.wait(timeout=30)
    texts = [read(log) for log in logs]
    assert [daemon.returncode for daemon in daemons] == [0, 0], texts

    mails = platforms.smtp.messages
    subjects = Counter(str(m.message["Subject"]) for m in mails)
    assert max(subjects.values()) == 1, subjects  # nothing twice
    assert len([m for m in mails if m.rcpt_tos == [CELL]]) == 1  # the weekly report
    warnings = [m for m in mails if str(m.message["Subject"]).startswith("Silent for")]
    assert [m.rcpt_tos for m in warnings] == [[OFFICER]]
    # Not by luck (the second sweep late enough to find the warning recorded): one daemon left
    # the start-up sweep to the other. (Both start within the same hour's period, but for a
    # start astride the hour, once in hundreds of runs.)
    assert sum(said(log, f"{SWEEP} of ", OTHER) for log in logs) == 1, texts
    [sender] = [d for d, log in zip(daemons, logs, strict=True) if said(log, "weekly report sent")]
    weekly = [run for run in runs(ledger) if run[0] == WEEKLY_JOB]
    assert weekly == [(WEEKLY_JOB, fire, f"{socket.gethostname().lower()}:{sender.pid}")]
    ledger.kw["bind"].dispose()
