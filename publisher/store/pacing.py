"""The ledger's side of quotas and rate limits: how much each account (and app) has posted lately,
counted from the attempts every process records, and moving what must wait to when it may go.

Counting from the ledger, not from memory, is what lets a restart, another process or another
host see the same use (quota.py decides what fits; dispatch.py asks these inside the claim's
transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, func, or_, select, true, update
from sqlalchemy.orm import Session

from publisher.store.models import Attempt, Delivery
from publisher.vocabulary import DeliveryStatus

# Attempts that reached, or may have reached, the platform: quota counts them. Not reconciling
# (a question, not a post), a person's decision, or a dry run.
_CALLED = ("sent", "retry", "failed", "uncertain")


@dataclass(frozen=True)
class Send:
    """One call that reached, or may have reached, a platform: when, and the ``parts`` of its
    delivery (the post, then replies or a first comment)."""

    account: str
    at: datetime
    parts: int


def recent_sends(
    session: Session,
    platform: str,
    since: datetime,
    now: datetime,
    lease: timedelta,
    *,
    besides: int | None = None,
) -> list[Send]:
    """Every attempt on ``platform`` whose call ended after ``since``, with the number of parts
    of its delivery, but the attempt ``besides`` (one being decided). A call that has not
    recorded its end (still running, or its process died) counts as now, or as one lease after
    it started if that is sooner: the latest a call can reach the platform unless the heartbeat
    keeps it going longer, and such a rare long call then counts a little early."""
    rows = session.execute(
        select(
            Delivery.platform,
            Delivery.account,
            func.json_array_length(Delivery.parts),  # not the parts: only how many
            Attempt.started_at,
            Attempt.finished_at,
        )
        .join(Attempt, Attempt.delivery_id == Delivery.id)
        .where(*_called_since(since, lease, besides))
    ).all()
    return [
        Send(account, finished or min(now, started + lease), parts)
        for on, account, parts, started, finished in rows
        if on == platform
    ]


def posts_by_account(
    session: Session,
    platform: str,
    since: datetime,
    lease: timedelta,
    *,
    parts_are_posts: bool,
    besides: int | None = None,
) -> dict[str, int]:
    """The posts each account of ``platform`` made since ``since``, counted as ``recent_sends``
    counts calls but summed by the database: the quick look that, while every account is well
    within its quotas, spares reading each send."""
    posts = func.sum(func.json_array_length(Delivery.parts)) if parts_are_posts else func.count()
    rows = session.execute(
        select(Delivery.platform, Delivery.account, posts)
        .join(Attempt, Attempt.delivery_id == Delivery.id)
        .where(*_called_since(since, lease, besides))
        .group_by(Delivery.platform, Delivery.account)
    ).all()
    return {account: int(n) for on, account, n in rows if on == platform}


QUOTA_LOCK = 0x71756F74  # "quot": with the platform's hash, PostgreSQL's advisory lock


def count_alone(session: Session, platform: str) -> None:
    """Let one claim at a time count the platform's quota use and add to it, until the caller's
    transaction ends. On SQLite BEGIN IMMEDIATE already does; on PostgreSQL two hosts would each
    count without the other's uncommitted attempt and both send the post that fills the quota.
    Waiting here, the second counts afresh (READ COMMITTED) and sees the first's attempt."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(QUOTA_LOCK, func.hashtext(platform))))


def _called_since(
    since: datetime, lease: timedelta, besides: int | None
) -> list[ColumnElement[bool]]:
    # No platform here: it would lead SQLite to read every delivery of the platform, those sent
    # long ago included, instead of only the recent attempts (by finished_at).
    return [
        or_(
            Attempt.finished_at > since,
            and_(Attempt.finished_at.is_(None), Attempt.started_at > since - lease),
        ),
        or_(Attempt.outcome.is_(None), Attempt.outcome.in_(_CALLED)),
        Attempt.id != besides if besides is not None else true(),
    ]


def defer(session: Session, account: str, until: datetime, now: datetime) -> int:
    """Move the due deliveries of ``account`` to ``until`` (its quota is spent, or the platform
    said "not before then"). No attempt is counted; returns how many were moved."""
    moved = session.execute(
        update(Delivery)
        .where(
            Delivery.account == account,
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.not_before <= now,
        )
        .values(not_before=until)
    )
    return int(cast("CursorResult[Any]", moved).rowcount)  # an UPDATE's result has a rowcount
