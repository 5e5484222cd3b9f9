"""The freshness sweep's view of the ledger: last content per account, notices, evergreen use.

``note_content`` is the one write on the dispatch path: called in the transaction that records a
delivery as sent (or dry-run), so "when did this account last publish" is true the moment the
outcome is, and answered by one small row instead of a scan of the deliveries. The rest are the
sweep's reads and writes, each a few bulk queries per sweep whatever the number of accounts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from publisher.store.models import (
    AccountActivity,
    Attempt,
    Delivery,
    DeliveryStatus,
    EvergreenUse,
    Notice,
    Post,
)

SCHEDULED = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
FAILED_OUTCOMES = ("retry", "failed", "uncertain")  # an attempt the platform did not take


def note_content(session: Session, account: str, status: DeliveryStatus, at: datetime) -> None:
    """Remember that ``account`` published at ``at`` (status sent or dry_run), in the caller's
    transaction. An upsert, so two dispatchers finishing at once both land."""
    column = "last_sent_at" if status is DeliveryStatus.SENT else "last_dry_run_at"
    values = {"account": account, "tracked_since": at, column: at}
    if session.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(AccountActivity).values(values)
        session.execute(pg.on_conflict_do_update(index_elements=["account"], set_={column: at}))
    else:
        lite = sqlite.insert(AccountActivity).values(values)
        session.execute(lite.on_conflict_do_update(index_elements=["account"], set_={column: at}))


def activity(
    session: Session, accounts: Sequence[str], now: datetime
) -> dict[str, AccountActivity]:
    """Every account's row; an account seen for the first time starts its count now."""
    rows = {
        row.account: row
        for row in session.scalars(
            select(AccountActivity).where(AccountActivity.account.in_(accounts))
        )
    }
    for account in accounts:
        if account not in rows:
            rows[account] = AccountActivity(account=account, tracked_since=now)
            session.add(rows[account])
    return rows


def next_scheduled(session: Session) -> dict[str, datetime]:
    """Per account, the earliest delivery still to go out (pending or being sent)."""
    query = (
        select(Delivery.account, func.min(Delivery.not_before))
        .where(Delivery.status.in_(SCHEDULED))
        .group_by(Delivery.account)
    )
    return dict(session.execute(query).tuples())


def failing(session: Session, account: str) -> str | None:
    """The error of the account's latest attempt if the platform did not take it, else None."""
    latest = session.execute(
        select(Attempt.outcome, Attempt.error)
        .join(Delivery, Delivery.id == Attempt.delivery_id)
        .where(Delivery.account == account, Attempt.finished_at.is_not(None))
        .order_by(Attempt.finished_at.desc(), Attempt.id.desc())
        .limit(1)
    ).first()
    if latest is None or latest.outcome not in FAILED_OUTCOMES:
        return None
    return str(latest.error or latest.outcome)


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
    return list(session.execute(query).tuples())


def last_uses(session: Session, account: str) -> dict[str, datetime]:
    """When the account last published each evergreen item, by item name."""
    query = select(EvergreenUse.item, EvergreenUse.used_at).where(EvergreenUse.account == account)
    return dict(session.execute(query).tuples())


def note_use(session: Session, account: str, item: str, post_id: int, at: datetime) -> None:
    use = session.get(EvergreenUse, (account, item))
    if use is None:
        session.add(EvergreenUse(account=account, item=item, used_at=at, post_id=post_id))
    else:
        use.used_at, use.post_id = at, post_id
