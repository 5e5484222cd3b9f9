"""Quota planning: when the next post of an account may go without drawing a rate limit.

A platform limits posts per account and per developer app (many circle accounts share one X app).
The ledger remembers every attempt, so the posts made in a window are counted from it: the count
survives a restart and is shared by every process on the ledger. Pure functions, no I/O: the
dispatcher reads the recent sends and asks here whether one more fits, and if not, until when it
must wait.

Each send is counted when its call ended (``finished_at``), not when it began: the platform saw
the post somewhere in between, so a window measured from the end is never shorter than the
platform's, whatever its clock and however it cuts its windows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from publisher.config import Quota


@dataclass(frozen=True)
class Send:
    """One call that reached, or may have reached, a platform: ``posts`` it made, and when."""

    account: str
    at: datetime
    posts: int


@dataclass(frozen=True)
class Quotas:
    """One platform's quotas. ``apps`` maps each account to the app it posts through."""

    rules: Sequence[Quota]
    apps: Mapping[str, str]
    parts_are_posts: bool = False  # X: each reply under the post is one more post

    @property
    def window(self) -> timedelta:
        """The longest window: sends older than this no longer count."""
        return max((timedelta(minutes=q.minutes) for q in self.rules), default=timedelta(0))

    def cost(self, parts: int) -> int:
        return parts if self.parts_are_posts else 1

    def free_at(
        self, sends: Sequence[Send], account: str, posts: int, now: datetime
    ) -> datetime | None:
        """None if ``posts`` more posts by ``account`` fit in every quota now; otherwise the
        earliest time they will (the latest of the quotas' answers)."""
        app = self.apps.get(account)
        waits = []
        for rule in self.rules:
            mine = [
                s
                for s in sends
                if (
                    s.account == account
                    if rule.per == "account"
                    else self.apps.get(s.account) == app
                )
            ]
            wait = _free_at(mine, rule.posts, timedelta(minutes=rule.minutes), posts, now)
            if wait is not None:
                waits.append(wait)
        return max(waits, default=None)


def _free_at(
    sends: Sequence[Send], limit: int, window: timedelta, posts: int, now: datetime
) -> datetime | None:
    """When ``posts`` more fit under ``limit`` in any ``window``: None if now. A delivery worth
    more posts than the whole limit waits for an empty window rather than forever."""
    recent = sorted((s for s in sends if s.at > now - window), key=lambda s: s.at)
    excess = sum(s.posts for s in recent) + min(posts, limit) - limit
    if excess <= 0:
        return None
    for send in recent:  # the excess is never more than the recent sends hold
        excess -= send.posts
        if excess <= 0:
            break
    return send.at + window
