"""The long-running service: APScheduler as the clock, folder events, dispatch workers, signals,
systemd notify.

APScheduler keeps time only (a memory job store, the job added at start). Its tick is intake: the
queue folder scanned, then every platform's worker woken; folder events bring a tick forward so a
dropped file goes out at once. Each platform is dispatched by a worker of its own (workers.py),
which also wakes when its next delivery falls due, so a platform that hangs holds only itself.

SIGTERM and SIGINT: no delivery is claimed any more, the current intake tick finishes, calls in
flight get ``dispatch.stop_seconds`` to finish, then the process exits 0; a call still running is
left ``sending``, its lease no longer renewed, and reconciled once the lease has run out (by any
daemon sharing the ledger, or by this one at its next start), never sent blindly.
SIGHUP re-reads config.toml, keeping the running configuration if the new one is bad. Each tick
ends with WATCHDOG=1, so intake stuck for longer than WatchdogSec gets the service restarted;
ticks come at least twice per watchdog interval.

The periodic jobs (the freshness sweep, metrics, the weekly report) fire in every daemon, but run
once per period across all the daemons sharing the ledger: the first to take the period's slot in
the ledger runs it (store/jobs.py says what happens when that daemon dies mid-job).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from watchdog.observers import Observer

from publisher.adapters.base import Adapter
from publisher.engine import Engine, Tick
from publisher.errors import PublisherError, TransientError
from publisher.metrics import MeasuringAdapters, collect
from publisher.notify import notify, watchdog_seconds
from publisher.settle import Watcher
from publisher.store.jobs import interval_slot, take_slot
from publisher.store.ledger import Claim
from publisher.weekly import CRON_DAYS, send_weekly
from publisher.workers import Workers

logger = logging.getLogger(__name__)

JOB = "tick"
RULE_JOB = "rule:"  # + the rule's name: one cron job per recurring post
METRICS_JOB = "metrics"
WEEKLY_JOB = "weekly-report"
WEEKLY_RETRY_JOB = "weekly-report-retry"
WEEKLY_RETRIES, WEEKLY_RETRY_MINUTES = 6, 30
SWEEP = "freshness"


def fired_at(trigger: CronTrigger, now: datetime) -> datetime:
    """The trigger's latest fire time at or before ``now``: the slot of the run going on now
    (APScheduler 3 does not tell a job the time it was fired for). Looks back eight days, enough
    for a weekly trigger even across a change of daylight saving time."""
    fired: datetime = trigger.get_next_fire_time(None, now - timedelta(days=8))
    while True:
        following = trigger.get_next_fire_time(fired, fired)
        if following is None or following > now:
            return fired
        fired = following


class Daemon:
    def __init__(self, engine: Engine, reload: Callable[[], Engine]) -> None:
        self.engine = engine
        # How the ledger's record of the jobs it runs names this daemon: its host and process.
        self.host = f"{engine.intake.host}:{os.getpid()}"
        self._slots: dict[str, datetime] = {}  # per interval job, the last period asked for
        self._reload = reload
        self._arrived = threading.Event()
        self._reload_wanted = threading.Event()
        self._stop_asked: float | None = None
        self._stopping = threading.Event()  # set by SIGTERM or SIGINT, even before the clock runs
        self._scheduler = BackgroundScheduler(timezone=engine.settings.zone)
        self._observer = Observer()
        self._workers = Workers(
            self._dispatch, self._next_due, engine.clock, engine.settings.intake.poll_seconds
        )

    def run(self) -> None:
        """Until SIGTERM or SIGINT."""
        watchdog = watchdog_seconds()
        poll = self.engine.settings.intake.poll_seconds
        self._scheduler.add_job(
            self._tick,
            "interval",
            seconds=min(poll, watchdog / 2) if watchdog else poll,
            id=JOB,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            next_run_time=self.engine.clock(),
        )
        self._add_report_jobs()
        self._scheduler.add_job(
            self._sweep,
            "interval",
            minutes=self.engine.settings.freshness.sweep_minutes,
            id=SWEEP,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            next_run_time=self.engine.clock(),
        )
        self._watch()
        self._schedule_rules()
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGHUP, self._hang_up)
        self._observer.start()
        self._workers.ensure(self.engine.platforms())
        notify("READY=1", "STATUS=watching the queue")  # ledger migrated, folders, credentials ok
        logger.info(
            "watching %s (folder events, and a scan every %gs)",
            self.engine.settings.paths.queue,
            poll,
        )
        self._scheduler.start()
        try:
            self._stopping.wait()  # a signal that came before this line has set it already
        finally:
            self._scheduler.shutdown(wait=False)
            self._observer.stop()
            self._observer.join()
            self._finish()

    def _finish(self) -> None:
        bound = self.engine.settings.dispatch.stop_seconds
        spent = time.monotonic() - (self._stop_asked or time.monotonic())
        for platform in self._workers.stop(max(bound - spent, 0.0)):
            logger.warning(
                "a call to %s is still running after %gs: its delivery stays 'sending' and is "
                "reconciled with the platform once its lease expires, never sent blindly",
                platform,
                bound,
            )
        logger.info("stopped")

    # The workers reach the engine through these, so that after a reload they use the new one.
    def _dispatch(self, platform: str, stop: threading.Event) -> list[Claim]:
        return self.engine.dispatch(platform, stop)

    def _next_due(self, platform: str) -> datetime | None:
        return self.engine.dispatcher.next_due(platform)

    def _tick(self) -> None:
        # A file that arrives while a tick runs cannot start another (one instance at a time):
        # the running tick sees the flag and goes round again.
        while True:
            self._arrived.clear()
            if self._reload_wanted.is_set():
                self._reload_config()
            try:
                intake = self.engine.take()
            except Exception:
                logger.exception("tick failed; the next one will try again")
            else:
                self._workers.wake()  # new deliveries; or changes by others (resolve)
                tick = Tick(intake.taken, self._workers.drain(), intake.created)
                notify("WATCHDOG=1", f"STATUS={tick.summary()}")
            if not self._arrived.is_set():
                return

    def _add_report_jobs(self) -> None:
        """Metrics every ``[metrics] interval_minutes``; the weekly report at its day and time,
        when ``[reports] weekly`` is configured. Both run beside the ticks, never in their way."""
        settings = self.engine.settings
        self._scheduler.add_job(
            self._collect_metrics,
            "interval",
            minutes=settings.metrics.interval_minutes,
            id=METRICS_JOB,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            next_run_time=self.engine.clock(),
        )
        weekly = settings.reports.weekly
        if weekly is not None:
            hour, minute = weekly.time.split(":")
            trigger = CronTrigger(
                day_of_week=CRON_DAYS[weekly.day],
                hour=int(hour),
                minute=int(minute),
                timezone=settings.zone,
            )
            self._scheduler.add_job(
                self._weekly_report,
                trigger,
                args=(trigger,),
                id=WEEKLY_JOB,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
            )

    def _take(self, job: str, slot: datetime) -> bool:
        """Whether this daemon runs ``job`` for the period starting at ``slot``: only the first of
        the daemons sharing the ledger to ask does; on SQLite, the one daemon always does."""
        try:
            with self.engine.ledger.begin() as session:
                won = take_slot(session, job, slot, self.host, self.engine.clock())
        except Exception:
            logger.exception("%s of %s was not run: the ledger could not be asked", job, slot)
            return False
        if not won:
            logger.info("%s of %s: another daemon sharing the ledger runs it", job, slot)
        return won

    def _take_period(self, job: str, minutes: float) -> bool:
        """Whether this daemon runs an interval job now: for the period ``now`` falls in, unless
        it asked for that one already. That happens when a run started late, just past a
        period's start, and the next one on time, just before the next period's start: that
        next run takes the next period, so that one daemon alone never skips a run of its own."""
        interval = timedelta(minutes=minutes)
        slot = interval_slot(self.engine.clock(), interval)
        last = self._slots.get(job)
        if last is not None and slot <= last:
            slot = interval_slot(last, interval) + interval
        self._slots[job] = slot
        return self._take(job, slot)

    def _collect_metrics(self) -> None:
        if not self._take_period(METRICS_JOB, self.engine.settings.metrics.interval_minutes):
            return
        engine = self.engine
        sending = engine.dispatcher.adapters
        fresh = MeasuringAdapters(engine.settings, engine.credentials, engine.clock)

        def adapter_for(key: str) -> Adapter[Any] | None:
            """A dry run's accounts have nothing on the platforms to measure."""
            return None if key not in sending or sending[key].dry_run else fresh(key)

        try:
            collect(engine.ledger, adapter_for, engine.settings.metrics, engine.clock)
        except Exception:
            logger.exception("collecting metrics failed; the next collection will try again")

    def _weekly_report(self, trigger: CronTrigger) -> None:
        """At the weekly report's day and time: the daemon that takes this firing sends it, and
        alone tries again (its retries ask the ledger nothing); the others leave it."""
        if self._take(WEEKLY_JOB, fired_at(trigger, self.engine.clock())):
            self._send_weekly_report()

    def _send_weekly_report(self, tries_left: int = WEEKLY_RETRIES) -> None:
        """A failure the mail server may get over (down, busy) is tried again every
        WEEKLY_RETRY_MINUTES, a few times; after that, ``publisher report --email`` sends it."""
        engine = self.engine
        try:
            message = send_weekly(
                engine.settings, engine.ledger, engine.credentials, engine.clock()
            )
        except TransientError as exc:
            if not tries_left:
                logger.error("the weekly report was not sent, and will not be tried again: %s", exc)
                return
            logger.warning(
                "the weekly report was not sent; trying again in %d minutes: %s",
                WEEKLY_RETRY_MINUTES,
                exc,
            )
            self._scheduler.add_job(
                self._send_weekly_report,
                "date",
                run_date=engine.clock() + timedelta(minutes=WEEKLY_RETRY_MINUTES),
                args=[tries_left - 1],
                id=WEEKLY_RETRY_JOB,
                replace_existing=True,
            )
        except Exception:
            logger.exception("the weekly report was not sent")
        else:
            logger.info("weekly report sent to %s", message["To"])

    def _sweep(self) -> None:
        """The freshness sweep (the 7-day guarantee), at start and every sweep_minutes; once per
        period of sweep_minutes across the daemons sharing the ledger."""
        if not self._take_period(SWEEP, self.engine.settings.freshness.sweep_minutes):
            return
        try:
            self.engine.sweep_freshness()
        except Exception:
            logger.exception("freshness sweep failed; the next one will try again")

    def _wake(self) -> None:
        self._arrived.set()
        self._scheduler.modify_job(JOB, next_run_time=self.engine.clock())

    def _watch(self) -> None:
        self._observer.unschedule_all()
        watcher = Watcher(self.engine.intake.settler, self._wake)
        for unit in self.engine.settings.units:
            folder = self.engine.settings.paths.queue / unit
            self._observer.schedule(watcher, str(folder), recursive=False)

    def _schedule_rules(self) -> None:
        """One cron job per recurring rule, in the organisation's zone, replacing the last set.

        A job creates its firing's post and wakes a tick. It is only the alarm clock: each tick
        also settles every rule's latest firing, so a firing APScheduler misses (the daemon was
        down, the pool was busy) still happens once.
        """
        for job in self._scheduler.get_jobs():
            if job.id.startswith(RULE_JOB):
                job.remove()
        for rule in self.engine.recurring.rules.values():
            self._scheduler.add_job(
                self._fire,
                rule.trigger,
                args=(rule.name,),
                id=RULE_JOB + rule.name,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
            )

    def _fire(self, name: str) -> None:
        try:
            self.engine.recurring.fire(name)
        except Exception:
            logger.exception("recurring post %s failed to fire; the next tick tries again", name)
        self._wake()

    def _reload_config(self) -> None:
        self._reload_wanted.clear()
        try:
            fresh = self._reload()
        except (PublisherError, OSError) as exc:
            logger.error("config.toml was not reloaded; the running configuration stays: %s", exc)
            return
        self.engine = fresh
        self._watch()
        self._schedule_rules()
        self._workers.ensure(fresh.platforms())
        logger.info("config.toml reloaded")

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        logger.info(
            "received %s, stopping: no more deliveries are claimed, calls in flight get %gs",
            signal.Signals(signum).name,
            self.engine.settings.dispatch.stop_seconds,
        )
        notify("STOPPING=1")
        self._stop_asked = time.monotonic()  # the bound counts from here
        self._workers.halt()  # claim nothing more, at once; run() then waits for the calls
        self._stopping.set()

    def _hang_up(self, _signum: int, _frame: FrameType | None) -> None:
        logger.info("received SIGHUP, reloading config.toml")
        self._reload_wanted.set()
        self._wake()
