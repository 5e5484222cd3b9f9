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
from itertools import accumulate

from publisher.config.platforms import Quota
from publisher.store.pacing import Send


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
        """How many posts a delivery of ``parts`` parts makes."""
        return parts if self.parts_are_posts else 1

    def fits(self, used: Mapping[str, int], account: str, posts: int) -> bool:
        """The quick answer, from the posts each account made in the longest window: True when
        ``posts`` more fit every quota even if all those posts fell in its window. False means
        "look closer" (``free_at``), not "no"."""
        app = self.apps.get(account)
        for rule in self.rules:
            scope = [
                a for a in used if (a == account if rule.per == "account" else self._same(a, app))
            ]
            if sum(used[a] for a in scope) + min(posts, rule.posts) > rule.posts:
                return False
        return True

    def free_at(
        self, sends: Sequence[Send], account: str, posts: int, now: datetime
    ) -> datetime | None:
        """None if ``posts`` more posts by ``account`` fit in every quota now; otherwise the
        earliest time they will (the latest of the quotas' answers)."""
        app = self.apps.get(account)
        waits = []
        for rule in self.rules:
            window = timedelta(minutes=rule.minutes)
            mine = sorted(
                (
                    (s.at, self.cost(s.parts))
                    for s in sends
                    if s.at > now - window
                    and (
                        s.account == account
                        if rule.per == "account"
                        else self._same(s.account, app)
                    )
                ),
            )
            wait = _free_at(mine, rule.posts, window, posts)
            if wait is not None:
                waits.append(wait)
        return max(waits, default=None)

    def _same(self, account: str, app: str | None) -> bool:
        return self.apps.get(account) == app


def _free_at(
    recent: Sequence[tuple[datetime, int]], limit: int, window: timedelta, posts: int
) -> datetime | None:
    """When ``posts`` more fit under ``limit``, given the (time, posts) sent in the window, oldest
    first: None if now. A delivery worth more posts than the whole limit waits for an empty
    window rather than forever."""
    excess = sum(n for _, n in recent) + min(posts, limit) - limit
    if excess <= 0:
        return None
    # The oldest sends that must age out to make room; the excess never exceeds what they hold.
    freed = next(i for i, total in enumerate(accumulate(n for _, n in recent)) if total >= excess)
    return recent[freed][0] + window
