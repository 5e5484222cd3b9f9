"""What reviewers and operators read: deliveries by unit and account, and status per account.

The text shown is the delivery's stored text, the same bytes an adapter publishes: review never
re-renders, so what is approved is what goes out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import groupby

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from publisher.clock import local
from publisher.config.settings import Settings
from publisher.planning.preview import parts_lines
from publisher.store.models import Delivery, Post
from publisher.vocabulary import POST, DeliveryStatus, Part, Priority

OPEN = (
    DeliveryStatus.PENDING,
    DeliveryStatus.SENDING,
    DeliveryStatus.UNCERTAIN,
    DeliveryStatus.AWAITING,
)
SHOWN_AS: dict[str, str] = {
    DeliveryStatus.AWAITING: "AWAITING APPROVAL"
}  # what a status means, said plainly
LATE_SHOWN = timedelta(days=7)  # review lists late deliveries this long, then only status counts


def queued(session: Session) -> list[Delivery]:
    """Deliveries not yet sent (uncertain ones included: they wait for a person), in the order
    the dispatcher takes them."""
    return list(
        session.scalars(
            select(Delivery)
            .where(Delivery.status.in_(OPEN))
            .order_by(Delivery.priority.desc(), Delivery.not_before, Delivery.id)
            .options(selectinload(Delivery.post), selectinload(Delivery.source))
        )
    )


def late_deliveries(session: Session, now: datetime) -> list[Delivery]:
    """Deliveries marked late within ``LATE_SHOWN`` of ``now``: never sent, a person should know."""
    return list(
        session.scalars(
            select(Delivery)
            .where(
                (Delivery.status == DeliveryStatus.LATE)
                & (Delivery.finished_at >= now - LATE_SHOWN)
            )
            .order_by(Delivery.not_before, Delivery.id)
            .options(selectinload(Delivery.post))
        )
    )


def amplification_lines(d: Delivery, indent: str = "      ") -> list[str]:
    """A retweet or share as a reviewer reads it: whose delivery it amplifies, where that is, and
    the text it carries there."""
    source = d.source  # kept by a foreign key: always there for a retweet or share
    origin = f"{source.account} #{source.id} {source.remote_url or ''}".rstrip() if source else ""
    lines = [f"{indent}{d.kind} of {origin} by {d.account}"]
    lines += [f"{indent}| {line}".rstrip() for line in d.text.splitlines()]
    if d.last_error:
        lines.append(f"{indent}last error: {d.last_error}")
    return lines


def late_text(late: Sequence[Delivery], settings: Settings) -> str:
    """The deliveries just marked late, as ``run --once`` and ``status`` show them; nothing if
    none."""
    if not late:
        return ""
    hours = settings.dispatch.late_after_hours
    return (
        f"{len(late)} deliveries were late (due more than {hours:g} hours before the engine "
        "could send them) and were NOT sent:\n\n" + review_text(late, settings)
    )


def review_text(deliveries: Sequence[Delivery], settings: Settings) -> str:
    """Deliveries by unit, then account: time, locale, status, the exact text (tags included),
    media with alt text."""
    zone = settings.zone
    order = {uid: i for i, uid in enumerate(settings.units)}
    rows = sorted(
        deliveries, key=lambda d: (order.get(d.unit, len(order)), d.unit, d.account, d.id)
    )
    lines: list[str] = []
    for unit, by_unit in groupby(rows, key=lambda d: d.unit):
        name = settings.units[unit].name if unit in settings.units else unit
        lines += [f"== {name} ({unit}) =="]
        for account, by_account in groupby(by_unit, key=lambda d: d.account):
            platform, _, handle = account.partition(":")
            lines.append(f"  {platform} @{handle}")
            for d in by_account:
                urgent = " URGENT" if d.priority >= Priority.URGENT else ""
                lines.append(
                    f"    #{d.id} {d.locale} {local(d.not_before, zone)} "
                    f"{SHOWN_AS.get(d.status, d.status)}{urgent}"
                    f"  post {d.post.key} ({d.post.source_name})"
                )
                if d.kind != POST:
                    lines += amplification_lines(d)
                    continue
                lines += parts_lines([Part(**p) for p in d.parts], d.notes)
                lines += [f"      media: {m['path']}  alt: {m['alt'] or '(none)'}" for m in d.media]
                if d.last_error:
                    lines.append(f"      last error: {d.last_error}")
        lines.append("")
    lines += _skipped_lines(rows)
    return "\n".join(lines) if lines else "Nothing to show.\n"


def _skipped_lines(deliveries: Sequence[Delivery]) -> list[str]:
    """Once per post: the accounts that get nothing in one of their locales, and why."""
    posts = {d.post_id: d.post for d in deliveries if d.post.notes}
    if not posts:
        return []
    lines = ["Not sent in every account's language:"]
    for _, post in sorted(posts.items()):
        lines.append(f"  post {post.key} ({post.source_name})")
        lines += [f"    {note}" for note in post.notes]
    return [*lines, ""]


def awaiting_text(deliveries: Sequence[Delivery], settings: Settings) -> str:
    """The posts awaiting approval, each with its number and the commands a reviewer needs; the
    exact texts follow in the review, per account, marked AWAITING APPROVAL."""
    waiting = [d for d in deliveries if d.status == DeliveryStatus.AWAITING]
    if not waiting:
        return ""
    posts = {d.post_id: d.post for d in waiting}
    count = Counter(d.post_id for d in waiting)
    lines = [f"{len(posts)} post(s) awaiting approval (nothing of them goes out until approved):"]
    for pid, post in sorted(posts.items()):
        lines += [
            f"  post {pid}: {post.key} ({post.source_name}), {count[pid]} deliveries, "
            f"received {local(post.received_at, settings.zone)}",
            f'    approve: publisher approve {pid} --reason "…"'
            f'    refuse: publisher cancel --post {pid} --reason "…"',
        ]
    return "\n".join(lines) + "\n\n"


def status_text(session: Session, settings: Settings, now: datetime) -> str:
    """Per configured account: the last finished delivery that counts for freshness, how many
    wait, how many failed, how many are uncertain (a person must resolve them), how many were
    late (never sent), and how many retweets or shares it has made."""
    zone = settings.zone
    counts = {
        (account, status): n
        for account, status, n in session.execute(
            select(Delivery.account, Delivery.status, func.count()).group_by(
                Delivery.account, Delivery.status
            )
        )
    }
    last: dict[str, datetime | None] = dict(
        session.execute(
            select(Delivery.account, func.max(Delivery.finished_at))
            .where(
                Delivery.status.in_((DeliveryStatus.SENT, DeliveryStatus.DRY_RUN)),
                Delivery.counts_for_freshness,
            )
            .group_by(Delivery.account)
        ).all()
    )
    amplified: dict[str, int] = dict(
        session.execute(
            select(Delivery.account, func.count())
            .where(
                Delivery.kind != POST,
                Delivery.status.in_((DeliveryStatus.SENT, DeliveryStatus.DRY_RUN)),
            )
            .group_by(Delivery.account)
        ).all()
    )
    header = (
        f"{'unit':<14} {'account':<34} {'last delivery':<28} {'pending':>7} {'failed':>6} "
        f"{'uncertain':>9} {'late':>5} {'amplified':>9}"
    )
    lines = [f"Status at {local(now, zone)}", header, "-" * len(header)]
    for unit, account in settings.accounts():
        done = last.get(account.key)
        when = f"{local(done, zone)} ({(now - done).days}d)" if done else "never"
        pending = counts.get((account.key, DeliveryStatus.PENDING), 0) + counts.get(
            (account.key, DeliveryStatus.SENDING), 0
        )
        failed = counts.get((account.key, DeliveryStatus.FAILED), 0)
        uncertain = counts.get((account.key, DeliveryStatus.UNCERTAIN), 0)
        late = counts.get((account.key, DeliveryStatus.LATE), 0)
        lines.append(
            f"{unit:<14} {account.key:<34} {when:<28} {pending:>7} {failed:>6} {uncertain:>9} "
            f"{late:>5} {amplified.get(account.key, 0):>9}"
        )
    posts = session.scalar(select(func.count()).select_from(Post))
    lines.append(f"\n{posts} posts in the ledger.")
    return "\n".join(lines) + "\n"
