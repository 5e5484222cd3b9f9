"""The words every layer shares about a delivery: its statuses, its kind, its priority, the parts
it publishes and the receipt a platform gives back.

A leaf: it imports nothing of the project, so the ledger at the bottom and the adapters above it
speak of the same things without depending on each other (DESIGN.md, "Vocabulary").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

POST: Final = "post"
"""The kind of a delivery that publishes; any other kind (an adapter's ``rules.amplify``, such as
a retweet or a share) amplifies another account's delivery of the same post."""


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its not_before time, or for a retry
    SENDING = "sending"  # leased by a dispatcher; the platform may or may not have it yet
    SENT = "sent"  # the platform accepted it: remote_id holds the proof
    DRY_RUN = "dry_run"  # dry-run: recorded exactly as it would have gone out, never sent
    FAILED = "failed"  # gave up: a permanent error, or retries exhausted; a person must look
    UNCERTAIN = "uncertain"  # may or may not be on the platform, and it cannot tell: a person
    # decides with `publisher resolve`
    LATE = "late"  # due more than dispatch.late_after_hours before it could be taken (the engine
    # was down): never sent, reported to the nodal officer instead
    AWAITING = "awaiting"  # its unit needs approval: waits for `publisher approve` (review says
    # "awaiting approval"); the dispatcher takes only pending ones, so its claim needs no join
    CANCELLED = "cancelled"  # an operator withdrew it (`publisher cancel`) before it was sent


class Priority(enum.IntEnum):
    """Higher goes first: a clarification of fake news must not wait behind a scheme promotion."""

    NORMAL = 0
    URGENT = 10


@dataclass(frozen=True)
class Part:
    """One published piece: the post itself, a reply under it, or a first comment."""

    kind: Literal["post", "reply", "comment"]
    text: str
    tags: list[str]
    remote_id: str | None = None  # once published


@dataclass(frozen=True)
class Receipt:
    """What the platform gave back, the proof that a delivery exists there."""

    remote_id: str | None
    url: str | None
    at: datetime
    part_ids: list[str] = field(default_factory=list)  # replies or the first comment, in order


@dataclass(frozen=True)
class Amplified:
    """The delivery a retweet or share amplifies, as its own platform recorded it."""

    account: str  # platform:handle
    remote_id: str | None
    url: str | None


@dataclass(frozen=True)
class Amplifier:
    """An account that amplifies a source account's posts, and how (its adapter's
    ``rules.amplify``): what the ledger records as a delivery when the source's post is sent."""

    unit: str
    account: str  # platform:handle
    platform: str
    kind: str
    counts_for_freshness: bool
