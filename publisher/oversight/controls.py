"""What operators and reviewers decide: pause and resume, approve, retry, cancel.

Every decision is a change in the ledger and a row in the audit log, written in one transaction,
with who (the operator's login name) and why. The dispatcher asks ``holds.held`` at each claim, so a
pause written by ``publisher pause`` while the daemon runs is obeyed at its next claim, and a
blackout window from config.toml starts and ends on the clock. Intake and planning never look here:
posts keep being taken and recorded while nothing goes out.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from publisher.clock import local
from publisher.config.settings import Settings
from publisher.dispatch.holds import Scope
from publisher.errors import PublisherError
from publisher.store.audit import append
from publisher.store.models import Delivery, Pause, Post
from publisher.vocabulary import DeliveryStatus

CANCELLABLE = (DeliveryStatus.PENDING, DeliveryStatus.AWAITING)
RETRYABLE = (DeliveryStatus.FAILED, DeliveryStatus.LATE)


def operator() -> str:
    """Who is at the terminal: the person behind ``sudo`` if there is one, else the login."""
    return os.environ.get("SUDO_USER") or getpass.getuser()


def _reason(reason: str) -> str:
    if not reason.strip():
        msg = 'say why with --reason "…": it is kept in the audit log with your name'
        raise PublisherError(msg)
    return reason.strip()


def _find_pause(session: Session, scope: Scope) -> Pause | None:
    return session.scalar(
        select(Pause).where(
            Pause.unit.is_(None) if scope.unit is None else Pause.unit == scope.unit,
            Pause.platform.is_(None)
            if scope.platform is None
            else Pause.platform == scope.platform,
        )
    )


def pause(session: Session, scope: Scope, *, reason: str, who: str, now: datetime) -> Pause:
    """Stop everything in ``scope`` from going out until it is resumed.

    Raises:
        PublisherError: the same scope is paused already, or no reason is given.
    """
    why = _reason(reason)
    existing = _find_pause(session, scope)
    if existing is not None:
        msg = (
            f"{scope} is paused already, since {existing.paused_at:%Y-%m-%d %H:%M} UTC by "
            f"{existing.paused_by}: {existing.reason}"
        )
        raise PublisherError(msg)
    row = Pause(unit=scope.unit, platform=scope.platform, reason=why, paused_by=who, paused_at=now)
    session.add(row)
    append(session, now, who, "pause", str(scope), {"reason": why})
    return row


def resume(session: Session, scope: Scope, *, reason: str, who: str, now: datetime) -> None:
    """End the pause of exactly ``scope``; what it held goes out at the next pass, urgent first.

    Raises:
        PublisherError: that scope is not paused (the message lists what is).
    """
    why = _reason(reason)
    existing = _find_pause(session, scope)
    if existing is None:
        paused = [str(Scope(p.unit, p.platform)) for p in session.scalars(select(Pause))]
        listed = "; paused now: " + ", ".join(paused) if paused else "; nothing is paused"
        msg = f"{scope} is not paused{listed}"
        raise PublisherError(msg)
    session.delete(existing)
    waited = session.execute(  # they waited for the pause, not for a stopped engine: not late
        update(Delivery)
        .where(
            Delivery.status == DeliveryStatus.PENDING, Delivery.not_before < now, scope.matches()
        )
        .values(not_before=now)
    )
    append(
        session,
        now,
        who,
        "resume",
        str(scope),
        {
            "reason": why,
            "paused_by": existing.paused_by,
            "pause_reason": existing.reason,
            "released": int(cast("CursorResult[Any]", waited).rowcount),
        },
    )


def pauses(session: Session) -> list[Pause]:
    return list(session.scalars(select(Pause).order_by(Pause.paused_at, Pause.id)))


def _post(session: Session, post_id: int) -> Post:
    post = session.get(Post, post_id)
    if post is None:
        msg = f"there is no post {post_id}; `publisher review` lists the posts awaiting approval"
        raise PublisherError(msg)
    return post


def _locked(session: Session, post_id: int) -> list[Delivery]:
    """A post's deliveries, locked until the decision is committed. On PostgreSQL another
    host's dispatcher could otherwise claim one (pending to sending) between this read and the
    write, and the decision would overwrite a call in flight; a claim passes locked rows over,
    and this read waits for a claim's commit, then sees its status. SQLite's write transaction
    already lets one in at a time."""
    return list(
        session.scalars(
            select(Delivery)
            .where(Delivery.post_id == post_id)
            .order_by(Delivery.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _statuses(deliveries: Sequence[Delivery]) -> str:
    counts: dict[str, int] = {}
    for d in deliveries:
        counts[d.status] = counts.get(d.status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"


def approve(
    session: Session, post_id: int, *, reason: str, who: str, now: datetime
) -> list[Delivery]:
    """Release a post's deliveries that await approval: each goes at its own time (at once if
    that has passed).

    Raises:
        PublisherError: no such post, or nothing of it awaits approval.
    """
    why = _reason(reason)
    post = _post(session, post_id)
    deliveries = _locked(session, post_id)
    waiting = [d for d in deliveries if d.status == DeliveryStatus.AWAITING]
    if not waiting:
        msg = (
            f"post {post_id} has nothing awaiting approval (its deliveries: "
            f"{_statuses(deliveries)})"
        )
        raise PublisherError(msg)
    for d in waiting:
        d.status = DeliveryStatus.PENDING
        d.not_before = max(d.not_before, now)  # a reviewer's day is not the engine's delay
    append(
        session,
        now,
        who,
        "post.approve",
        f"post {post_id}",
        {"reason": why, "key": post.key, "deliveries": [d.id for d in waiting]},
    )
    return waiting


def retry(session: Session, delivery_id: int, *, reason: str, who: str, now: datetime) -> Delivery:
    """Send a failed delivery again, now, with a fresh count of attempts; or a late one, which
    a person judged still worth publishing.

    Raises:
        PublisherError: no such delivery, or it is neither failed nor late.
    """
    why = _reason(reason)
    delivery = session.get(Delivery, delivery_id, with_for_update=True)  # as _locked
    if delivery is None or delivery.status not in RETRYABLE:
        found = f"it is {delivery.status}" if delivery else "there is no such delivery"
        msg = f"delivery {delivery_id} cannot be retried: {found}; only failed or late ones can"
        raise PublisherError(msg)
    append(
        session,
        now,
        who,
        "delivery.retry",
        f"delivery {delivery_id}",
        {
            "reason": why,
            "was": delivery.status,
            "attempts": delivery.attempts,
            "last_error": delivery.last_error,
        },
    )
    delivery.status = DeliveryStatus.PENDING
    delivery.not_before = now
    delivery.attempts = 0
    delivery.finished_at = None
    return delivery


def _refusal(delivery: Delivery) -> str:
    if delivery.status == DeliveryStatus.SENT:
        return f"it is sent already (remote id {delivery.remote_id}); remove it on the platform"
    if delivery.status == DeliveryStatus.SENDING:
        return "it is being sent right now; once it is sent, remove it on the platform if needed"
    return (
        f"it is {delivery.status}; only pending deliveries and ones awaiting approval can be "
        "cancelled"
    )


def cancel_delivery(
    session: Session, delivery_id: int, *, reason: str, who: str, now: datetime
) -> Delivery:
    """Withdraw one delivery that has not gone out; never a sending or sent one.

    Raises:
        PublisherError: no such delivery, or it cannot be cancelled (the message says why).
    """
    why = _reason(reason)
    delivery = session.get(Delivery, delivery_id, with_for_update=True)  # as _locked
    if delivery is None:
        msg = f"delivery {delivery_id} cannot be cancelled: there is no such delivery"
        raise PublisherError(msg)
    if delivery.status not in CANCELLABLE:
        msg = f"delivery {delivery_id} cannot be cancelled: {_refusal(delivery)}"
        raise PublisherError(msg)
    _withdraw(session, f"delivery {delivery_id}", [delivery], [], why, who, now)
    return delivery


def cancel_post(
    session: Session, post_id: int, *, reason: str, who: str, now: datetime
) -> list[Delivery]:
    """Withdraw every delivery of a post that has not gone out (refusing it in review); those
    sent or being sent are left as they are, and named in the audit row.

    Raises:
        PublisherError: no such post, or nothing of it can be cancelled.
    """
    why = _reason(reason)
    _post(session, post_id)
    deliveries = _locked(session, post_id)
    chosen = [d for d in deliveries if d.status in CANCELLABLE]
    if not chosen:
        msg = f"post {post_id} has nothing left to cancel (its deliveries: {_statuses(deliveries)})"
        raise PublisherError(msg)
    kept = [d for d in deliveries if d.status not in CANCELLABLE]
    _withdraw(session, f"post {post_id}", chosen, kept, why, who, now)
    return chosen


def _withdraw(
    session: Session,
    subject: str,
    chosen: Sequence[Delivery],
    kept: Sequence[Delivery],
    why: str,
    who: str,
    now: datetime,
) -> None:
    for d in chosen:
        d.status = DeliveryStatus.CANCELLED
        d.finished_at = now
    append(
        session,
        now,
        who,
        "cancel",
        subject,
        {
            "reason": why,
            "cancelled": [d.id for d in chosen],
            "not_cancelled": {str(d.id): d.status for d in kept},
        },
    )


def holds_text(session: Session, settings: Settings, now: datetime) -> str:
    """What is held back now (pauses, current blackouts) and the blackouts still to come, for
    ``publisher pauses`` and ``status``."""
    zone = settings.zone
    lines = [
        f"Paused: {Scope(p.unit, p.platform)}, since {local(p.paused_at, zone)} by "
        f"{p.paused_by}: {p.reason}"
        for p in pauses(session)
    ]
    for window in settings.blackouts:
        if window.end <= now:
            continue
        scope = (
            ", ".join(window.units or ["all units"])
            + " on "
            + ", ".join(window.platforms or ["all platforms"])
        )
        state = "Blacked out now" if window.start <= now else "Blackout ahead"
        lines.append(
            f"{state}: {scope}, {local(window.start, zone)} to {local(window.end, zone)}: "
            f"{window.reason}"
        )
    return "\n".join(["", *lines, ""]) if lines else "\nNothing is paused or blacked out.\n"
