"""Deliveries the engine could not take in time (it was down): marked ``late``, not sent.

A post meant for Monday morning is wrong news by Tuesday, so past ``dispatch.late_after_hours`` a
delivery is reported instead of published; what operators held back (a pause, a blackout) is not
counted against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from publisher.store.models import Delivery
from publisher.vocabulary import DeliveryStatus, Priority


class Window(Protocol):
    """A window in which some deliveries may not go out (config.toml's blackouts): no units or no
    platforms means all of them."""

    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def units(self) -> Sequence[str]: ...
    @property
    def platforms(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class Late:
    """A delivery just marked late, for the warning and the officers' files."""

    delivery_id: int
    post_id: int
    account: str
    locale: str
    due: datetime


def mark_late(
    session: Session,
    now: datetime,
    cutoff: timedelta,
    *,
    held: ColumnElement[bool] | None = None,
    blackouts: Sequence[Window] = (),
) -> list[Late]:
    """Mark ``late`` every pending delivery due more than ``cutoff`` before ``now``: it was not
    taken in time (the engine was down) and is not sent. The dispatcher must call this before it
    claims, so a stale delivery is never taken; the time is ``not_before``, which a retry moves,
    so a platform's "try again at 09:00" counts from 09:00. What operators hold back is not late:
    deliveries ``held`` now (paused, blacked out) are left alone, and one a blackout window held
    counts from the window's end (a resume moves the paused ones' time itself)."""
    overdue = (
        (Delivery.status == DeliveryStatus.PENDING)
        # Each priority named, so the dispatcher's index (status, priority, not_before) gives
        # a range per priority: 0.4 ms at 100,000 pending, against 40 ms for a scan of them.
        & Delivery.priority.in_([int(p) for p in Priority])
        & (Delivery.not_before < now - cutoff)
    )
    if held is not None:
        overdue &= ~held
    rows = [
        d
        for d in session.scalars(select(Delivery).where(overdue)).all()
        if _free_since(d, blackouts) < now - cutoff
    ]
    hours = cutoff.total_seconds() / 3600
    for delivery in rows:
        delivery.status = DeliveryStatus.LATE
        delivery.finished_at = now
        delivery.last_error = (
            f"not sent: it was due more than {hours:g} hours before the engine could send it "
            "(dispatch.late_after_hours); post it again if it still matters"
        )
    return [Late(d.id, d.post_id, d.account, d.locale, d.not_before) for d in rows]


def _free_since(delivery: Delivery, blackouts: Sequence[Window]) -> datetime:
    """When the delivery could first go out: its time, or the end of a blackout window that
    covered it then."""
    ends = [
        b.end
        for b in blackouts
        if b.start <= delivery.not_before < b.end
        and (not b.units or delivery.unit in b.units)
        and (not b.platforms or delivery.platform in b.platforms)
    ]
    return max([delivery.not_before, *ends])
