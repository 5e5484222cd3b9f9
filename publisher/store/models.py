"""The ledger's tables: posts, deliveries (post x account x locale) and attempts.

Plain columns only, readable in SQL by an administrator; statuses are text. A delivery row is the
schedule (``not_before``), the exact text that will be published, and the record of what happened.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from publisher.vocabulary import POST


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: SQLite keeps no zone, and mixing the two is a bug."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            msg = "naive datetime given to the ledger; pass an aware UTC time"
            raise ValueError(msg)
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)  # unit/id, or unit/sha256:…
    unit: Mapped[str] = mapped_column(String(64), index=True)
    source_name: Mapped[str] = mapped_column(String(255))
    source_sha256: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int]
    not_before: Mapped[datetime]
    received_at: Mapped[datetime]
    archive_path: Mapped[str | None] = mapped_column(Text)
    request: Mapped[dict[str, Any]]  # the post file as parsed, so a reviewer can re-render it
    notes: Mapped[list[Any]]  # for reviewers: accounts that get nothing in a locale, and why

    deliveries: Mapped[list[Delivery]] = relationship(back_populates="post", order_by="Delivery.id")


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint(
            "post_id", "account", "locale", "kind", name="uq_delivery_post_account_locale_kind"
        ),
        Index("ix_deliveries_account", "account", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    unit: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(200))  # platform:handle
    platform: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)  # the main post, exactly as published
    parts: Mapped[list[Any]]  # [{kind, text, tags}]: the post, then replies or a first comment
    notes: Mapped[list[Any]]  # for reviewers: translation fallbacks, unexpected scripts
    progress: Mapped[dict[str, Any]]  # checkpoints of a multi-step publish (an IG container id)
    tags: Mapped[list[Any]]
    media: Mapped[list[Any]]
    status: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int]
    not_before: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None]  # the holder's heartbeat moves it on while its call runs
    lease_holder: Mapped[int | None]  # the attempt whose call holds the lease
    remote_id: Mapped[str | None] = mapped_column(String(200))
    remote_url: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default=POST, server_default=POST)
    source_delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    # Whether this delivery, once sent, counts as the account's content for the freshness
    # guarantee: always for a post; for a retweet or share, as its [[amplify]] rule said.
    counts_for_freshness: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    post: Mapped[Post] = relationship(back_populates="deliveries")
    source: Mapped[Delivery | None] = relationship(remote_side=[id])


# In the dispatcher's order (urgent first, then oldest), so taking the next delivery reads one
# index entry instead of sorting every pending delivery.
Index(
    "ix_deliveries_next",
    Delivery.status,
    Delivery.priority.desc(),
    Delivery.not_before,
    Delivery.id,
)
# The same order within one platform, for its dispatch worker.
Index(
    "ix_deliveries_platform_next",
    Delivery.platform,
    Delivery.status,
    Delivery.priority.desc(),
    Delivery.not_before,
    Delivery.id,
)


class Attempt(Base):
    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(index=True)  # quotas count recent ones
    outcome: Mapped[str | None] = mapped_column(String(32))  # sent, retry, reconcile:sent, …
    error: Mapped[str | None] = mapped_column(Text)


class Pause(Base):
    """An operator's "nothing goes out" for everything, one unit, one platform, or one unit on one
    platform (a null column matches all). Kept in the ledger, not config, so a running daemon obeys
    at its next claim. Resuming deletes the row; the audit log keeps the history."""

    __tablename__ = "pauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit: Mapped[str | None] = mapped_column(String(64))
    platform: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    paused_by: Mapped[str] = mapped_column(String(128))
    paused_at: Mapped[datetime]


class AuditEntry(Base):
    """One line of the hash-chained audit log (publisher/store/audit.py). ``id`` is given by the
    writer (the previous row's plus one) and ``prev_hash`` is unique, so two writers that read the
    same last row cannot both append: the chain can fail a write, never fork."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(128))  # an operator's login, queue/<unit>, dispatch
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly the bytes that are hashed
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64))


