"""The directorate's report: per unit and per account, what was published, how often, with which
tags, how it performed, and what failed, between two local dates. Read from the ledger only;
report_export.py lays it out as JSON and CSV, report_html.py as a page.

Definitions (the README's "Reports and KPIs" repeats them for readers):

- A **post** is a delivery (post x account x language) published in the window: status ``sent``
  (or ``dry_run``, so a rehearsal ledger gives a rehearsal report), dated by its ``finished_at``.
- **Days since last post**: from the account's last post at or before the window's end (looked
  for in the whole ledger, not only the window) to the window's end; none if it never posted.
- **Longest silence**: the longest stretch inside the window with no post of the account,
  counting from the window's start and up to its end. The window's end is the end of the ``--to``
  day, or now if that is earlier.
- **Tag compliance**: a post complies when the parts that went out carry every tag the policy
  required when it was planned. The required tags are the delivery's planned tag list (what
  ``tags.mentions`` computed from ``[tags.groups]`` then, kept on the delivery) less the post
  file's own ``tags``; a part went out when the platform gave it an id (all parts of a dry run).
- **KPIs** are each post's latest metric snapshot; per post divides by the posts measured.
- **Amplified**: the retweets and shares the account made in the window (``[[amplify]]``) of other
  accounts' posts; they are not posts of its own and count in no other column.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Row, func, select
from sqlalchemy.orm import Session

from publisher.adapters.registry import adapter_class
from publisher.config.settings import Settings
from publisher.errors import PublisherError
from publisher.store.models import Delivery, MetricSnapshot, Post
from publisher.vocabulary import POST, DeliveryStatus

PUBLISHED = (DeliveryStatus.SENT, DeliveryStatus.DRY_RUN)
KPIS = ("likes", "shares", "comments", "views")
DAY = 86400.0


@dataclass
class Kpis:
    """Totals of the latest snapshots; a figure no measured post had stays None."""

    measured: int = 0
    likes: int | None = None
    shares: int | None = None
    comments: int | None = None
    views: int | None = None

    def add(self, other: Kpis) -> None:
        self.measured += other.measured
        for name in KPIS:
            value = getattr(other, name)
            if value is not None:
                setattr(self, name, (getattr(self, name) or 0) + value)

    def per_post(self, name: str) -> float | None:
        total = getattr(self, name)
        return round(total / self.measured, 1) if total is not None and self.measured else None


@dataclass
class PostLine:
    """One published delivery, as the per-post part of the report shows it."""

    delivery_id: int
    post: str  # the post's key, unit/id
    account: str
    locale: str
    published_at: datetime
    url: str | None
    compliant: bool | None  # None where the platform carries no tags (e-mail)
    missing_tags: list[str]
    kpis: Kpis


@dataclass
class AccountLine:
    unit: str
    account: str  # platform:handle
    platform: str
    handle: str
    posts: int = 0
    by_language: Counter[str] = field(default_factory=Counter)
    last_post: datetime | None = None
    days_since_last_post: float | None = None
    longest_silence_days: float = 0.0
    tag_checked: int = 0  # posts on platforms that carry tags
    tag_compliant: int = 0
    kpis: Kpis = field(default_factory=Kpis)
    amplified: int = 0  # retweets and shares of other accounts' posts
    failures: int = 0
    causes: Counter[str] = field(default_factory=Counter)
    lines: list[PostLine] = field(default_factory=list)


@dataclass
class UnitLine:
    unit: str
    name: str
    accounts: list[AccountLine]
    per_day: Counter[date] = field(default_factory=Counter)

    @property
    def posts(self) -> int:
        return sum(a.posts for a in self.accounts)

    @property
    def by_platform(self) -> Counter[str]:
        return Counter({a.platform: a.posts for a in self.accounts if a.posts})

    @property
    def by_language(self) -> Counter[str]:
        return sum((a.by_language for a in self.accounts), Counter())

    @property
    def tag_checked(self) -> int:
        return sum(a.tag_checked for a in self.accounts)

    @property
    def tag_compliant(self) -> int:
        return sum(a.tag_compliant for a in self.accounts)

    @property
    def amplified(self) -> int:
        return sum(a.amplified for a in self.accounts)

    @property
    def failures(self) -> int:
        return sum(a.failures for a in self.accounts)

    @property
    def kpis(self) -> Kpis:
        total = Kpis()
        for a in self.accounts:
            total.add(a.kpis)
        return total


@dataclass
class Report:
    organisation: str
    zone: ZoneInfo
    first: date  # local dates, both included
    last: date
    start: datetime  # UTC: the start of ``first``
    end: datetime  # UTC: the end of ``last``, or now if earlier
    generated_at: datetime
    units: list[UnitLine]

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def build_report(
    session: Session,
    settings: Settings,
    first: date,
    last: date,
    now: datetime,
    unit: str | None = None,
) -> Report:
    """The report of the local dates ``first`` to ``last`` (both included), for one unit or all.

    Raises:
        PublisherError: the dates are the wrong way round, or the unit is not in config.toml.
    """
    if last < first:
        msg = f"the report runs from {first} to {last}: --from must not be after --to"
        raise PublisherError(msg)
    if unit is not None and unit not in settings.units:
        msg = f"there is no unit '{unit}'; name one of: {', '.join(settings.units)}"
        raise PublisherError(msg)
    zone = settings.zone
    start = datetime.combine(first, time(), zone).astimezone(now.tzinfo)
    end = min(now, datetime.combine(last + timedelta(days=1), time(), zone).astimezone(now.tzinfo))
    units = [unit] if unit else list(settings.units)
    lines: dict[str, AccountLine] = {}
    for uid in units:
        for account in settings.units[uid].accounts:
            lines[account.key] = AccountLine(uid, account.key, account.platform, account.handle)
    in_units = Delivery.unit.in_(units)
    published_in_window = (
        in_units,
        Delivery.status.in_(PUBLISHED),
        Delivery.finished_at >= start,
        Delivery.finished_at < end,
    )
    in_window = (*published_in_window, Delivery.kind == POST)
    # Plain rows, not ORM objects: a quarter's report reads tens of thousands of deliveries.
    published = session.execute(
        select(
            Delivery.id,
            Delivery.unit,
            Delivery.account,
            Delivery.platform,
            Delivery.locale,
            Delivery.status,
            Delivery.finished_at,
            Delivery.remote_url,
            Delivery.parts,
            Delivery.tags,
            Post.key.label("post_key"),
            Post.request["tags"].label("own_tags"),
        )
        .join(Post, Post.id == Delivery.post_id)
        .where(*in_window)
        .order_by(Delivery.finished_at, Delivery.id)
    ).all()
    snapshots = _latest_snapshots(session, in_window)
    for row in published:
        line = _line(lines, row.unit, row.account)
        post = _post_line(row, snapshots.get(row.id))
        line.posts += 1
        line.by_language[row.locale] += 1
        line.lines.append(post)
        if post.compliant is not None:
            line.tag_checked += 1
            line.tag_compliant += post.compliant
        if post.kpis.measured:
            line.kpis.add(post.kpis)
    _add_last_posts(session, lines, in_units, end)
    amplified = session.execute(
        select(Delivery.unit, Delivery.account, func.count())
        .where(*published_in_window, Delivery.kind != POST)
        .group_by(Delivery.unit, Delivery.account)
    ).all()
    for uid, key, count in amplified:
        _line(lines, uid, key).amplified = count
    _add_failures(session, lines, in_units, start, end)
    for line in lines.values():
        line.longest_silence_days = _longest_silence(
            [p.published_at for p in line.lines], start, end
        )
    report_units = []
    for uid in units:
        accounts = [a for a in lines.values() if a.unit == uid]
        unit_line = UnitLine(uid, settings.units[uid].name, accounts)
        for a in accounts:
            unit_line.per_day.update(p.published_at.astimezone(zone).date() for p in a.lines)
        report_units.append(unit_line)
    return Report(
        settings.organisation.name,
        ZoneInfo(settings.organisation.timezone),
        first,
        last,
        start,
        end,
        now,
        report_units,
    )


def _add_last_posts(
    session: Session, lines: dict[str, AccountLine], in_units: ColumnElement[bool], end: datetime
) -> None:
    """Each account's last post at or before the window's end, wherever it is in the ledger."""
    last_posts = session.execute(
        select(Delivery.unit, Delivery.account, func.max(Delivery.finished_at))
        .where(
            in_units,
            Delivery.kind == POST,
            Delivery.status.in_(PUBLISHED),
            Delivery.finished_at < end,
        )
        .group_by(Delivery.unit, Delivery.account)
    ).all()
    for uid, key, when in last_posts:
        if when is None:
            continue
        line = _line(lines, uid, key)
        line.last_post = when
        line.days_since_last_post = round((end - when).total_seconds() / DAY, 1)


def _add_failures(
    session: Session,
    lines: dict[str, AccountLine],
    in_units: ColumnElement[bool],
    start: datetime,
    end: datetime,
) -> None:
    """Deliveries that failed in the window, counted by their last error."""
    failed = session.execute(
        select(Delivery.unit, Delivery.account, Delivery.last_error).where(
            in_units,
            Delivery.status == DeliveryStatus.FAILED,
            Delivery.finished_at >= start,
            Delivery.finished_at < end,
        )
    ).all()
    for uid, key, error in failed:
        line = _line(lines, uid, key)
        line.failures += 1
        line.causes[error or "no error recorded"] += 1


def _line(lines: dict[str, AccountLine], unit: str, account: str) -> AccountLine:
    """The account's line; an account no longer in config.toml still gets one for its posts."""
    if account not in lines:
        platform, _, handle = account.partition(":")
        lines[account] = AccountLine(unit, account, platform, handle)
    return lines[account]


