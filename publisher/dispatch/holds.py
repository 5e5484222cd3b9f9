"""What may not go out now: the pauses operators wrote in the ledger, and the blackout windows of
config.toml under way.

The dispatcher asks :func:`held` at each claim, so a pause written by ``publisher pause`` while the
daemon runs is obeyed at its next claim, and a blackout starts and ends on the clock. The decisions
themselves (pause, resume) are oversight's (publisher.oversight.controls).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import Session

from publisher.config.settings import Blackout, Settings
from publisher.errors import PublisherError
from publisher.store.models import Delivery, Pause

ANY: list[str | None] = [None]  # a blackout naming no units (or platforms) covers them all


@dataclass(frozen=True)
class Scope:
    """What a pause covers: one unit's accounts, one platform, both, or (neither) everything."""

    unit: str | None = None
    platform: str | None = None

    def __str__(self) -> str:
        unit = f"unit {self.unit}" if self.unit else ""
        platform = f"platform {self.platform}" if self.platform else ""
        return ", ".join(filter(None, [unit, platform])) or "everything"

    def matches(self) -> ColumnElement[bool]:
        """The deliveries it covers, as a SQL condition."""
        unit = [Delivery.unit == self.unit] if self.unit else []
        platform = [Delivery.platform == self.platform] if self.platform else []
        return and_(true(), *unit, *platform)

    @classmethod
    def checked(cls, settings: Settings, unit: str | None, platform: str | None) -> Scope:
        """A scope naming only what config.toml knows, so a typo cannot pause nothing."""
        if unit is not None and unit not in settings.units:
            msg = f"there is no unit '{unit}'; name one of: {', '.join(settings.units)}"
            raise PublisherError(msg)
        platforms = sorted({a.platform for _, a in settings.accounts()})
        if platform is not None and platform not in platforms:
            msg = f"no account is on '{platform}'; name one of: {', '.join(platforms)}"
            raise PublisherError(msg)
        return cls(unit, platform)


def blacked_out(blackouts: Sequence[Blackout], now: datetime) -> list[Blackout]:
    return [b for b in blackouts if b.start <= now < b.end]


def _holds(session: Session, now: datetime, blackouts: Sequence[Blackout]) -> list[Scope]:
    """What may not go out now: the pauses, and the blackout windows under way."""
    scopes = [Scope(p.unit, p.platform) for p in session.scalars(select(Pause))]
    return scopes + [
        Scope(unit, platform)
        for window in blacked_out(blackouts, now)
        for unit in window.units or ANY
        for platform in window.platforms or ANY
    ]


def held(session: Session, now: datetime, blackouts: Sequence[Blackout]) -> ColumnElement[bool]:
    """The deliveries that must not go out now: those a pause or a current blackout window
    covers. (Posts awaiting approval need nothing here: their deliveries are not pending.)"""
    scopes = _holds(session, now, blackouts)
    if Scope() in scopes:  # everything: a constant, so the claim reads no row at all
        return true()
    return or_(false(), *(s.matches() for s in scopes))


def held_accounts(session: Session, settings: Settings, now: datetime) -> set[str]:
    """The keys of the accounts nothing may be published to now (for the freshness sweep,
    which alerts the directorate about them instead of publishing)."""
    scopes = _holds(session, now, settings.blackouts)
    return {
        account.key
        for unit, account in settings.accounts()
        if any(s.unit in (None, unit) and s.platform in (None, account.platform) for s in scopes)
    }