class MetricSnapshot(Base):
    """A published delivery's engagement as its platform showed it at ``taken_at``; one row per
    collection, so growth over time can be read back. None where the platform gives no figure."""

    __tablename__ = "metric_snapshots"
    __table_args__ = (Index("ix_metric_snapshots_delivery", "delivery_id", "taken_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"))
    taken_at: Mapped[datetime]
    likes: Mapped[int | None]
    shares: Mapped[int | None]
    comments: Mapped[int | None]
    views: Mapped[int | None]


class AccountActivity(Base):
    """Per account, when content last went out: kept up to date in the same transaction as the
    outcome that makes it true (store.activity.note_outcome), so the freshness sweep never scans
    the deliveries or the attempts. Sent and dry-run content are kept apart: a rehearsal must not
    make a live account look fresh."""

    __tablename__ = "account_activity"

    account: Mapped[str] = mapped_column(String(200), primary_key=True)  # platform:handle
    tracked_since: Mapped[datetime]  # silence is counted from here until the first content
    last_sent_at: Mapped[datetime | None] = mapped_column(index=True)
    last_dry_run_at: Mapped[datetime | None] = mapped_column(index=True)
    failing_since: Mapped[datetime | None]  # its platform refused every attempt since then
    last_error: Mapped[str | None] = mapped_column(Text)


class Notice(Base):
    """Every warning, alert and digest the freshness sweep e-mailed (or, in dry-run, logged).

    The key says what it is about (``warning|x:TNPostalCircle|<silence start>``), so each is sent
    once per silence episode however often the sweep runs, and an administrator can read who was
    told what, and when.
    """

    __tablename__ = "freshness_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # warning, alert, digest
    account: Mapped[str | None] = mapped_column(String(200), index=True)
    reason: Mapped[str | None] = mapped_column(String(32))  # paused, empty-pool, failing
    sent_at: Mapped[datetime]
    recipients: Mapped[list[Any]]
    subject: Mapped[str] = mapped_column(Text)
    emailed: Mapped[bool]  # False in dry-run, where notices are only logged


class EvergreenUse(Base):
    """When an account last published each evergreen item: the pool is used least recently
    first, so an account does not repeat itself while other items wait."""

    __tablename__ = "evergreen_uses"

    account: Mapped[str] = mapped_column(String(200), primary_key=True)
    item: Mapped[str] = mapped_column(String(255), primary_key=True)  # the file's name
    used_at: Mapped[datetime]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))


class JobOutcome(enum.StrEnum):
    """How a periodic job's period ended (``job_runs.outcome``)."""

    DONE = "done"
    FAILED = "failed"  # logged; the next period does the work (the weekly report: by hand)
    GAVE_UP = "gave_up"  # the weekly report: its tries used up; `publisher report --email`


class JobRun(Base):
    """One period (``slot``) of a periodic job (the freshness sweep, metrics, the weekly report),
    taken by the daemon that runs it. Several daemons sharing the ledger each fire every job, and
    APScheduler's job store cannot be shared: the primary key lets the first of them to ask run
    the job for that period, and the others skip it. The holder keeps a lease on the row while
    the job runs; a period not finished whose lease ran out (its daemon died) is taken over, and
    the weekly report's retries wait here, not in a daemon's memory (store/jobs.py)."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)  # the daemon's job id
    slot: Mapped[datetime] = mapped_column(primary_key=True)  # when the period starts (UTC)
    host: Mapped[str] = mapped_column(String(255))  # the daemon that runs it (last): host:pid
    started_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]  # while ``host`` runs it; renewed by its heartbeat
    tries: Mapped[int] = mapped_column(default=1, server_default="1")  # times taken
    retry_at: Mapped[datetime | None]  # the weekly report: when the next try is due
    finished_at: Mapped[datetime | None]  # None: running, waiting for a retry, or abandoned
    outcome: Mapped[str | None] = mapped_column(String(16))  # a JobOutcome (none before 0013)
