"""The long-running service: APScheduler as the clock, folder events, signals, systemd notify.

APScheduler keeps time only (a memory job store, the job added at start): every tick asks the
ledger what is due. Folder events bring a tick forward so a dropped file goes out at once. SIGTERM
and SIGINT stop after the current tick; SIGHUP re-reads config.toml, keeping the running
configuration if the new one is bad. Each tick ends with WATCHDOG=1, so a tick stuck for longer
than WatchdogSec gets the service restarted; ticks come at least twice per watchdog interval.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import timedelta
from types import FrameType
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from watchdog.observers import Observer

from publisher.adapters.base import Adapter
from publisher.engine import Engine
from publisher.errors import PublisherError, TransientError
from publisher.intake import Watcher
from publisher.metrics import MeasuringAdapters, collect
from publisher.notify import notify, watchdog_seconds
from publisher.weekly import CRON_DAYS, send_weekly

logger = logging.getLogger(__name__)

JOB = "tick"
METRICS_JOB = "metrics"
WEEKLY_JOB = "weekly-report"
WEEKLY_RETRY_JOB = "weekly-report-retry"
WEEKLY_RETRIES, WEEKLY_RETRY_MINUTES = 6, 30


class Daemon:
    def __init__(self, engine: Engine, reload: Callable[[], Engine]) -> None:
        self.engine = engine
        self._reload = reload
        self._arrived = threading.Event()
        self._reload_wanted = threading.Event()
        self._scheduler = BlockingScheduler(timezone=engine.settings.zone)
        self._observer = Observer()

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
        self._watch()
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGHUP, self._hang_up)
        self._observer.start()
        notify("READY=1", "STATUS=watching the queue")  # ledger migrated, folders, credentials ok
        logger.info(
            "watching %s (folder events, and a scan every %gs)",
            self.engine.settings.paths.queue,
            poll,
        )
        try:
            self._scheduler.start()
        finally:
            self._observer.stop()
            self._observer.join()

    def _tick(self) -> None:
        # A file that arrives while a tick runs cannot start another (one instance at a time):
        # the running tick sees the flag and goes round again.
        while True:
            self._arrived.clear()
            if self._reload_wanted.is_set():
                self._reload_config()
            try:
                tick = self.engine.tick()
            except Exception:
                logger.exception("tick failed; the next one will try again")
            else:
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
            self._scheduler.add_job(
                self._send_weekly_report,
                CronTrigger(
                    day_of_week=CRON_DAYS[weekly.day],
                    hour=int(hour),
                    minute=int(minute),
                    timezone=settings.zone,
                ),
                id=WEEKLY_JOB,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
            )

    def _collect_metrics(self) -> None:
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

    def _wake(self) -> None:
        self._arrived.set()
        self._scheduler.modify_job(JOB, next_run_time=self.engine.clock())

    def _watch(self) -> None:
        self._observer.unschedule_all()
        watcher = Watcher(self.engine.intake.settler, self._wake)
        for unit in self.engine.settings.units:
            folder = self.engine.settings.paths.queue / unit
            self._observer.schedule(watcher, str(folder), recursive=False)

    def _reload_config(self) -> None:
        self._reload_wanted.clear()
        try:
            fresh = self._reload()
        except (PublisherError, OSError) as exc:
            logger.error("config.toml was not reloaded; the running configuration stays: %s", exc)
            return
        self.engine = fresh
        self._watch()
        logger.info("config.toml reloaded")

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s, stopping after the current tick", signal.Signals(signum).name)
        notify("STOPPING=1")
        self._scheduler.shutdown(wait=False)

    def _hang_up(self, _signum: int, _frame: FrameType | None) -> None:
        logger.info("received SIGHUP, reloading config.toml")
        self._reload_wanted.set()
        self._wake()
