"""Due deliveries -> adapters -> ledger.

The order of writes is what makes "never twice, never lost" hold: the claim (status sending, a
lease, an attempt row) is committed before the platform is called, and the platform is called
outside any transaction, its lease renewed by the heartbeat (leases.py) while the call runs. A
crash in between leaves evidence, never a silent resend.

Quotas are checked inside the claim's transaction, so two dispatchers never both take the last
free slot of an account. A delivery that does not fit is not claimed: it and every other due
delivery of its account move to when the window frees, without counting an attempt. A platform's
"not now" (a rate limit) moves them the same way, to the time the platform gave.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from publisher.adapters.base import Adapter, Media, Outgoing
from publisher.clock import Clock
from publisher.config.settings import Blackout, Dispatch
from publisher.dispatch.holds import held
from publisher.dispatch.leases import Heartbeat
from publisher.dispatch.quotas import Quotas
from publisher.errors import (
    AdapterError,
    AuthError,
    PermanentError,
    RateLimitedError,
    TransientError,
    UncertainError,
)
from publisher.planning.amplify import AmplifyPlan
from publisher.store.ledger import (
    Claim,
    checkpoint,
    claim_due,
    claim_expired,
    mark_cut_attempts_lost,
    next_due,
    record_outcome,
)
from publisher.store.pacing import count_alone, defer, posts_by_account, recent_sends
from publisher.vocabulary import DeliveryStatus

logger = logging.getLogger(__name__)


# What a person does about a delivery that failed for good (logged with it, at ERROR).
AGAIN = "publish it again with a new post file (a new id; accounts = [...] names only this one)"
RENEW = f"renew the credential, check it with 'publisher accounts check', then {AGAIN}"
CORRECT = f"read the platform's answer, correct the post or the account, then {AGAIN}"
OUTAGE = f"check the platform's status page and the network; once it answers, {AGAIN}"


def backoff_seconds(
    attempts: int, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Capped exponential backoff with full jitter: base * 2**(attempts-1), at most cap.

    Jitter spreads the retries of many accounts that failed together (one platform outage), so
    they do not all return at the same second.
    """
    ceiling = min(cap, base * 2.0 ** max(attempts - 1, 0))
    return ceiling / 2 + rand() * ceiling / 2


