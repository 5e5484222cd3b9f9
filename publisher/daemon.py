"""Wiring: the engine's parts put together, and the clock that drives them.

One tick is a scan of the queue folder, then dispatch of everything due, then the officers' files
refreshed. ``--once`` runs one tick; the service runs ticks on an APScheduler interval job. The
scheduler only keeps time: what is due is decided by the ledger, so a restart loses nothing.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.orm import Session, sessionmaker
from watchdog.observers import Observer

from publisher.adapters import load_adapters
from publisher.clock import Clock
from publisher.config import Settings
from publisher.credentials import Credentials
from publisher.dispatch import Dispatcher
from publisher.intake import Intake, Result, Watcher
from publisher.notify import notify, watchdog_seconds
from publisher.receipts import refresh
from publisher.render import Renderer
from publisher.store.db import open_ledger
from publisher.store.ledger import Claim

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tick:
    taken: list[Result]
    sent: list[Claim]

    def summary(self) -> str:
        """One line for systemd's STATUS=."""
        return f"last pass: {len(self.taken)} post files taken, {len(self.sent)} deliveries handled"


class Engine:
    def __init__(self, settings: Settings, *, dry_run: bool, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.credentials = Credentials(settings.credentials.file)
        adapters = load_adapters(settings, self.credentials, dry_run=dry_run, clock=clock)
        self.ledger: sessionmaker[Session] = open_ledger(settings.database_url)
        renderer = Renderer.from_settings(settings)
        self.intake = Intake(settings, renderer, self.ledger, clock)
        self.dispatcher = Dispatcher(
            self.ledger,
            adapters,
            clock,
            settings.dispatch,
            settings.paths.queue,
            redact=self.credentials.redact,
        )
        self.intake.prepare()

    def tick(self) -> Tick:
        taken = self.intake.scan()
        sent = self.dispatcher.reconcile_expired() + self.dispatcher.run_due()
        refresh(
            self.ledger,
            self.settings.paths.queue,
            self.settings.zone,
            {c.post_id for c in sent},
            self.clock(),
        )
        return Tick(taken, sent)

    def run_once(self) -> Tick:
        """One pass for ``--once``; files still settling (just copied in) are waited for once."""
        first = self.tick()
        if not self.intake.settler.watching():
            return first
        time.sleep(self.settings.intake.settle_seconds)
        second = self.tick()
        return Tick(first.taken + second.taken, first.sent + second.sent)


def serve(engine: Engine) -> None:
    """Run ticks every ``intake.poll_seconds``, and at once when a post file arrives, until SIGTERM
    or SIGINT; a failed tick is logged and the next one runs as usual."""
    scheduler = BlockingScheduler(timezone=engine.settings.zone)
    arrived = threading.Event()
    # Each tick ends with WATCHDOG=1, so a tick stuck for longer than WatchdogSec gets the service
    # restarted; ticks come at least twice per watchdog interval.
    watchdog = watchdog_seconds()
    every = min(engine.settings.intake.poll_seconds, watchdog / 2 if watchdog else float("inf"))

    def guarded_tick() -> None:
        # A file that arrives while a tick runs cannot start another (one instance at a time):
        # the running tick sees the flag and goes round again.
        while True:
            arrived.clear()
            try:
                tick = engine.tick()
            except Exception:
                logger.exception("tick failed; the next one will try again")
            else:
                notify("WATCHDOG=1", f"STATUS={tick.summary()}")
            if not arrived.is_set():
                return

    def wake() -> None:
        arrived.set()
        scheduler.modify_job("tick", next_run_time=engine.clock())

    scheduler.add_job(
        guarded_tick,
        "interval",
        seconds=every,
        id="tick",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        next_run_time=engine.clock(),
    )
    observer = Observer()
    watcher = Watcher(engine.intake.settler, wake)
    for unit in engine.settings.units:
        observer.schedule(watcher, str(engine.settings.paths.queue / unit), recursive=False)

    def stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s, stopping after the current tick", signal.Signals(signum).name)
        notify("STOPPING=1")
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    observer.start()
    notify("READY=1", "STATUS=watching the queue")  # ledger migrated, folders and credentials ok
    logger.info(
        "watching %s (folder events, and a scan every %gs)",
        engine.settings.paths.queue,
        engine.settings.intake.poll_seconds,
    )
    try:
        scheduler.start()
    finally:
        observer.stop()
        observer.join()
