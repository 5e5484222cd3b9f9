"""The one source of "now", so tests and simulations can move time without sleeping; and how a
time is shown to people, in the organisation's zone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

Clock = Callable[[], datetime]
"""Returns the current time as an aware UTC datetime."""


def system_clock() -> datetime:
    return datetime.now(UTC)


def local(when: datetime, zone: tzinfo) -> str:
    """``when`` as people read it everywhere the engine shows a time: 2026-12-04 10:00 IST."""
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
