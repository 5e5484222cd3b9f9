"""Accepting a post: the post and all its deliveries written in one transaction, and the look-up
by key that makes a file taken twice (a crash, a copy, another host) the same post, not a second.

Intake's hot path (bench/plan_record.py): prepared Core statements on the session's connection,
no ORM objects for the rows written.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session, selectinload

from publisher.store.audit import Entry, append_all
from publisher.store.models import Base, Delivery, Post
from publisher.store.records import NewPost
from publisher.vocabulary import POST, DeliveryStatus

_POSTS = Base.metadata.tables[Post.__tablename__]
_DELIVERIES = Base.metadata.tables[Delivery.__tablename__]
# Ids in the order of the rows (SQLAlchemy's insertmanyvalues; on SQLite an INSERT per row).
_INSERT_POSTS = insert(_POSTS).returning(_POSTS.c.id, sort_by_parameter_order=True)
_INSERT_DELIVERIES = insert(_DELIVERIES)
_POST_ID = select(_POSTS.c.id).where(_POSTS.c.key == bindparam("key"))


def find_post(session: Session, key: str) -> Post | None:
    """The post recorded under ``key``, with its deliveries (a receipt lists them), or None.

    Intake asks this for every file and nearly every file is new, so a plain Core look-up of the
    id comes first; the post is loaded only when there is one.
    """
    post_id = session.connection().execute(_POST_ID, {"key": key}).scalar()
    if post_id is None:
        return None
    return session.scalars(
        select(Post).where(Post.id == post_id).options(selectinload(Post.deliveries))
    ).one()


@dataclass(frozen=True)
class RecordedDelivery:
    """A delivery as ``record_post`` wrote it: what its post's receipt lists."""

    account: str
    locale: str
    not_before: datetime
    status: str = DeliveryStatus.PENDING
    finished_at: datetime | None = None
    last_error: str | None = None
    kind: str = POST


@dataclass(frozen=True)
class RecordedPost:
    """A post as ``record_post`` wrote it, deliveries in their order in the ledger: intake writes
    the receipt from this instead of reading back what it has just written."""

    id: int
    key: str
    unit: str
    source_name: str
    priority: int
    not_before: datetime
    received_at: datetime
    deliveries: list[RecordedDelivery]


def record_post(session: Session, new: NewPost) -> RecordedPost:
    """Insert a new post and all its deliveries; returns what was recorded."""
    [recorded] = record_posts(session, [new])
    return recorded


def record_posts(session: Session, posts: Sequence[NewPost]) -> list[RecordedPost]:
    """Insert new posts, all their deliveries and an audit row for each; returns what was
    recorded, in the same order.

    The hot path of intake (bench/plan_record.py), which records a batch of files at once:
    prepared Core statements on the session's connection, the post rows first (their ids, in
    order, are needed for the deliveries), then ONE executemany for the deliveries of all the
    posts and one for their audit rows; no ORM objects and no statement built per post.
    """
    connection = session.connection()
    ids = list(connection.execute(_INSERT_POSTS, [_post_row(new) for new in posts]).scalars())
    connection.execute(
        _INSERT_DELIVERIES,
        [row for post_id, new in zip(ids, posts, strict=True) for row in _rows(post_id, new)],
    )
    append_all(
        session,
        [
            Entry(
                new.received_at,
                f"queue/{new.unit}",
                "post.accept",
                f"post {post_id}",
                {"key": new.key, "file": new.source_name, "deliveries": len(new.deliveries)},
            )
            for post_id, new in zip(ids, posts, strict=True)
        ],
    )
    return [_recorded(post_id, new) for post_id, new in zip(ids, posts, strict=True)]


def _post_row(new: NewPost) -> dict[str, Any]:
    return {
        "key": new.key,
        "unit": new.unit,
        "source_name": new.source_name,
        "source_sha256": new.sha256,
        "priority": new.priority,
        "not_before": new.not_before,
        "received_at": new.received_at,
        "archive_path": new.archive_path,
        "notes": list(new.notes),
        "request": new.request,
    }


def _rows(post_id: int, new: NewPost) -> Iterator[dict[str, Any]]:
    """The post's delivery rows."""
    for d in new.deliveries:
        yield {
            "post_id": post_id,
            "idempotency_key": f"{new.key}|{d.account}|{d.locale}",
            "unit": d.unit,
            "account": d.account,
            "platform": d.platform,
            "locale": d.locale,
            "text": d.parts[0].text,
            "parts": [
                {"kind": p.kind, "text": p.text, "tags": p.tags, "remote_id": None} for p in d.parts
            ],
            "notes": d.notes,
            "progress": {},
            "tags": d.tags,
            "media": d.media,
            "status": new.status,
            "priority": new.priority,
            "not_before": new.not_before,
            "attempts": 0,
        }


def _recorded(post_id: int, new: NewPost) -> RecordedPost:
    return RecordedPost(
        post_id,
        new.key,
        new.unit,
        new.source_name,
        new.priority,
        new.not_before,
        new.received_at,
        [RecordedDelivery(d.account, d.locale, new.not_before, new.status) for d in new.deliveries],
    )
