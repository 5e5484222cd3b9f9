"""Due deliveries -> adapters -> ledger.

The order of writes is what makes "never twice, never lost" hold: the claim (status sending, a
lease, an attempt row) is committed before the platform is called, and the platform is called
outside any transaction. A crash in between leaves evidence, never a silent resend.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from publisher.adapters.base import Adapter, Media, Outgoing
from publisher.clock import Clock
from publisher.config import Blackout, Dispatch
from publisher.controls import held
from publisher.errors import (
    AdapterError,
    AuthError,
    PermanentError,
    RateLimitedError,
    TransientError,
    UncertainError,
)
from publisher.store.ledger import Claim, checkpoint, claim_due, claim_expired, record_outcome
from publisher.store.models import DeliveryStatus

logger = logging.getLogger(__name__)


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
    blackouts: Sequence[Blackout] = ()  # config.toml's windows in which nothing goes out

    def run_due(self) -> list[Claim]:
        """Send what is due, one delivery at a time, each leased just before its call (a lease
        taken long before would expire while others are sent, and another dispatcher would take
        the delivery over). At most ``batch`` in one pass, so intake is never starved."""
        touched: list[Claim] = []
        lease = timedelta(seconds=self.policy.lease_seconds)
        start = self.clock()
        while len(touched) < self.batch:
            with self.ledger.begin() as session:
                hold = held(session, self.clock(), self.blackouts)
                claims = claim_due(session, min(start, self.clock()), lease, 1, held=hold)
            if not claims:
                break
            self._send(claims[0])
            touched.append(claims[0])
        return touched

    def reconcile_expired(self) -> list[Claim]:
        """Ask the platforms about deliveries whose sender vanished mid-call (a crash, a kill):
        found there, they are recorded as sent; not there, they go back to pending; when the
        platform cannot be asked, a person decides (``publisher resolve``)."""
        with self.ledger.begin() as session:
            claims = claim_expired(
                session, self.clock(), timedelta(seconds=self.policy.lease_seconds), self.batch
            )
        for claim in claims:
            self._reconcile(claim)
        return claims

    def _reconcile(self, claim: Claim) -> None:
        now = self.clock()
        try:
            found = self._adapter(claim).find_existing(self._outgoing(claim))
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
                record_outcome(session, claim, DeliveryStatus.SENT, now, receipt=found)
            elif claim.attempts >= self.policy.max_attempts:  # sent and lost again and again
                error = f"sent {claim.attempts} times without a clear answer; check the platform"
                record_outcome(session, claim, DeliveryStatus.UNCERTAIN, now, error=error)
            else:
                record_outcome(session, claim, DeliveryStatus.PENDING, now, retry_at=now)
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
            receipt = adapter.publish(self._outgoing(claim))
        except TransientError as exc:
            self._retry_or_fail(claim, exc)
        except AuthError as exc:
            self._fail(claim, exc, "failed: its account's credentials must be renewed")
        except PermanentError as exc:
            self._fail(claim, exc, "failed for good")
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
                record_outcome(session, claim, status, self.clock(), receipt=receipt)
            logger.info(
                "delivery %d %s to %s (%s)", claim.delivery_id, status, claim.account, claim.locale
            )

    def _checkpoint(self, delivery_id: int, key: str, value: str) -> None:
        with self.ledger.begin() as session:
            checkpoint(session, delivery_id, key, value)

    def _fail(self, claim: Claim, exc: PermanentError, why: str) -> None:
        error = self.redact(str(exc))
        logger.error("delivery %d to %s %s: %s", claim.delivery_id, claim.account, why, error)
        with self.ledger.begin() as session:
            record_outcome(session, claim, DeliveryStatus.FAILED, self.clock(), error=error)

    def _retry_or_fail(self, claim: Claim, exc: TransientError) -> None:
        now = self.clock()
        error = self.redact(str(exc))
        limited = isinstance(exc, RateLimitedError)  # refused before doing anything: not counted
        if claim.attempts >= self.policy.max_attempts and not limited:
            logger.error(
                "delivery %d to %s failed %d times, giving up: %s",
                claim.delivery_id,
                claim.account,
                claim.attempts,
                error,
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
            record_outcome(
                session,
                claim,
                DeliveryStatus.PENDING,
                now,
                error=error,
                retry_at=now + timedelta(seconds=wait),
                refund=limited,
            )
