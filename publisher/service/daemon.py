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
the ledger runs it, holding a lease on it meanwhile. A period whose daemon died mid-job is taken
over by the next daemon to ask: for the sweep and metrics, one firing within the same period; for
the weekly report, the check that every daemon runs every minute, which also sends the report's
retries (they wait in the ledger, so they survive a restart or move to another daemon). SIGHUP
also reschedules these jobs from the fresh settings. store/jobs.py and periodic.py say more.
"""

from __future__ import annotations

import logging
import os
import queue
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
from publisher.dispatch.workers import Workers
from publisher.errors import PublisherError
from publisher.intake.settle import Watcher
from publisher.reports.metrics import MeasuringAdapters, collect
from publisher.reports.weekly import CRON_DAYS
from publisher.service.engine import Engine, Tick
from publisher.service.periodic import WEEKLY_JOB, PeriodicJobs
from publisher.service.systemd import notify, watchdog_seconds
from publisher.store.ledger import Claim

logger = logging.getLogger(__name__)

JOB = "tick"
RULE_JOB = "rule:"  # + the rule's name: one cron job per recurring post
METRICS_JOB = "metrics"
WEEKLY_RETRY_JOB = "weekly-report-retry"  # every minute: a retry due, or a sender gone
SWEEP = "freshness"
SIGNAL_SECONDS = 0.5  # the longest a signal waits to be obeyed


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
        self._periods = PeriodicJobs(lambda: self.engine, self.host)
        self._reload = reload
        self._arrived = threading.Event()
        self._reload_wanted = threading.Event()
        self._stop_asked: float | None = None
        self._signals: queue.SimpleQueue[tuple[int, float]] = queue.SimpleQueue()  # and when
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
        self._schedule_periodic()
        self._schedule_rules()
        # Started before anything can wake it (a signal, a folder event): a wake moves its tick
        # job, which it cannot find while it is starting. Paused, and the workers started, only
        # once the daemon has said it is watching, so that its work is logged after that line.
        self._scheduler.start(paused=True)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        self._watch()
        self._observer.start()
        notify("READY=1", "STATUS=watching the queue")  # ledger migrated, folders, credentials ok
        logger.info(
            "watching %s (folder events, and a scan every %gs)",
            self.engine.settings.paths.queue,
            poll,
        )
        self._scheduler.resume()
        self._workers.ensure(self.engine.platforms())
        try:
            self._obey_signals()
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
        self.engine.close()
        logger.info("stopped")

    # The workers reach the engine through these, so that after a reload they use the new one;
    # the one replaced is held open until their pass on it ends.
    def _dispatch(self, platform: str, stop: threading.Event) -> list[Claim]:
        with self.engine.in_use() as engine:
            return engine.dispatch(platform, stop)

    def _next_due(self, platform: str) -> datetime | None:
        with self.engine.in_use() as engine:
            return engine.next_due(platform)

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

    def _schedule_periodic(self) -> None:
        """The sweep every ``freshness.sweep_minutes``, metrics every ``metrics.interval_minutes``,
        both first at once; the weekly report at its day and time, when ``[reports] weekly`` is
        configured, with the check for its retries every minute. They run beside the ticks, never
        in their way. Called again on SIGHUP: a changed interval counts from the reload (a run at
        once would take the next period early), a changed weekly time replaces the old one."""
        settings = self.engine.settings
        self._every(SWEEP, self._sweep, settings.freshness.sweep_minutes)
        self._every(METRICS_JOB, self._collect_metrics, settings.metrics.interval_minutes)
        weekly = settings.reports.weekly
        if weekly is None:
            for job in (WEEKLY_JOB, WEEKLY_RETRY_JOB):
                if self._scheduler.get_job(job) is not None:
                    self._scheduler.remove_job(job)
            return
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
            misfire_grace_time=None,  # late (a busy machine) is still sent: see _every
        )
        self._every(WEEKLY_RETRY_JOB, self._weekly_retry, 1)

    def _every(self, job: str, run: Callable[[], None], minutes: float) -> None:
        """``run`` every ``minutes``, first at once. A run the scheduler's thread wakes late for
        (a loaded machine, a paused VM) still happens: APScheduler's default would skip one
        more than a second late, and a skipped sweep is an hour without one."""
        scheduled = self._scheduler.get_job(job)
        if scheduled is None:
            self._scheduler.add_job(
                run,
                "interval",
                minutes=minutes,
                id=job,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
                next_run_time=self.engine.clock(),
            )
        elif scheduled.trigger.interval != timedelta(minutes=minutes):
            self._scheduler.reschedule_job(job, trigger="interval", minutes=minutes)
            logger.info("%s: now every %g minutes", job, minutes)

    def _collect_metrics(self) -> None:
        with self.engine.in_use() as engine:
            sending = engine.dispatcher.adapters
            fresh = MeasuringAdapters(engine.settings, engine.credentials, engine.clock)

            def adapter_for(key: str) -> Adapter[Any] | None:
                """A dry run's accounts have nothing on the platforms to measure."""
                return None if key not in sending or sending[key].dry_run else fresh(key)

            self._periods.run(
                METRICS_JOB,
                engine.settings.metrics.interval_minutes,
                lambda: collect(engine.ledger, adapter_for, engine.settings.metrics, engine.clock),
            )

    def _weekly_report(self, trigger: CronTrigger) -> None:
        """At the weekly report's day and time: the daemon that takes this firing sends it; the
        others leave it."""
        with self.engine.in_use() as engine:
            self._periods.weekly_report(fired_at(trigger, engine.clock()))

    def _weekly_retry(self) -> None:
        with self.engine.in_use():
            self._periods.weekly_retry()

    def _sweep(self) -> None:
        """The freshness sweep (the 7-day guarantee), at start and every sweep_minutes; once per
        period of sweep_minutes across the daemons sharing the ledger."""
        with self.engine.in_use() as engine:
            self._periods.run(
                SWEEP, engine.settings.freshness.sweep_minutes, engine.sweep_freshness
            )

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
            with self.engine.in_use() as engine:
                engine.recurring.fire(name)
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
        replaced, self.engine = self.engine, fresh
        replaced.close()
        self._watch()
        self._schedule_rules()
        self._schedule_periodic()
        self._workers.ensure(fresh.platforms())
        logger.info("config.toml reloaded")

    def _obey_signals(self) -> None:
        """Until SIGTERM or SIGINT. A handler runs on the main thread wherever that was stopped,
        maybe holding a lock the work needs (the scheduler's, the log's): so the handler only
        queues the signal and the work is done here. The wait wakes every SIGNAL_SECONDS: Python
        runs a handler between two steps of Python code, and blocked on a lock the main thread
        would miss a signal that came just before it blocked, or that the kernel gave another
        thread."""
        while True:
            try:
                signum, when = self._signals.get(timeout=SIGNAL_SECONDS)
            except queue.Empty:
                continue
            if signum == signal.SIGHUP:
                self._hang_up()
            else:
                self._stop(signum, when)
                return

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals.put((signum, time.monotonic()))  # SimpleQueue.put is safe here: reentrant

    def _stop(self, signum: int, when: float) -> None:
        logger.info(
            "received %s, stopping: no more deliveries are claimed, calls in flight get %gs",
            signal.Signals(signum).name,
            self.engine.settings.dispatch.stop_seconds,
        )
        notify("STOPPING=1")
        self._stop_asked = when  # the bound counts from the signal
        self._workers.halt()  # claim nothing more, at once; run() then waits for the calls

    def _hang_up(self) -> None:
        logger.info("received SIGHUP, reloading config.toml")
        self._reload_wanted.set()
        self._wake()
