"""The ledger's dispatch writes: claiming due deliveries under a lease, renewing leases, recording
each outcome, and a person's decision on an uncertain one. (Accepting a post: store/posts.py.)

Each function runs inside a transaction its caller opens (``with ledger.begin() as session``), so
the caller decides what must be atomic: a claim in a short commit of its own *before* any platform
is called; each outcome in another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from publisher.errors import PublisherError
from publisher.store.activity import note_outcome
from publisher.store.amplifications import record_amplifications
from publisher.store.audit import append
from publisher.store.models import Attempt, Delivery
from publisher.vocabulary import POST, Amplified, Amplifier, DeliveryStatus, Part, Receipt

DISPATCH = "dispatch"  # the audit log's actor for what the dispatcher records


@dataclass(frozen=True)
class Claim:
    """A delivery leased to this dispatcher, copied out so the platform call needs no session."""

    delivery_id: int
    attempt_id: int
    post_id: int
    unit: str
    idempotency_key: str
    account: str
    platform: str
    locale: str
    parts: list[Part]
    tags: list[str]
    media: list[dict[str, str | None]]  # {path (relative to the queue), alt}
    attempts: int
    not_before: datetime
    progress: dict[str, str]
    kind: str = POST
    source: Amplified | None = None  # what a retweet or share amplifies


def claim_due(
    session: Session,
    now: datetime,
    lease: timedelta,
    limit: int,
    *,
    platform: str | None = None,
    held: ColumnElement[bool] | None = None,
) -> list[Claim]:
    """Lease up to ``limit`` due deliveries, urgent first, then oldest; each gets an attempt row.
    ``platform`` keeps to one platform's deliveries (its dispatch worker's). Those ``held``
    matches (paused, blacked out: publisher.dispatch.holds.held) wait where they are.

    The caller must commit before calling any platform: from then on a crash leaves the delivery
    ``sending`` with a lease that expires, which marks it as uncertain rather than unsent.
    """
    due = (Delivery.status == DeliveryStatus.PENDING) & (Delivery.not_before <= now)
    if platform is not None:
        due &= Delivery.platform == platform
    if held is not None:
        due &= ~held
    return _lease(session, due, now, lease, limit, attempt=True)


def claim_expired(
    session: Session, now: datetime, lease: timedelta, limit: int, *, platform: str | None = None
) -> list[Claim]:
    """Lease deliveries whose sender vanished mid-call (status sending, lease expired) so that
    one dispatcher asks the platform about each; no attempt is counted, nothing is sent."""
    expired = (Delivery.status == DeliveryStatus.SENDING) & (Delivery.lease_until < now)
    if platform is not None:
        expired &= Delivery.platform == platform
    return _lease(session, expired, now, lease, limit, attempt=False)


def next_due(session: Session, platform: str) -> datetime | None:
    """When the platform's next pending delivery falls due (it may be already)."""
    return session.scalar(
        select(func.min(Delivery.not_before)).where(
            Delivery.platform == platform, Delivery.status == DeliveryStatus.PENDING
        )
    )


def platforms_at_work(session: Session) -> set[str]:
    """Platforms with deliveries pending or sending, configured or not any more."""
    return set(
        session.scalars(
            select(Delivery.platform)
            .where(Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]))
            .distinct()
        )
    )


def _lease(
    session: Session,
    where: ColumnElement[bool],
    now: datetime,
    lease: timedelta,
    limit: int,
    *,
    attempt: bool,
) -> list[Claim]:
    # On PostgreSQL, where several hosts claim at once, the rows are locked as they are read and
    # rows another claim has locked are passed over, not waited for: each claim takes its own.
    # The locks last only until this short transaction commits, before any platform is called.
    # SQLite renders no FOR UPDATE: its BEGIN IMMEDIATE already lets one claim in at a time.
    rows = session.scalars(
        select(Delivery)
        .where(where)
        .order_by(Delivery.priority.desc(), Delivery.not_before, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Delivery)
    ).all()
    claims = []
    for delivery in rows:
        delivery.status = DeliveryStatus.SENDING
        delivery.lease_until = now + lease
        delivery.attempts += attempt
        row = Attempt(
            delivery_id=delivery.id, started_at=now, outcome=None if attempt else "reconcile"
        )
        session.add(row)
        session.flush()
        delivery.lease_holder = row.id
        claims.append(
            Claim(
                delivery_id=delivery.id,
                attempt_id=row.id,
                post_id=delivery.post_id,
                unit=delivery.unit,
                idempotency_key=delivery.idempotency_key,
                account=delivery.account,
                platform=delivery.platform,
                locale=delivery.locale,
                parts=[Part(**p) for p in delivery.parts],
                tags=list(delivery.tags),
                media=list(delivery.media),
                attempts=delivery.attempts,
                not_before=delivery.not_before,
                progress=dict(delivery.progress),
                kind=delivery.kind,
                source=_amplified(delivery.source),
            )
        )
    return claims


def renew_leases(session: Session, held: Iterable[int], until: datetime) -> set[int]:
    """Move to ``until`` the end of each lease still held by one of the attempts ``held``;
    returns those attempts. One whose lease expired and was taken over holds it no more.

    The rows are locked in the order of their ids, as every statement that locks several
    deliveries does (controls._locked), so two of them can never wait for each other."""
    rows = session.execute(
        select(Delivery.id, Delivery.lease_holder)
        .where(Delivery.lease_holder.in_(list(held)), Delivery.status == DeliveryStatus.SENDING)
        .order_by(Delivery.id)
        .with_for_update()
    ).all()
    if rows:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_([id_ for id_, _ in rows]))
            .values(lease_until=until)
        )
    return {holder for _, holder in rows if holder is not None}


