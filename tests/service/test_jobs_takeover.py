"""A periodic job's period outlives the daemon that took it: a period whose daemon died is taken
over once its lease has run out, and the weekly report's retries wait in the ledger for whichever
daemon comes next (another host, or the same one restarted). The fake mail server counts the
reports; the ledger's ``job_runs`` rows say who sent each and how it ended. SIGHUP reschedules
the jobs from the fresh config."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from publisher.config.settings import Settings, load_settings
from publisher.dispatch.leases import holding_period
from publisher.service.daemon import METRICS_JOB, SWEEP, WEEKLY_RETRY_JOB, Daemon
from publisher.service.engine import Engine
from publisher.service.periodic import WEEKLY_JOB, WEEKLY_RETRIES, WEEKLY_RETRY_MINUTES
from publisher.store.db import open_ledger
from publisher.store.jobs import finish, interval_slot, renew, take_due, take_slot
from publisher.store.models import JobOutcome, JobRun
from tests.fakes.smtp import FakeSMTP
from tests.support.clock import FakeClock
from tests.support.daemons import daemon, two_daemons, wait_until
from tests.support.mail import weekly_mail, with_mail
from tests.support.processes import running, wait_for_line

LEASE = timedelta(minutes=1)
DEAD = "dead-host:1"  # a daemon that took a period and died: it renews nothing
MONDAY_0900 = (
    'weekly = { day = "monday", time = "09:00"'  # as tests.reports.test_roster_weekly sets it
)


def row(ledger: sessionmaker[Session], job: str, slot: datetime) -> JobRun:
    with ledger() as session:
        found = session.get(JobRun, (job, slot))
        assert found is not None
        session.expunge(found)
        return found


def check(*daemons: Daemon) -> None:
    """What each daemon's scheduler does every minute: the weekly report's check."""
    for each in daemons:
        job = each._scheduler.get_job(WEEKLY_RETRY_JOB)
        job.func(*job.args)


def fire(*daemons: Daemon) -> None:
    """What each daemon's scheduler does at the weekly report's day and time."""
    for each in daemons:
        job = each._scheduler.get_job(WEEKLY_JOB)
        job.func(*job.args)


@pytest.mark.both_stores
def test_a_period_is_free_again_once_its_holders_lease_runs_out_and_never_once_finished(
    ledger_url: str,
) -> None:
    ledger = open_ledger(ledger_url)
    now = datetime(2026, 11, 30, 3, 30, tzinfo=UTC)
    with ledger.begin() as session:
        first = take_slot(session, WEEKLY_JOB, now, "host-a:10", now, LEASE)
    assert first is not None
    with ledger.begin() as session:  # a's heartbeat
        assert renew(session, first, now + 2 * LEASE)
    later = now + 2 * LEASE - timedelta(seconds=1)
    with ledger.begin() as session:  # held until the renewed end
        assert take_slot(session, WEEKLY_JOB, now, "host-b:20", later, LEASE) is None
        assert take_due(session, WEEKLY_JOB, "host-b:20", later, LEASE) is None
    later += timedelta(seconds=2)
    with ledger.begin() as session:  # a is gone: b takes the period over
        second = take_due(session, WEEKLY_JOB, "host-b:20", later, LEASE)
    assert second is not None
    assert (second.slot, second.tries) == (now, 2)
    with ledger.begin() as session:  # a, back too late, can neither renew nor finish it
        assert not renew(session, first, later + LEASE)
        assert not finish(session, first, later, JobOutcome.DONE)
        assert finish(session, second, later, JobOutcome.DONE)
    much_later = later + 7 * LEASE
    with ledger.begin() as session:
        assert take_slot(session, WEEKLY_JOB, now, "host-c:30", much_later, LEASE) is None
        assert take_due(session, WEEKLY_JOB, "host-c:30", much_later, LEASE) is None
    done = row(ledger, WEEKLY_JOB, now)
    assert (done.host, done.tries, done.outcome, done.finished_at) == (
        "host-b:20",
        2,
        "done",
        later,
    )
    ledger.kw["bind"].dispose()


def test_a_live_daemon_keeps_its_period_while_its_job_runs(tmp_path: Path) -> None:
    """The heartbeat renews the lease while the job runs, however long it takes, and stops
    when the job ends. Real time: a lease of 3 s, renewed every second (that a lease renewed
    keeps the period from others is the store's test above)."""
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    lease = timedelta(seconds=3)
    slot = datetime.now(UTC)
    with ledger.begin() as session:
        taken = take_slot(session, SWEEP, slot, "host-a:10", slot, lease)
    assert taken is not None

    def lease_end() -> datetime | None:
        return row(ledger, SWEEP, slot).lease_until

    with holding_period(ledger, lambda: datetime.now(UTC), lease, taken):
        wait_until("the heartbeat to renew the lease", lambda: lease_end() != slot + lease)
    ended = lease_end()
    with ledger.begin() as session:  # no beat after the job: a dead holder's lease runs out
        assert take_slot(session, SWEEP, slot, "host-b:20", ended + timedelta(seconds=1), lease)
    ledger.kw["bind"].dispose()


@pytest.mark.both_stores
def test_a_sweep_whose_daemon_died_is_run_by_the_next_to_fire_it_within_the_period(
    settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = two_daemons(settings, clock)
    period = timedelta(minutes=settings.freshness.sweep_minutes)
    lease = timedelta(seconds=settings.dispatch.lease_seconds)
    start = interval_slot(clock(), period)
    clock.now = start + timedelta(seconds=1)
    with a.engine.ledger.begin() as session:  # another daemon took this period, and died
        assert take_slot(session, SWEEP, start, DEAD, clock(), lease)
    a._sweep()  # its lease is still running: it may be alive
    assert row(a.engine.ledger, SWEEP, start).finished_at is None
    clock.advance(seconds=lease.total_seconds() + 1)
    b._sweep()  # b's first sweep (just started, or its interval's phase falls here)
    swept = row(a.engine.ledger, SWEEP, start)
    assert (swept.host, swept.tries, swept.outcome) == (b.host, 2, "done")
    assert "taken over; the daemon that held it is gone" in caplog.text


@pytest.mark.both_stores
def test_a_weekly_report_whose_daemon_died_is_sent_once_by_another(
    config_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with weekly_mail(config_path, monkeypatch) as (smtp, settings):  # mondays at 09:00
        a, b = two_daemons(settings, clock)
        for each in (a, b):
            each._schedule_periodic()
        monday = datetime(2026, 11, 30, 9, 0, tzinfo=settings.zone).astimezone(UTC)
        lease = timedelta(seconds=settings.dispatch.lease_seconds)
        clock.now = monday + timedelta(milliseconds=300)
        with a.engine.ledger.begin() as session:  # a third daemon took it, and died sending it
            assert take_slot(session, WEEKLY_JOB, monday, DEAD, clock(), lease)
        fire(a, b)  # a and b fire at 09:00 too: the period is held
        check(a, b)
        clock.advance(seconds=lease.total_seconds() - 1)
        check(b, a)  # the holder may still be alive
        assert smtp.messages == []

        clock.advance(days=1)  # its lease has run out (a day later: still Monday's report)
        check(b, a)
        check(a, b)
        [report] = smtp.messages
    assert report.rcpt_tos == ["cell@indiapost.gov.in"]
    assert "2026-11-23 to 2026-11-29" in report.message["Subject"]  # the week before Monday
    sent = row(a.engine.ledger, WEEKLY_JOB, monday)
    assert (sent.host, sent.tries, sent.outcome) == (b.host, 2, "done")


@pytest.mark.both_stores
def test_a_weekly_report_waiting_for_a_retry_is_sent_after_the_daemon_restarts(
    config_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with weekly_mail(config_path, monkeypatch) as (smtp, settings):
        before = daemon(settings, clock, "host-a")
        before._schedule_periodic()
        monday = datetime(2026, 11, 30, 9, 0, tzinfo=settings.zone).astimezone(UTC)
        clock.now = monday
        smtp.fail_next(451, stage="MAIL")  # busy: try again in 30 minutes
        fire(before)
        assert smtp.messages == []

        clock.advance(minutes=5)  # the daemon restarts: its scheduler starts afresh
        after = daemon(settings, clock, "host-a")
        after._schedule_periodic()
        check(after)
        assert smtp.messages == []
        clock.now = monday + timedelta(minutes=WEEKLY_RETRY_MINUTES)
        check(after)
        check(after)
        [report] = smtp.messages
    assert "2026-11-23 to 2026-11-29" in report.message["Subject"]
    assert row(after.engine.ledger, WEEKLY_JOB, monday).outcome == "done"


@pytest.mark.both_stores
def test_a_weekly_report_is_given_up_after_its_retries_whoever_tried_it(
    config_path: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with weekly_mail(config_path, monkeypatch) as (smtp, settings):
        a, b = two_daemons(settings, clock)
        for each in (a, b):
            each._schedule_periodic()
        monday = datetime(2026, 11, 30, 9, 0, tzinfo=settings.zone).astimezone(UTC)
        clock.now = monday
        smtp.fail_next(451, count=WEEKLY_RETRIES + 1, stage="MAIL")  # busy all morning
        fire(a, b)
        for n in range(WEEKLY_RETRIES):  # the retries, by b and a in turn
            clock.advance(minutes=WEEKLY_RETRY_MINUTES)
            check(*((b, a) if n % 2 == 0 else (a, b)))
        assert smtp.messages == []
        assert "will not be tried again" in caplog.text
        assert "publisher report --from 2026-11-23 --to 2026-11-29 --email" in caplog.text
        clock.advance(minutes=WEEKLY_RETRY_MINUTES)
        check(a, b)  # the server would take it now, but the report was given up
        assert smtp.messages == []
    given_up = row(a.engine.ledger, WEEKLY_JOB, monday)
    assert (given_up.tries, given_up.outcome) == (WEEKLY_RETRIES + 1, "gave_up")


def test_sighup_reschedules_the_periodic_jobs_from_the_new_config(
    config_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with weekly_mail(config_path, monkeypatch) as (_, settings):  # mondays at 09:00
        assert (settings.freshness.sweep_minutes, settings.metrics.interval_minutes) == (60, 60)

        def reload() -> Engine:
            return Engine(load_settings(config_path), dry_run=True, clock=clock).start()

        running_daemon = Daemon(Engine(settings, dry_run=True, clock=clock).start(), reload)
        running_daemon._schedule_periodic()
        scheduler = running_daemon._scheduler
        scheduler.start(paused=True)  # times are computed, nothing runs
        try:
            text = config_path.read_text(encoding="utf-8")
            for old, new in [
                ("sweep_minutes = 60 ", "sweep_minutes = 15 "),
                ("interval_minutes = 60 ", "interval_minutes = 240 "),
                (MONDAY_0900, 'weekly = { day = "friday", time = "17:30"'),
            ]:
                assert old in text
                text = text.replace(old, new)
            config_path.write_text(text, encoding="utf-8")
            reloaded = datetime.now(settings.zone)
            running_daemon._reload_config()  # what SIGHUP makes the next tick do

            sweep, metrics = scheduler.get_job(SWEEP), scheduler.get_job(METRICS_JOB)
            assert sweep.trigger.interval == timedelta(minutes=15)
            assert metrics.trigger.interval == timedelta(hours=4)
            # The new interval counts from the reload (at once would take the next period).
            assert reloaded + timedelta(minutes=15) <= sweep.next_run_time
            weekly = scheduler.get_job(WEEKLY_JOB).next_run_time
            assert (weekly.strftime("%A %H:%M"), weekly.tzinfo) == ("Friday 17:30", settings.zone)
        finally:
            scheduler.shutdown(wait=False)
            assert running_daemon._workers.stop(30) == []  # the reload started them


def test_a_daemon_killed_while_the_mail_server_holds_its_weekly_report_sends_it_once_restarted(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One daemon on SQLite, as a service: it sends the weekly report (a retry that fell due, so
    the test need not wait for a real day and time: the firing itself is
    tests.service.test_jobs'), the mail server holds the message without answering, and the
    daemon is killed (SIGKILL) before the server accepts it. Restarted, the daemon sends the
    report once its old lease has run out: one report."""
    with FakeSMTP(starttls=True, user="publisher", password="smtp-pass") as smtp:
        with_mail(config_path, smtp, monkeypatch)
        text = config_path.read_text(encoding="utf-8")
        assert "lease_seconds = 60 " in text
        config_path.write_text(text.replace("lease_seconds = 60 ", "lease_seconds = 2 "), "utf-8")
        settings = load_settings(config_path)
        now = datetime.now(UTC)
        due = now.replace(microsecond=0) - timedelta(hours=1)  # its try failed; the next is due
        ledger = open_ledger(settings.database_url)
        with ledger.begin() as session:
            session.add(JobRun(job=WEEKLY_JOB, slot=due, host=DEAD, started_at=due, retry_at=now))
        smtp.fail_next("hang")

        with running(config_path) as first:
            wait_until("the mail server to hold the report", lambda: smtp.holding == 1, 120)
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        wait_until("the mail server to see the sender gone", lambda: smtp.holding == 0)
        smtp.release()
        assert smtp.messages == []  # never accepted: the report is not out yet
        lease_until = row(ledger, WEEKLY_JOB, due).lease_until
        assert lease_until is not None  # the killed daemon's
        wait_until("its lease to run out", lambda: datetime.now(UTC) > lease_until)

        with running(config_path) as second:
            wait_for_line(second, "weekly report sent", seconds=120)
        [report] = smtp.messages
    assert report.rcpt_tos == ["cell@indiapost.gov.in"]
    sent = row(ledger, WEEKLY_JOB, due)
    assert (sent.tries, sent.outcome) == (3, "done")  # the dead host's, the killed, the restarted
    assert sent.host.endswith(f":{second.pid}")
    ledger.kw["bind"].dispose()


@pytest.mark.both_stores
def test_a_weekly_report_whose_daemons_keep_dying_is_given_up_not_tried_for_ever(
    config_path: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each take counts as a try: a report that kills its daemons (or that the server takes
    just before each dies) is not sent again and again."""
    with weekly_mail(config_path, monkeypatch) as (smtp, settings):
        live = daemon(settings, clock, "host-a")
        live._schedule_periodic()
        monday = datetime(2026, 11, 30, 9, 0, tzinfo=settings.zone).astimezone(UTC)
        clock.now = monday
        with live.engine.ledger.begin() as session:
            assert take_slot(session, WEEKLY_JOB, monday, "dead-host:1", clock(), LEASE)
        for n in range(2, WEEKLY_RETRIES + 2):  # as many tries as a busy server gets, all cut short
            clock.advance(minutes=2)
            with live.engine.ledger.begin() as session:
                assert take_due(session, WEEKLY_JOB, f"dead-host:{n}", clock(), LEASE)
        clock.advance(minutes=2)
        check(live)
        assert smtp.messages == []
    assert "publisher report --from 2026-11-23 --to 2026-11-29 --email" in caplog.text
    given_up = row(live.engine.ledger, WEEKLY_JOB, monday)
    assert (given_up.host, given_up.outcome) == (live.host, "gave_up")
