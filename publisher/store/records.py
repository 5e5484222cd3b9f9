"""What the ledger is given to record: a new post and its deliveries, as plain data.

No SQLAlchemy here, so that planning builds them (publisher.planning.plan.new_post) without
loading the ledger: ``validate`` plans a post and records nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from publisher.vocabulary import DeliveryStatus, Part


@dataclass(frozen=True)
class NewDelivery:
    """One delivery of a new post, as planning made it: ``parts`` are exactly what is published;
    ``media`` are ``{"path": …, "alt": …}``, paths relative to the queue folder."""

    unit: str
    account: str  # platform:handle
    platform: str
    locale: str
    parts: Sequence[Part]
    tags: Sequence[str]
    notes: Sequence[str]
    media: Sequence[Mapping[str, str | None]]


@dataclass(frozen=True)
class NewPost:
    """A post planned and not yet recorded: what ``record_posts`` writes.

    ``request`` is the post as asked for (its file, parsed), kept so a reviewer can re-render it;
    ``archive_path`` is where its files will be, relative to the queue folder; ``notes`` tell the
    reviewer what the post as a whole does not do (accounts that get nothing in a locale, and
    why). ``status`` is its deliveries' first one: pending, or awaiting when its unit needs
    approval.
    """

    key: str
    unit: str
    source_name: str
    sha256: str
    priority: int
    not_before: datetime
    received_at: datetime
    archive_path: str
    request: Mapping[str, Any]
    notes: Sequence[str]
    deliveries: Sequence[NewDelivery]
    status: DeliveryStatus = DeliveryStatus.PENDING
