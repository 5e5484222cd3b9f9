"""The audit log: who did what, when, to which post, delivery or scope, as a hash chain.

Each row carries the hash of the row before it and its own hash, SHA-256 over that previous hash
and the row's canonical content (:func:`row_hash`), so changing or removing a row breaks the chain
at that row. A row is appended in the same transaction as the change it records: the record and the
change commit together or not at all.

Appending reads the last row and writes the next one, so two writers must never both read the same
last row. On SQLite every write transaction is ``BEGIN IMMEDIATE`` (store/db.py): the read happens
under the write lock, and appends are serial. Should a database ever let two writers through (on
PostgreSQL a transaction holds no lock for a plain SELECT), the chain still cannot fork: the writer
gives the id (previous + 1, the primary key) and ``prev_hash`` is unique, so the second writer's
commit fails instead. PostgreSQL therefore serialises the append to avoid those failed writes:
``SELECT pg_advisory_xact_lock(AUDIT_LOCK)`` before the read, held until the transaction ends (the
per-platform workers and other hosts queue there; it locks no row or table anything else reads).

What a chain cannot show is its own tail cut off: ``verify`` prints the last row's hash, which a
records officer notes (exports carry it too) and compares later.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Literal

from sqlalchemy import insert, select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session, sessionmaker

from publisher.store.models import AuditEntry

GENESIS = "0" * 64  # the "previous hash" of the first row
COLUMNS = ("id", "at", "actor", "action", "subject", "detail", "prev_hash", "hash")
ExportFormat = Literal["csv", "jsonl"]
LOG = AuditEntry.metadata.tables["audit_log"]  # Core statements: half the ORM's cost per append
AUDIT_LOCK = 0x61756474  # "audt": PostgreSQL's advisory lock every append takes (see above)


def canonical(value: Any) -> str:
    """One JSON text per value: sorted keys, no spaces, UTF-8 as is. What is hashed is stored."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(
    prev_hash: str, id_: int, at: datetime, actor: str, action: str, subject: str, detail: str
) -> str:
    """SHA-256, in hex, of the previous row's hash followed by this row's canonical content
    (a JSON array of id, the UTC time in ISO 8601, actor, action, subject and detail)."""
    content = canonical([id_, at.astimezone(UTC).isoformat(), actor, action, subject, detail])
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


_LAST = select(LOG.c.id, LOG.c.hash).order_by(LOG.c.id.desc()).limit(1)
_INSERT = insert(LOG)


@dataclass(frozen=True)
class Entry:
    """One row to append: who did what, when, to which post, delivery or scope."""

    at: datetime
    actor: str
    action: str
    subject: str
    detail: Mapping[str, Any]


def append(
    session: Session,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    detail: Mapping[str, Any],
) -> None:
    """Add one row after the last, inside the caller's (write) transaction."""
    append_all(session, [Entry(at, actor, action, subject, detail)])


def append_all(session: Session, entries: Sequence[Entry]) -> None:
    """Add rows after the last, in order, inside the caller's (write) transaction: one read of
    the last row and one insert for them all (intake records a batch of posts at once)."""
    if not entries:
        return  # an executemany of no rows would run the INSERT once, with no values
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sql("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK})
    connection = session.connection()
    last = connection.execute(_LAST).first()
    prev_id, prev_hash = (last.id, last.hash) if last else (0, GENESIS)
    rows = []
    for e in entries:
        prev_id, text = prev_id + 1, canonical(dict(e.detail))
        digest = row_hash(prev_hash, prev_id, e.at, e.actor, e.action, e.subject, text)
        rows.append(
            {"id": prev_id, "at": e.at, "actor": e.actor, "action": e.action,
             "subject": e.subject, "detail": text, "prev_hash": prev_hash, "hash": digest}
        )  # fmt: skip
        prev_hash = digest
    connection.execute(_INSERT, rows)


@dataclass(frozen=True)
class Verdict:
    """What ``verify`` found: how many rows were checked, the last good row, the first break."""

    rows: int
    head_id: int
    head_hash: str
    broken_row: int | None = None
    problem: str | None = None


def verify(ledger: sessionmaker[Session], batch: int = 10_000) -> Verdict:
    """Walk the chain from the first row; stop at the first row that does not hold.

    A transaction per ``batch`` rows: every transaction on SQLite holds the write lock
    (store/db.py), and the daemon must not wait for the whole walk. Rows are only ever appended,
    so the batches see one chain.
    """
    prev_id, prev_hash, count = 0, GENESIS, 0
    while True:
        with ledger() as session:
            rows = session.scalars(
                select(AuditEntry)
                .where(AuditEntry.id > prev_id)
                .order_by(AuditEntry.id)
                .limit(batch)
            ).all()
        for row in rows:
            problem = _check(row, prev_id, prev_hash)
            if problem is not None:
                return Verdict(count, prev_id, prev_hash, row.id, problem)
            prev_id, prev_hash, count = row.id, row.hash, count + 1
        if len(rows) < batch:
            return Verdict(count, prev_id, prev_hash)


def _check(row: AuditEntry, prev_id: int, prev_hash: str) -> str | None:
    if row.id != prev_id + 1:
        missing = f"{prev_id + 1}" if row.id == prev_id + 2 else f"{prev_id + 1} to {row.id - 1}"
        return f"row {row.id} follows row {prev_id}: row {missing} is missing (deleted)"
    if row.prev_hash != prev_hash:
        return (
            f"row {row.id} records the previous hash {row.prev_hash}, but row {prev_id} hashes to "
            f"{prev_hash}: row {prev_id} was changed and given a new hash, or replaced"
        )
    computed = row_hash(prev_hash, row.id, row.at, row.actor, row.action, row.subject, row.detail)
    if computed != row.hash:
        return (
            f"row {row.id} does not match its hash: its content (at, actor, action, subject, "
            f"detail) now hashes to {computed}, not the stored {row.hash}; it was changed"
        )
    return None


def between(session: Session, start: datetime, end: datetime) -> Iterator[AuditEntry]:
    """Rows with ``start <= at < end``, in order."""
    yield from session.scalars(
        select(AuditEntry)
        .where(AuditEntry.at >= start, AuditEntry.at < end)
        .order_by(AuditEntry.id)
        .execution_options(yield_per=1000)
    )


def write_export(rows: Iterable[AuditEntry], out: IO[str], fmt: ExportFormat) -> int:
    """Rows as CSV (detail as its canonical JSON text) or JSON lines (detail as an object), with
    the hashes, so a recipient can recompute each row's hash; returns how many were written."""
    count = 0
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(COLUMNS)
    for row in rows:
        values = [row.id, row.at.astimezone(UTC).isoformat(), row.actor, row.action, row.subject]
        if writer is not None:
            writer.writerow([*values, row.detail, row.prev_hash, row.hash])
        else:
            fields = [*values, json.loads(row.detail), row.prev_hash, row.hash]
            record = dict(zip(COLUMNS, fields, strict=True))
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count
