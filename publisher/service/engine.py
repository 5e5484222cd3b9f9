"""The engine's parts put together, and one pass of work through them.

Work comes in two kinds that never wait on each other: intake (the recurring posts' latest
firings created, a scan of the queue folder, the officers' files refreshed) and dispatch of one
platform (deliveries too long overdue marked late, reconciling deliveries a crash left uncertain,
then sending what is due, then their files refreshed). One tick is intake, then every platform's
dispatch side by side. ``run --once`` runs one tick; the daemon (daemon.py) runs intake on a clock
and each platform's dispatch in a worker of its own. What is due is decided by the ledger, never by
the clock, so a restart loses nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from publisher.adapters.base import Adapter
from publisher.adapters.registry import adapter_class, load_adapters, options
from publisher.clock import Clock, local
from publisher.config.credentials import Credentials
from publisher.config.settings import Settings
from publisher.dispatch.dispatcher import Dispatcher
from publisher.dispatch.holds import held, held_accounts
from publisher.dispatch.quotas import Quotas
from publisher.intake.evergreen import load_pools
from publisher.intake.officer_files import refresh
from publisher.intake.queue import Intake, Result
from publisher.intake.recurring import Recurring
from publisher.oversight.freshness import Freshness, Sweep, mailer
from publisher.planning.amplify import amplify_plan
from publisher.planning.render import Renderer
from publisher.store.db import Ledger, make_engine, ready
from publisher.store.late import Late, mark_late
from publisher.store.ledger import Claim, platforms_at_work

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
    """The composition root: every part built from one configuration, sharing one ledger.

    Building it reads the configuration's files (templates, schedules, evergreen pools) and
    connects to nothing; ``start()`` opens the ledger and readies the queue folder, ``close()``
    releases the ledger's connections. Work that other threads run on it (a dispatch pass, a
    periodic job) holds it ``in_use()``, so that closing it on a reload never pulls the pool from
    under that work: the pool is released when the last of it ends.
    """

    def __init__(
        self, settings: Settings, *, dry_run: bool, clock: Clock, host: str | None = None
    ) -> None:
        """``host``: the name this daemon takes queue files under, ``run --host`` (default: this
        machine's name); the caller holds that name's lock (hosts.hold) when other daemons may
        share the queue folder."""
        self.settings = settings
        self.clock = clock
        self.credentials = Credentials(settings.credentials.file)
        adapters = load_adapters(settings, self.credentials, dry_run=dry_run, clock=clock)
        self._database = make_engine(settings.database_url)  # connects at start()
        self.ledger: sessionmaker[Session] = Ledger(self._database)
        renderer = Renderer.from_settings(settings)
        self.recurring = Recurring(settings, renderer, self.ledger, clock)  # bad rules stop here
        self.intake = Intake(settings, renderer, self.ledger, clock, host)
        self.dispatcher = Dispatcher(
            self.ledger,
            adapters,
            clock,
            settings.dispatch,
            settings.paths.queue,
            redact=self.credentials.redact,
            amplify=amplify_plan(settings),
            quotas=platform_quotas(settings, adapters),
            blackouts=settings.blackouts,
        )
        self._files = threading.Lock()  # the officers' files: one writer at a time
        self._users = 0  # pieces of work running on it (in_use)
        self._closing = False
        self._use = threading.Lock()
        self.freshness = Freshness(
            settings,
            renderer,
            self.ledger,
            clock,
            load_pools(settings, renderer, clock()),
            mailer(settings, self.credentials, clock),
            dry_run=dry_run,
        )

    def start(self) -> Engine:
        """Make the ledger ready (SQLite brought up to date, PostgreSQL's schema checked) and the
        unit folders, putting back what a crash of this host left in ``processing/``. Returns
        the engine, started.

        Raises:
            SchemaOutOfDateError: PostgreSQL's schema is behind this version's.
        """
        ready(self._database)
        self.intake.prepare()
        return self

    def close(self) -> None:
        """Release the ledger's pool of connections, now or, while work holds the engine
        ``in_use()``, when the last of it ends. A reload closes the engine it replaces."""
        with self._use:
            self._closing = True
            if self._users:
                return
        self._database.dispose()

    @contextmanager
    def in_use(self) -> Iterator[Engine]:
        """Hold the engine open for a piece of work (see ``close``)."""
        with self._use:
            self._users += 1
        try:
            yield self
        finally:
            with self._use:
                self._users -= 1
                last = self._closing and not self._users
            if last:
                self._database.dispose()

    def next_due(self, platform: str) -> datetime | None:
        """When the platform's next delivery falls due, for its worker's sleep."""
        return self.dispatcher.next_due(platform)

    def platforms(self) -> list[str]:
        """Platforms to dispatch: those with accounts, and those with deliveries still at work
        (an account removed from config.toml: its deliveries are failed, not forgotten)."""
        with self.ledger() as session:
            at_work = platforms_at_work(session)
        return sorted({a.platform for _, a in self.settings.accounts()} | at_work)

    def take(self) -> Tick:
        """Intake: the recurring posts' due firings created, the settled post files taken.
        Never waits on a platform."""
        created = self.recurring.catch_up()
        taken = self.intake.scan()
        # Intake wrote the receipts of the files it took: only their units' status files remain.
        self.refresh(created, units={r.unit for r in taken if r.post_id is not None})
        return Tick(taken, [], created)

    def dispatch(self, platform: str, stop: threading.Event | None = None) -> list[Claim]:
        """One platform's pass: overdue deliveries marked late, then reconcile, send what is
        due (until ``stop``), refresh files."""
        self.mark_late()
        sent = self.dispatcher.reconcile_expired(platform, stop)
        sent += self.dispatcher.run_due(platform, stop)
        self.refresh(c.post_id for c in sent)
        return sent

    def refresh(self, post_ids: Iterable[int], *, units: Iterable[str] = ()) -> None:
        """Rewrite the receipts and status files of these posts, and the status files of
        ``units``; safe from any thread."""
        with self._files:
            root, zone = self.settings.paths.queue, self.settings.zone
            refresh(self.ledger, root, zone, post_ids, self.clock(), units=units)

    def tick(self) -> Tick:
        """Intake, then every platform's dispatch side by side: a slow one delays no other."""
        intake = self.take()
        late = self.mark_late()
        platforms = self.platforms()
        with ThreadPoolExecutor(len(platforms) or 1, thread_name_prefix="dispatch") as pool:
            sent = [claim for claims in pool.map(self.dispatch, platforms) for claim in claims]
        return Tick(intake.taken, sent, intake.created, late)

    def mark_late(self) -> list[Late]:
        """Before dispatch: deliveries due longer ago than ``dispatch.late_after_hours`` (the
        engine was down) become ``late`` instead of going out, each with a warning, and their
        officers' files say so."""
        cutoff = timedelta(hours=self.settings.dispatch.late_after_hours)
        with self.ledger.begin() as session:
            now = self.clock()
            hold = held(session, now, self.settings.blackouts)
            late = mark_late(session, now, cutoff, held=hold, blackouts=self.settings.blackouts)
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
        self.refresh(d.post_id for d in late)
        return late

    def sweep_freshness(self) -> Sweep:
        """Warn, publish from the evergreen pools, alert: the 7-day guarantee (freshness.py).
        Accounts paused or blacked out now get an alert instead of an evergreen post."""
        with self.ledger() as session:
            held = held_accounts(session, self.settings, self.clock())
        self.freshness.paused = held.__contains__
        return self.freshness.sweep()

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


def platform_quotas(settings: Settings, adapters: Mapping[str, Adapter[Any]]) -> dict[str, Quotas]:
    """Each configured platform's quotas (``[platforms.<name>] quotas``, else its adapter's
    ``Rules.quotas``), with the app each of its accounts posts through: the one config.toml
    names, else the one its credentials tell (X: the consumer key), else one app for the whole
    platform."""
    accounts = [a for _, a in settings.accounts()]
    apps = {a.key: a.app or adapters[a.key].app() or a.platform for a in accounts}
    quotas = {}
    for platform in {a.platform for a in accounts}:
        rules = adapter_class(platform).rules
        configured = options(settings, platform).quotas
        quotas[platform] = Quotas(
            rules.quotas if configured is None else configured,
            {a.key: apps[a.key] for a in accounts if a.platform == platform},
            parts_are_posts=rules.parts_are_posts,
        )
    return quotas
