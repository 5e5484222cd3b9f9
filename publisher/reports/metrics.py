"""Likes, shares, comments and views of published posts, collected from the platforms over time.

Each collection asks every account's platform about its deliveries sent within ``[metrics]
window_days`` and stores one snapshot per delivery the platform still has, stamped with the time
it was taken, so growth can be read back and reports use the latest. The adapters batch their
look-ups within each platform's limits (X's tweets lookup takes 100 ids, Graph's ``?ids=`` 50).
A platform that fails is logged and asked again at the next collection; it never stops the others
or the daemon.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from publisher.adapters.base import Adapter
from publisher.adapters.registry import build
from publisher.clock import Clock
from publisher.config.credentials import Credentials
from publisher.config.settings import MetricsPolicy, Settings
from publisher.errors import PublisherError
from publisher.store.models import Delivery, MetricSnapshot
from publisher.vocabulary import POST, DeliveryStatus, Receipt

logger = logging.getLogger(__name__)


@dataclass
class Collection:
    """What one collection did: snapshots stored, and the accounts whose platform failed."""

    snapshots: int = 0
    deliveries: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # account -> why

    def summary(self) -> str:
        failed = f"; failed for {', '.join(sorted(self.failed))}" if self.failed else ""
        return (
            f"metrics collected: {self.snapshots} snapshots of {self.deliveries} deliveries{failed}"
        )


class MeasuringAdapters:
    """Adapters for a collection, made on first use from config.toml and the credentials.

    They are instances of their own, not the dispatcher's: the daemon collects in a thread of its
    own, and sharing a client (its HTTP session, the last rate-limit headers it saw) with sending
    would mix the two. An account whose adapter cannot be made is logged and listed in
    ``broken``; it is simply not measured this time.
    """

    def __init__(self, settings: Settings, credentials: Credentials, clock: Clock) -> None:
        self.settings = settings
        self.credentials = credentials
        self.clock = clock
        self.accounts = {account.key: account for _, account in settings.accounts()}
        self.broken: list[str] = []
        self._made: dict[str, Adapter[Any] | None] = {}

    def __call__(self, key: str) -> Adapter[Any] | None:
        if key not in self._made:
            self._made[key] = self._make(key)
        return self._made[key]

    def _make(self, key: str) -> Adapter[Any] | None:
        account = self.accounts.get(key)
        try:
            if account is None:
                raise PublisherError("it is no longer in config.toml")
            return build(account, self.settings, self.credentials, dry_run=False, clock=self.clock)
        except PublisherError as exc:
            self.broken.append(key)
            logger.warning("%s is not measured: %s", key, exc)
            return None


def collect(
    ledger: sessionmaker[Session],
    adapter_for: Callable[[str], Adapter[Any] | None],
    policy: MetricsPolicy,
    clock: Clock,
) -> Collection:
    """One collection over every account that has deliveries in the window.

    ``adapter_for`` gives an account's adapter, asked only for accounts with posts to measure;
    None (removed from config, a credential that could not be loaded) or a dry-run adapter
    leaves the account out.
    """
    now = clock()
    since = now - timedelta(days=policy.window_days)
    with ledger() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.account, Delivery.remote_id, Delivery.remote_url,
                   Delivery.finished_at)
            .where(
                Delivery.kind == POST,  # a retweet's remote id is its source's
                Delivery.status == DeliveryStatus.SENT,
                Delivery.finished_at >= since,
                Delivery.remote_id.is_not(None),
            )
            .order_by(Delivery.account, Delivery.id)
        ).all()  # fmt: skip
    by_account: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_account[row.account].append(row)
    done = Collection()
    for account, deliveries in by_account.items():
        adapter = adapter_for(account)
        if adapter is None or adapter.dry_run:
            logger.debug("metrics: no adapter for %s; its posts are not measured", account)
            continue
        receipts = [Receipt(d.remote_id, d.remote_url, d.finished_at) for d in deliveries]
        try:
            found = adapter.metrics(receipts)
        except PublisherError as exc:
            logger.warning("metrics of %s not collected, will try again: %s", account, exc)
            done.failed[account] = str(exc)
            continue
        except Exception as exc:  # an adapter's bug must not cost the other platforms theirs
            logger.exception("metrics of %s not collected, will try again", account)
            done.failed[account] = repr(exc)
            continue
        taken = clock()
        snapshots = [
            {
                "delivery_id": d.id,
                "taken_at": taken,
                "likes": m.likes,
                "shares": m.shares,
                "comments": m.comments,
                "views": m.views,
            }
            for d in deliveries
            if (m := found.get(d.remote_id)) is not None
        ]
        if snapshots:
            with ledger.begin() as session:
                session.execute(insert(MetricSnapshot), snapshots)
        done.snapshots += len(snapshots)
        done.deliveries += len(deliveries)
    logger.info("%s", done.summary())
    return done
