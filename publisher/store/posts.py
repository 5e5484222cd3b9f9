"""Accepting a post: the post and all its deliveries written in one transaction, and the look-up
by key that makes a file taken twice (a crash, a copy, another host) the same post, not a second.

Intake's hot path (bench/plan_record.py): prepared Core statements on the session's connection,
no ORM objects for the rows written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session, selectinload

from publisher.plan import PlannedDelivery
from publisher.postfile import PostRequest
from publisher.store.audit import append
from publisher.store.models import Base, Delivery, DeliveryKind, DeliveryStatus, Post

_POSTS = Base.metadata.tables[Post.__tablename__]
_DELIVERIES = Base.metadata.tables[Delivery.__tablename__]
_INSERT_POST = insert(_POSTS).returning(_POSTS.c.id)
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
    kind: str = DeliveryKind.POST


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


def record_post(
    session: Session,
    request: PostRequest,
    planned: Sequence[PlannedDelivery],
    media: Sequence[str],
    archive_path: str,
    now: datetime,
    *,
    status: DeliveryStatus = DeliveryStatus.PENDING,
) -> RecordedPost:
    """Insert a new post and all its deliveries, each ``status`` (pending; awaiting when its unit
    needs approval); returns what was recorded.

    The hot path of intake (bench/plan_record.py): two prepared Core statements on the session's
    connection, the deliveries in one executemany, no ORM objects and no statement built per post.
    ``media`` are paths relative to the queue folder, where the post's media files will be once
    archived, in the post's order; each delivery keeps them with the alt text of its locale.
    """
    connection = session.connection()
    priority = int(request.priority)
    post_id: int = connection.execute(
        _INSERT_POST,
        {
            "key": request.key,
            "unit": request.unit,
            "source_name": request.source_name,
            "source_sha256": request.sha256,
            "priority": priority,
            "not_before": request.not_before,
            "received_at": now,
            "archive_path": archive_path,
            "request": request.body.model_dump(mode="json"),
        },
    ).scalar_one()
    connection.execute(
        _INSERT_DELIVERIES,
        [
            {
                "post_id": post_id,
                "idempotency_key": f"{request.key}|{d.account.key}|{d.locale}",
                "unit": d.unit,
                "account": d.account.key,
                "platform": d.account.platform,
                "locale": d.locale,
                "text": d.parts[0].text,
                "parts": [
                    {"kind": p.kind, "text": p.text, "tags": p.tags, "remote_id": None}
                    for p in d.parts
                ],
                "notes": d.notes,
                "progress": {},
                "tags": d.tags,
                "media": [
                    {"path": path, "alt": item.alt.get(d.locale)}
                    for path, item in zip(media, request.body.media, strict=True)
                ],
                "status": status,
                "priority": priority,
                "not_before": request.not_before,
                "attempts": 0,
            }
            for d in planned
        ],
    )
    append(
        session,
        now,
        f"queue/{request.unit}",
        "post.accept",
        f"post {post_id}",
        {"key": request.key, "file": request.source_name, "deliveries": len(planned)},
    )
    return RecordedPost(
        post_id,
        request.key,
        request.unit,
        request.source_name,
        priority,
        request.not_before,
        now,
        [RecordedDelivery(d.account.key, d.locale, request.not_before, status) for d in planned],
    )
