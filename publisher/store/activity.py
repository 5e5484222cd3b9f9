"""The freshness sweep's view of the ledger: last content per account, notices, evergreen use.

``note_outcome`` is the one write on the dispatch path: called in the transaction that records an
attempt's outcome, so "when did this account last publish, and is its platform refusing it" is
true the moment the outcome is, and answered by one small row instead of a scan of the ledger.
The rest are the sweep's reads and writes: a few bulk queries per sweep, whatever the number of
accounts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from publisher.store.models import AccountActivity, Delivery, EvergreenUse, Notice, Post
from publisher.vocabulary import DeliveryStatus

SCHEDULED = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


def note_outcome(
    session: Session, account: str, status: DeliveryStatus, at: datetime, error: str | None
) -> None:
    """Remember, in the caller's transaction, what an attempt for ``account`` came to: content
    (status sent or dry_run) at ``at``, or a refusal by its platform (``error``), which marks the
    account failing until content goes out again. An upsert, so two dispatchers finishing at
    once both land."""
    update: dict[str, Any]
    if status in (DeliveryStatus.SENT, DeliveryStatus.DRY_RUN):
        column = "last_sent_at" if status is DeliveryStatus.SENT else "last_dry_run_at"
        first: dict[str, Any] = {column: at}
        update = {column: at, "failing_since": None, "last_error": None}
    elif error is not None:
        first = {"failing_since": at, "last_error": error}
        since = func.coalesce(AccountActivity.failing_since, at)
        update = {"failing_since": since, "last_error": error}
    else:
        return
    row = {"account": account, "tracked_since": at, **first}
    if session.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(AccountActivity).values(row)
        session.execute(pg.on_conflict_do_update(index_elements=["account"], set_=update))
    else:
        lite = sqlite.insert(AccountActivity).values(row)
        session.execute(lite.on_conflict_do_update(index_elements=["account"], set_=update))


@dataclass(frozen=True)
class Activity:
    """An account's row of ``account_activity``, read in bulk without ORM objects."""

    account: str
    tracked_since: datetime
    last_sent_at: datetime | None = None
    last_dry_run_at: datetime | None = None
    failing_since: datetime | None = None
    last_error: str | None = None


def activity(session: Session, accounts: Sequence[str], now: datetime) -> dict[str, Activity]:
    """Every account's row; an account seen for the first time is added, counted from now."""
    columns = [getattr(AccountActivity, f.name) for f in fields(Activity)]
    rows = {row.account: Activity(*row) for row in session.execute(select(*columns))}
    new = [Activity(account, now) for account in accounts if account not in rows]
    if new:
        session.execute(insert(AccountActivity), [asdict(row) for row in new])
        rows.update((row.account, row) for row in new)
    return rows


def next_scheduled(session: Session) -> dict[str, datetime]:
    """Per account, the earliest delivery still to go out (pending or being sent)."""
    query = (
        select(Delivery.account, func.min(Delivery.not_before))
        .where(Delivery.status.in_(SCHEDULED), Delivery.counts_for_freshness)
        .group_by(Delivery.account)
    )
    return dict(session.execute(query).all())


def notice_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of these notices were already sent."""
    wanted = list(keys)
    if not wanted:
        return set()
    return set(session.scalars(select(Notice.key).where(Notice.key.in_(wanted))))


def record_notice(session: Session, notice: Notice) -> bool:
    """Keep a notice that went out; False if another sweep recorded the same one first."""
    try:
        with session.begin_nested():
            session.add(notice)
    except IntegrityError:
        return False
    return True


def evergreen_posts(session: Session, key_prefix: str) -> list[tuple[str, str, datetime | None]]:
    """Post key, status and finish time of each delivery of the posts whose key starts so."""
    query = (
        select(Post.key, Delivery.status, Delivery.finished_at)
        .join(Post, Post.id == Delivery.post_id)
        .where(Post.key.startswith(key_prefix, autoescape=True))
    )
    return [(key, status, finished) for key, status, finished in session.execute(query)]


def last_uses(session: Session, account: str) -> dict[str, datetime]:
    """When the account last published each evergreen item, by item name."""
    query = select(EvergreenUse.item, EvergreenUse.used_at).where(EvergreenUse.account == account)
    return dict(session.execute(query).all())


def note_use(session: Session, account: str, item: str, post_id: int, at: datetime) -> None:
    use = session.get(EvergreenUse, (account, item))
    if use is None:
        session.add(EvergreenUse(account=account, item=item, used_at=at, post_id=post_id))
    else:
        use.used_at, use.post_id = at, post_id
