"""The contract between the dispatcher and every platform.

An adapter publishes one delivery and returns a Receipt, or raises an AdapterError subclass that
tells the dispatcher what it may do next. It never returns False: "retry later" and "never retry"
must not look alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from publisher.fit import Part


@dataclass(frozen=True)
class Media:
    path: Path  # absolute
    alt: str | None  # in the delivery's language; required for images


@dataclass(frozen=True)
class Outgoing:
    """One delivery as a platform sees it: the parts are final, each medium has its alt text."""

    delivery_id: int
    idempotency_key: str
    account: str  # platform:handle
    platform: str
    locale: str
    parts: list[Part]  # the post first, then replies under it or a first comment
    tags: list[str]
    media: list[Media]


@dataclass(frozen=True)
class Receipt:
    """What the platform gave back, the proof that a delivery exists there."""

    remote_id: str | None
    url: str | None
    at: datetime


class Adapter(ABC):
    dry_run: ClassVar[bool] = False
    """True for an adapter that records instead of publishing: deliveries end as dry_run."""

    @abstractmethod
    def publish(self, delivery: Outgoing) -> Receipt:
        """Publish the delivery.

        Raises:
            TransientError: try again later (after ``retry_after`` seconds when given).
            PermanentError: retrying cannot help.
        """