def _latest_snapshots(
    session: Session, in_window: Sequence[ColumnElement[bool]]
) -> dict[int, Kpis]:
    """The latest snapshot of each delivery the window holds, by delivery id (a join, not a
    list of ids: a year of posts is more ids than SQLite takes in one statement)."""
    latest = (
        select(MetricSnapshot.delivery_id, func.max(MetricSnapshot.taken_at).label("taken_at"))
        .join(Delivery, Delivery.id == MetricSnapshot.delivery_id)
        .where(*in_window)
        .group_by(MetricSnapshot.delivery_id)
        .subquery()
    )
    rows = session.execute(
        select(
            MetricSnapshot.delivery_id,
            MetricSnapshot.likes,
            MetricSnapshot.shares,
            MetricSnapshot.comments,
            MetricSnapshot.views,
        ).join(
            latest,
            (MetricSnapshot.delivery_id == latest.c.delivery_id)
            & (MetricSnapshot.taken_at == latest.c.taken_at),
        )
    )
    return {
        row.delivery_id: Kpis(1, row.likes, row.shares, row.comments, row.views) for row in rows
    }


def required_tags(planned: Sequence[str], own: Sequence[str] | None) -> list[str]:
    """The tags the policy required when a delivery was planned: its planned tags less the
    post file's own ``tags`` (a handle both in the policy and in the post counts as the post's)."""
    theirs = {str(t).lower().removeprefix("@") for t in own or []}
    return [t for t in planned if t.lower() not in theirs]


def _post_line(row: Row[Any], kpis: Kpis | None) -> PostLine:
    """One published delivery (a row of build_report's query) and its latest figures."""
    dry = row.status == DeliveryStatus.DRY_RUN
    carried = {
        tag.lower()
        for n, part in enumerate(row.parts)
        if dry or n == 0 or part.get("remote_id")
        for tag in part.get("tags", [])
    }
    missing = [t for t in required_tags(row.tags, row.own_tags) if t.lower() not in carried]
    return PostLine(
        row.id,
        row.post_key,
        row.account,
        row.locale,
        row.finished_at,
        row.remote_url,
        not missing if adapter_class(row.platform).rules.mentions else None,
        missing,
        kpis or Kpis(),
    )


def _longest_silence(times: Sequence[datetime], start: datetime, end: datetime) -> float:
    """The longest gap, in days to one decimal, between the window's start, each post, and the
    window's end."""
    if end <= start:
        return 0.0
    marks = [start, *sorted(times), end]
    gap = max(later - earlier for earlier, later in pairwise(marks))
    return round(gap.total_seconds() / DAY, 1)