@dataclass
class Dispatcher:
    ledger: sessionmaker[Session]
    adapters: Mapping[str, Adapter[Any]]
    clock: Clock
    policy: Dispatch
    queue_root: Path
    batch: int = 100
    rand: Callable[[], float] = field(default=random.random)
    redact: Callable[[str], str] = field(default=str)  # masks secrets in errors kept in the ledger
    amplify: AmplifyPlan = field(default_factory=dict)  # what a post sent is retweeted/shared by
    quotas: Mapping[str, Quotas] = field(default_factory=dict)  # by platform
    blackouts: Sequence[Blackout] = ()  # config.toml's windows in which nothing goes out
    heartbeat: Heartbeat = field(init=False)  # keeps the leases of the calls in flight

    def __post_init__(self) -> None:
        self.heartbeat = Heartbeat(self.ledger, self.clock, self.lease)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.policy.lease_seconds)

    def run_due(
        self, platform: str | None = None, stop: threading.Event | None = None
    ) -> list[Claim]:
        """Send what is due (on ``platform``, or on every platform); at most ``batch`` in one
        pass, none claimed once ``stop`` is set."""
        start = self.clock()
        return self._one_by_one(
            lambda: self._claim(platform, min(start, self.clock())), self._send, stop
        )

    def reconcile_expired(
        self, platform: str | None = None, stop: threading.Event | None = None
    ) -> list[Claim]:
        """Ask the platforms about deliveries whose sender vanished mid-call (a crash, a kill):
        found there, they are recorded as sent; not there, they go back to pending; when the
        platform cannot be asked, a person decides (``publisher resolve``). At most ``batch`` in
        one pass; none once ``stop`` is set."""
        return self._one_by_one(partial(self._claim_expired, platform), self._reconcile, stop)

    def _one_by_one(
        self,
        claim: Callable[[], Claim | None],
        handle: Callable[[Claim], None],
        stop: threading.Event | None,
    ) -> list[Claim]:
        """Each delivery leased just before it is handled, never a batch at once: leases taken
        together would run out while the first is sent or asked about (asking may read many
        pages), and another dispatcher would take the rest over."""
        handled: list[Claim] = []
        while len(handled) < self.batch and not (stop and stop.is_set()):
            taken = claim()
            if taken is None:
                break
            handle(taken)
            handled.append(taken)
        return handled

    def _claim_expired(self, platform: str | None) -> Claim | None:
        with self.ledger.begin() as session:
            claims = claim_expired(session, self.clock(), self.lease, 1, platform=platform)
        return claims[0] if claims else None

    def next_due(self, platform: str) -> datetime | None:
        """When the platform's next pending delivery falls due, if it has one."""
        with self.ledger() as session:
            return next_due(session, platform)

    def _claim(self, platform: str | None, now: datetime) -> Claim | None:
        """Lease the next due delivery its quotas let go now; defer those they do not."""
        with self.ledger.begin() as session:
            while True:
                savepoint = session.begin_nested()
                hold = held(session, self.clock(), self.blackouts)
                claims = claim_due(session, now, self.lease, 1, platform=platform, held=hold)
                free_at = self._free_at(session, claims[0], now) if claims else None
                if free_at is None:
                    savepoint.commit()
                    return claims[0] if claims else None
                savepoint.rollback()  # not claimed after all: no attempt, no lease
                claim = claims[0]
                moved = defer(session, claim.account, free_at, now)
                logger.info(
                    "%s has used its quota: %d deliveries wait until %s",
                    claim.account,
                    moved,
                    free_at.isoformat(timespec="seconds"),
                )

    def _free_at(self, session: Session, claim: Claim, now: datetime) -> datetime | None:
        quotas = self.quotas.get(claim.platform)
        adapter = self.adapters.get(claim.account)
        if quotas is None or not quotas.rules or adapter is None or adapter.dry_run:
            return None
        count_alone(session, claim.platform)
        since, posts = now - quotas.window, quotas.cost(len(claim.parts))
        used = posts_by_account(
            session,
            claim.platform,
            since,
            self.lease,
            parts_are_posts=quotas.parts_are_posts,
            besides=claim.attempt_id,
        )
        if quotas.fits(used, claim.account, posts):
            return None
        sends = recent_sends(
            session, claim.platform, since, now, self.lease, besides=claim.attempt_id
        )
        return quotas.free_at(sends, claim.account, posts, now)

    def _reconcile(self, claim: Claim) -> None:
        now = self.clock()
        try:
            with self.heartbeat.holding(claim):
                found = self._adapter(claim).find_delivered(self._outgoing(claim))
        except TransientError as exc:
            logger.warning(
                "delivery %d to %s: cannot reconcile yet, the lease will expire again: %s",
                claim.delivery_id,
                claim.account,
                self.redact(str(exc)),
            )
            return
        except AdapterError as exc:
            error = self.redact(str(exc))
            logger.error(
                "delivery %d to %s may or may not be published and the platform cannot tell: %s; "
                "decide with: publisher resolve %d",
                claim.delivery_id,
                claim.account,
                error,
                claim.delivery_id,
            )
            with self.ledger.begin() as session:
                record_outcome(session, claim, DeliveryStatus.UNCERTAIN, now, error=error)
            return
        with self.ledger.begin() as session:
            if found is not None:
                recorded = record_outcome(
                    session, claim, DeliveryStatus.SENT, now, receipt=found, amplify=self.amplify
                )
            elif claim.attempts >= self.policy.max_attempts:  # sent and lost again and again
                error = f"sent {claim.attempts} times without a clear answer; check the platform"
                recorded = record_outcome(
                    session, claim, DeliveryStatus.UNCERTAIN, now, error=error
                )
            else:
                recorded = record_outcome(session, claim, DeliveryStatus.PENDING, now, retry_at=now)
            if recorded and found is None:  # the attempts a crash cut short never got there
                mark_cut_attempts_lost(session, claim.delivery_id, now)
        logger.info(
            "delivery %d to %s reconciled: %s",
            claim.delivery_id,
            claim.account,
            "not on the platform, to be sent" if found is None else f"found as {found.remote_id}",
        )

    def _outgoing(self, claim: Claim) -> Outgoing:
        return Outgoing(
            delivery_id=claim.delivery_id,
            idempotency_key=claim.idempotency_key,
            account=claim.account,
            platform=claim.platform,
            locale=claim.locale,
            parts=claim.parts,
            tags=claim.tags,
            media=[
                Media(self.queue_root / str(m["path"]), m["alt"], str(m["path"]))
                for m in claim.media
            ],
            not_before=claim.not_before,
            progress=claim.progress,
            checkpoint=partial(self._checkpoint, claim.delivery_id),
            kind=claim.kind,
            source=claim.source,
        )

    def _adapter(self, claim: Claim) -> Adapter[Any]:
        adapter = self.adapters.get(claim.account)
        if adapter is None:
            msg = f"the account {claim.account} is no longer in config.toml"
            raise PermanentError(msg)
        return adapter

    def _send(self, claim: Claim) -> None:
        try:
            adapter = self._adapter(claim)
            with self.heartbeat.holding(claim):
                receipt = adapter.deliver(self._outgoing(claim))
        except TransientError as exc:
            self._retry_or_fail(claim, exc)
        except AuthError as exc:
            self._fail(claim, exc, "failed: its account's credentials must be renewed", RENEW)
        except PermanentError as exc:
            self._fail(claim, exc, "failed for good", CORRECT)
        except UncertainError as exc:
            # The platform may have it: leave the delivery sending, so that when its lease expires
            # it is reconciled with the platform instead of sent again.
            logger.warning(
                "delivery %d to %s: outcome uncertain: %s",
                claim.delivery_id,
                claim.account,
                self.redact(str(exc)),
            )
        except Exception:
            logger.exception("delivery %d to %s: outcome unknown", claim.delivery_id, claim.account)
        else:
            status = DeliveryStatus.DRY_RUN if adapter.dry_run else DeliveryStatus.SENT
            with self.ledger.begin() as session:
                record_outcome(
                    session, claim, status, self.clock(), receipt=receipt, amplify=self.amplify
                )
            logger.info(
                "delivery %d %s to %s (%s)", claim.delivery_id, status, claim.account, claim.locale
            )

    def _limited_together(self, claim: Claim, exc: TransientError) -> list[str]:
        """The accounts a rate limit holds: this one, or all that share its app."""
        quotas = self.quotas.get(claim.platform)
        if not (isinstance(exc, RateLimitedError) and exc.app_wide and quotas):
            return [claim.account]
        app = quotas.apps.get(claim.account)
        return [account for account, its in quotas.apps.items() if its == app] or [claim.account]

    def _checkpoint(self, delivery_id: int, key: str, value: str) -> None:
        with self.ledger.begin() as session:
            checkpoint(session, delivery_id, key, value)

    def _fail(self, claim: Claim, exc: PermanentError, why: str, fix: str) -> None:
        error = self.redact(str(exc))
        logger.error(
            "ALERT delivery %d to %s %s: %s. Fix: %s",
            claim.delivery_id,
            claim.account,
            why,
            error,
            fix,
        )
        with self.ledger.begin() as session:
            record_outcome(session, claim, DeliveryStatus.FAILED, self.clock(), error=error)

    def _retry_or_fail(self, claim: Claim, exc: TransientError) -> None:
        now = self.clock()
        error = self.redact(str(exc))
        limited = isinstance(exc, RateLimitedError)  # refused before doing anything: not counted
        if claim.attempts >= self.policy.max_attempts and not limited:
            logger.error(
                "ALERT delivery %d to %s failed %d times, giving up: %s. Fix: %s",
                claim.delivery_id,
                claim.account,
                claim.attempts,
                error,
                OUTAGE,
            )
            with self.ledger.begin() as session:
                record_outcome(session, claim, DeliveryStatus.FAILED, now, error=error)
            return
        wait = exc.retry_after or backoff_seconds(
            claim.attempts, self.policy.retry_base_seconds, self.policy.retry_max_seconds, self.rand
        )
        logger.warning(
            "delivery %d to %s will be retried in %.0f s: %s",
            claim.delivery_id,
            claim.account,
            wait,
            error,
        )
        with self.ledger.begin() as session:
            mine = record_outcome(
                session,
                claim,
                DeliveryStatus.PENDING,
                now,
                error=error,
                retry_at=now + timedelta(seconds=wait),
                refund=limited,
            )
            if limited and mine:  # the account's other posts would be refused until then too
                for account in self._limited_together(claim, exc):
                    defer(session, account, now + timedelta(seconds=wait), now)
