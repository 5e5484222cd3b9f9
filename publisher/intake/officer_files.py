"""What the engine writes into the queue folder for nodal officers, who cannot query a database.

Three plain-text files: a rejection note beside a rejected post file, a receipt beside an accepted
one in its archive folder, and STATUS.txt in each unit's folder with its recent posts. Receipts and
status files are rewritten as deliveries progress. Every write is atomic (a temporary file renamed
into place) so an officer opening the file over a network share never sees half of it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from publisher.clock import local
from publisher.errors import Problem
from publisher.store.models import Post
from publisher.vocabulary import POST, Priority

STATUS_FILE = "STATUS.txt"
STATUS_POSTS = 20


class DeliveryLine(Protocol):
    """What a receipt or status file shows of a delivery: a ``Delivery`` read from the ledger,
    or one just recorded (``RecordedDelivery``), so intake need not read back what it wrote."""

    @property
    def account(self) -> str: ...
    @property
    def locale(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def not_before(self) -> datetime: ...
    @property
    def finished_at(self) -> datetime | None: ...
    @property
    def last_error(self) -> str | None: ...


class ReceiptPost(Protocol):
    """What a receipt shows of a post: a ``Post`` read from the ledger, or a ``RecordedPost``."""

    @property
    def key(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def source_name(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def not_before(self) -> datetime: ...
    @property
    def received_at(self) -> datetime: ...
    @property
    def deliveries(self) -> Sequence[DeliveryLine]: ...


def write_atomic(path: Path, text: str) -> None:
    # A temporary name of this thread's own: intake and the dispatch workers may write one
    # receipt at the same moment, and neither may rename the other's half-written file.
    tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def receipt_name(source_name: str) -> str:
    return f"{Path(source_name).stem}.receipt.txt"


def rejection_text(source_name: str, unit: str, problems: Sequence[Problem], at: str) -> str:
    lines = [
        f'Your post file "{source_name}" (folder "{unit}") was NOT accepted.',
        "Nothing from it has been published.",
        "",
        "What is wrong:" if len(problems) == 1 else f"What is wrong ({len(problems)} problems):",
    ]
    for n, problem in enumerate(problems, 1):
        at_line = f"line {problem.line}, " if problem.line else ""
        lines += [
            f"  {n}. {at_line}{problem.where}: {problem.what}.",
            f"     How to fix: {problem.fix}.",
        ]
    lines += [
        "",
        f'The file is kept here, in rejected/. Correct it and copy it back into the "{unit}"',
        "folder; it will be checked again. Any photos it names are still in that folder.",
        f"Checked at {at}.",
        "",
    ]
    return "\n".join(lines)


def _delivery_lines(deliveries: Iterable[DeliveryLine], zone: tzinfo) -> list[str]:
    lines, times = [], dict[datetime, str]()  # a post's deliveries mostly share one time
    for d in deliveries:
        when = d.finished_at or d.not_before
        if when not in times:
            times[when] = local(when, zone)
        kind = "" if d.kind == POST else f" ({d.kind})"
        lines.append(f"  {d.account:<36} {d.locale:<5} {times[when]:<22} {d.status}{kind}")
        if d.last_error:
            lines.append(f"      last error: {d.last_error}")
    return lines


def receipt_text(post: ReceiptPost, zone: tzinfo, note: str | None = None) -> str:
    urgent = "  (urgent)" if post.priority >= Priority.URGENT else ""
    lines = [
        f'Receipt for "{post.source_name}" (folder "{post.unit}")',
        f"Post id:    {post.key}",
        f"Received:   {local(post.received_at, zone)}",
        f"Publish at: {local(post.not_before, zone)}{urgent}",
    ]
    if note:
        lines += ["", note]
    lines += ["", f"Deliveries ({len(post.deliveries)}): account, language, time, status"]
    lines += _delivery_lines(post.deliveries, zone)
    lines.append("")
    return "\n".join(lines)


def status_text(unit: str, posts: Sequence[Post], zone: tzinfo, now: datetime) -> str:
    lines = [
        f'Status of the "{unit}" folder, updated {local(now, zone)}',
        f"The {len(posts)} most recent posts, newest first.",
    ]
    for post in posts:
        counts: dict[str, int] = {}
        for d in post.deliveries:
            counts[d.status] = counts.get(d.status, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        lines += ["", f"{post.source_name}  (publish at {local(post.not_before, zone)}): {summary}"]
        lines += _delivery_lines(post.deliveries, zone)
    lines.append("")
    return "\n".join(lines)


def refresh(
    ledger: sessionmaker[Session],
    queue_root: Path,
    zone: tzinfo,
    post_ids: Iterable[int],
    now: datetime,
    *,
    units: Iterable[str] = (),
) -> None:
    """Rewrite the receipts of these posts, and the status files of their units and of
    ``units`` (those whose receipts intake has just written itself)."""
    ids, statuses = set(post_ids), set(units)
    if not ids and not statuses:
        return
    with ledger() as session:
        posts = session.scalars(
            select(Post).where(Post.id.in_(ids)).options(selectinload(Post.deliveries))
        ).all()
        for post in posts:
            if post.archive_path and (queue_root / post.archive_path).is_dir():
                folder = queue_root / post.archive_path
                write_atomic(folder / receipt_name(post.source_name), receipt_text(post, zone))
        for unit in statuses | {p.unit for p in posts}:
            write_status(session, queue_root, unit, zone, now)


def write_status(
    session: Session, queue_root: Path, unit: str, zone: tzinfo, now: datetime
) -> None:
    recent = session.scalars(
        select(Post)
        .where(Post.unit == unit)
        .order_by(Post.received_at.desc(), Post.id.desc())
        .limit(STATUS_POSTS)
        .options(selectinload(Post.deliveries))
    ).all()
    write_atomic(queue_root / unit / STATUS_FILE, status_text(unit, recent, zone, now))
