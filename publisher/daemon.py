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
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from watchdog.observers import Observer

from publisher.engine import Engine
from publisher.errors import PublisherError
from publisher.intake import Watcher
from publisher.notify import notify, watchdog_seconds

logger = logging.getLogger(__name__)

JOB = "tick"
SWEEP = "freshness"


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

    def _sweep(self) -> None:
        """The freshness sweep (the 7-day guarantee), at start and every sweep_minutes."""
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
