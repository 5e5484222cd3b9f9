"""The engine's parts put together, and one pass of work through them.

One tick is the recurring posts' latest firings created, deliveries too long overdue marked late,
a scan of the queue folder, then reconciling deliveries a crash left uncertain, then dispatch of
everything due, then the officers' files refreshed. ``run --once`` runs one tick; the
daemon (daemon.py) runs ticks on a clock. What is due is decided by the ledger, never by the clock,
so a restart loses nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from publisher.adapters import load_adapters
from publisher.amplify import amplify_plan
from publisher.clock import Clock
from publisher.config import Settings
from publisher.credentials import Credentials
from publisher.dispatch import Dispatcher
from publisher.intake import Intake, Result
from publisher.receipts import local, refresh
from publisher.recurring import Recurring
from publisher.render import Renderer
from publisher.store.db import open_ledger
from publisher.store.ledger import Claim, Late, mark_late

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tick:
    taken: list[Result]
    sent: list[Claim]
    created: list[int] = field(default_factory=list)  # posts of recurring rules' firings
    late: list[Late] = field(default_factory=list)

    def summary(self) -> str:
        """One line for systemd's STATUS=."""
        late = f", {len(self.late)} late" if self.late else ""
        return (
            f"last pass: {len(self.taken)} post files taken, {len(self.created)} recurring posts "
            f"created, {len(self.sent)} deliveries handled{late}"
        )


class Engine:
    def __init__(self, settings: Settings, *, dry_run: bool, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.credentials = Credentials(settings.credentials.file)
        adapters = load_adapters(settings, self.credentials, dry_run=dry_run, clock=clock)
        self.ledger: sessionmaker[Session] = open_ledger(settings.database_url)
        renderer = Renderer.from_settings(settings)
        self.recurring = Recurring(settings, renderer, self.ledger, clock)  # bad rules stop here
        self.intake = Intake(settings, renderer, self.ledger, clock)
        self.dispatcher = Dispatcher(
            self.ledger,
            adapters,
            clock,
            settings.dispatch,
            settings.paths.queue,
            redact=self.credentials.redact,
            amplify=amplify_plan(settings),
        )
        self.intake.prepare()

    def tick(self) -> Tick:
        created = self.recurring.catch_up()
        late = self.mark_late()
        taken = self.intake.scan()
        sent = self.dispatcher.reconcile_expired() + self.dispatcher.run_due()
        refresh(
            self.ledger,
            self.settings.paths.queue,
            self.settings.zone,
            {c.post_id for c in sent}
            | {r.post_id for r in taken if r.post_id is not None}
            | set(created)
            | {d.post_id for d in late},
            self.clock(),
        )
        return Tick(taken, sent, created, late)

    def mark_late(self) -> list[Late]:
        """Before dispatch: deliveries due longer ago than ``dispatch.late_after_hours`` (the
        engine was down) become ``late`` instead of going out, each with a warning."""
        cutoff = timedelta(hours=self.settings.dispatch.late_after_hours)
        with self.ledger.begin() as session:
            late = mark_late(session, self.clock(), cutoff)
        for d in late:
            logger.warning(
                "delivery %d to %s (%s) is late and is not sent: it was due at %s, more than %g "
                "hours ago (dispatch.late_after_hours)",
                d.delivery_id,
                d.account,
                d.locale,
                local(d.due, self.settings.zone),
                self.settings.dispatch.late_after_hours,
            )
        return late

    def run_once(self) -> Tick:
        """One pass for ``--once``; files still settling (just copied in) are waited for once."""
        first = self.tick()
        if not self.intake.settler.watching():
            return first
        time.sleep(self.settings.intake.settle_seconds)
        second = self.tick()
        return Tick(
            first.taken + second.taken,
            first.sent + second.sent,
            first.created + second.created,
            first.late + second.late,
        )