def _amplified(source: Delivery | None) -> Amplified | None:
    if source is None:
        return None
    return Amplified(source.account, source.remote_id, source.remote_url)


def record_outcome(
    session: Session,
    claim: Claim,
    status: DeliveryStatus,
    now: datetime,
    *,
    receipt: Receipt | None = None,
    error: str | None = None,
    retry_at: datetime | None = None,
    refund: bool = False,
    amplify: Mapping[str, Sequence[Amplifier]] | None = None,
) -> bool:
    """Close the claim's attempt and move its delivery to ``status``; ``retry_at`` with status
    pending schedules the next attempt, ``refund`` does not count this attempt (a rate limit).
    A post recorded as sent (or dry-run) gets the retweets and shares ``amplify`` plans for it.

    Returns False, changing nothing, if the lease is no longer this claim's: it expired and
    another dispatcher has taken the delivery over, and its word stands.
    """
    # Locked while the holder is compared and the outcome written: another host's claim of an
    # expired lease cannot slip in between (on SQLite, BEGIN IMMEDIATE already excludes it).
    delivery = session.get_one(Delivery, claim.delivery_id, with_for_update=True)
    if delivery.status != DeliveryStatus.SENDING or delivery.lease_holder != claim.attempt_id:
        return False
    attempt = session.get_one(Attempt, claim.attempt_id)
    attempt.finished_at = now
    kind = "retry" if status is DeliveryStatus.PENDING else status.value
    attempt.outcome = f"reconcile:{kind}" if attempt.outcome == "reconcile" else kind
    attempt.error = error
    delivery.attempts -= refund
    delivery.status = status
    delivery.lease_until = delivery.lease_holder = None
    delivery.last_error = error
    if retry_at is not None:
        delivery.not_before = retry_at
    if status is not DeliveryStatus.PENDING:
        delivery.finished_at = now
    if delivery.counts_for_freshness:  # a retweet keeps its account fresh only if config says
        note_outcome(session, delivery.account, status, now, None if refund else error)
    if receipt is not None:
        delivery.remote_id = receipt.remote_id
        delivery.remote_url = receipt.url
        follow_ups = iter(receipt.part_ids)
        delivery.parts = [
            {**part, "remote_id": receipt.remote_id if i == 0 else next(follow_ups, None)}
            for i, part in enumerate(delivery.parts)
        ]
    if amplify and status in (DeliveryStatus.SENT, DeliveryStatus.DRY_RUN):
        record_amplifications(session, delivery, amplify)
    append(
        session,
        now,
        DISPATCH,
        f"delivery.{status}",
        f"delivery {delivery.id}",
        {
            "account": delivery.account,
            "locale": delivery.locale,
            "outcome": attempt.outcome,
            "attempts": delivery.attempts,
            "remote_id": delivery.remote_id,
            "error": error,
            "retry_at": retry_at.isoformat() if retry_at else None,
        },
    )
    return True


def mark_cut_attempts_lost(session: Session, delivery_id: int, now: datetime) -> None:
    """The delivery's attempts a crash cut short (never finished, no outcome) did not reach the
    platform: reconciling or a person found nothing there. Marked ``lost``, they stop counting
    against the quotas, where until now they counted as calls that may have landed
    (pacing.recent_sends). A call still running on a host whose lease ran out (its database too
    slow for the heartbeat: the ALERT of leases.py) may yet land, and then counts one short."""
    session.execute(
        update(Attempt)
        .where(
            Attempt.delivery_id == delivery_id,
            Attempt.finished_at.is_(None),
            Attempt.outcome.is_(None),
        )
        .values(outcome="lost", finished_at=now)
    )


def checkpoint(session: Session, delivery_id: int, key: str, value: str) -> None:
    """Remember a step a platform has taken for a delivery, before the next step is tried."""
    delivery = session.get_one(Delivery, delivery_id)
    delivery.progress = {**delivery.progress, key: value}


def resolve(
    session: Session,
    delivery_id: int,
    *,
    published: bool,
    who: str,
    reason: str,
    now: datetime,
    remote_id: str | None = None,
    amplify: Mapping[str, Sequence[Amplifier]] | None = None,
) -> Delivery:
    """A person's decision about an uncertain delivery: it is on the platform (sent), or it is not
    (pending again, to be sent at the next pass). Recorded as an attempt, with who and why. A post
    decided as sent with its remote id gets the amplifications ``amplify`` plans for it.

    Raises:
        PublisherError: there is no such delivery, or it is not uncertain.
    """
    # Locked, so two people resolving at once on PostgreSQL cannot both decide (controls._locked).
    delivery = session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.status != DeliveryStatus.UNCERTAIN:
        found = f"it is {delivery.status}" if delivery else "there is no such delivery"
        msg = f"delivery {delivery_id} cannot be resolved: {found}; only uncertain ones can"
        raise PublisherError(msg)
    outcome = DeliveryStatus.SENT if published else DeliveryStatus.PENDING
    session.add(
        Attempt(
            delivery_id=delivery_id,
            started_at=now,
            finished_at=now,
            outcome=f"resolved:{outcome}",
            error=f"by {who}: {reason}",
        )
    )
    delivery.status = outcome
    delivery.lease_until = delivery.lease_holder = None
    if published:
        delivery.finished_at = now
        delivery.remote_id = remote_id
        if amplify:
            record_amplifications(session, delivery, amplify)
        if delivery.counts_for_freshness:
            note_outcome(session, delivery.account, DeliveryStatus.SENT, now, None)
    else:
        delivery.not_before = now
        mark_cut_attempts_lost(session, delivery_id, now)
    append(
        session,
        now,
        who,
        "delivery.resolve",
        f"delivery {delivery_id}",
        {"as": "sent" if published else "unsent", "remote_id": remote_id, "reason": reason},
    )
    return delivery
