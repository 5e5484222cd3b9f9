"""The engine's parts put together, and one pass of work through them.

One tick is a scan of the queue folder, then reconciling deliveries a crash left uncertain, then
dispatch of everything due, then the officers' files refreshed. ``run --once`` runs one tick; the
daemon (daemon.py) runs ticks on a clock. What is due is decided by the ledger, never by the clock,
so a restart loses nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from publisher.adapters import load_adapters
from publisher.clock import Clock
from publisher.config import Settings
from publisher.credentials import Credentials
from publisher.dispatch import Dispatcher
from publisher.evergreen import load_pools
from publisher.freshness import Freshness, Sweep, mailer
from publisher.intake import Intake, Result
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
        self.freshness = Freshness(
            settings,
            renderer,
            self.ledger,
            clock,
            load_pools(settings, renderer, clock()),
            mailer(settings, self.credentials, clock),
            dry_run=dry_run,
        )

    def tick(self) -> Tick:
        taken = self.intake.scan()
        sent = self.dispatcher.reconcile_expired() + self.dispatcher.run_due()
        refresh(
            self.ledger,
            self.settings.paths.queue,
            self.settings.zone,
            {c.post_id for c in sent} | {r.post_id for r in taken if r.post_id is not None},
            self.clock(),
        )
        return Tick(taken, sent)

    def sweep_freshness(self) -> Sweep:
        """Warn, publish from the evergreen pools, alert: the 7-day guarantee (freshness.py)."""
        return self.freshness.sweep()

    def run_once(self) -> Tick:
        """One pass for ``--once``; files still settling (just copied in) are waited for once."""
        first = self.tick()
        if not self.intake.settler.watching():
            return first
        time.sleep(self.settings.intake.settle_seconds)
        second = self.tick()
        return Tick(first.taken + second.taken, first.sent + second.sent)
