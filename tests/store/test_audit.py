"""The audit log: every post, decision and delivery outcome, with who and when, in a hash chain
that ``publisher audit verify`` checks and ``publisher audit export`` writes out."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from publisher.dispatch.holds import Scope
from publisher.oversight.controls import pause, resume
from publisher.service.engine import Engine
from publisher.store.audit import GENESIS, verify
from publisher.store.ledger import resolve
from publisher.store.models import AuditEntry, Delivery, Post
from tests.support.clock import FakeClock
from tests.support.files import Drop
from tests.support.ledger import audit_rows, statuses
from tests.support.processes import publisher

HELLO = '[text]\nhi = "नमस्ते"\nen = "Hello"\n'


def ledger_file(config_path: Path) -> Path:
    return config_path.parent / "var" / "state" / "publisher.db"


def expected_hash(prev_hash: str, row: dict[str, object]) -> str:
    """The documented formula, written out again independently of publisher.store.audit."""
    content = json.dumps(
        [row["id"], row["at"], row["actor"], row["action"], row["subject"], row["detail"]],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


@pytest.mark.both_stores
def test_every_post_decision_and_outcome_is_chained_with_its_actor(
    config_path: Path, engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    with engine.ledger.begin() as session:
        pause(session, Scope("haryana"), reason="flood", who="ops-meena", now=clock())
    drop("haryana", "h.toml", HELLO)
    engine.tick()
    clock.advance(minutes=5)
    with engine.ledger.begin() as session:
        resume(session, Scope("haryana"), reason="water receded", who="ops-meena", now=clock())
    engine.tick()
    assert set(statuses(engine, "haryana")["x:HaryanaPostal"]) == {"dry_run"}
    with engine.ledger.begin() as session:  # a delivery a crash left uncertain, then resolved
        session.execute(update(Delivery).where(Delivery.id == 1).values(status="uncertain"))
    with engine.ledger.begin() as session:
        resolve(session, 1, published=True, who="ops-meena", reason="seen on X", now=clock())

    trail = [(a.actor, a.action, a.subject) for a in audit_rows(engine)]
    assert trail[:2] == [
        ("ops-meena", "pause", "unit haryana"),
        ("queue/haryana", "post.accept", "post 1"),
    ]
    assert trail[2] == ("ops-meena", "resume", "unit haryana")
    outcomes = trail[3:-1]
    assert len(outcomes) == 5  # one per delivery: x and facebook in hi and en, instagram in hi
    assert {(actor, action) for actor, action, _ in outcomes} == {("dispatch", "delivery.dry_run")}
    assert trail[-1] == ("ops-meena", "delivery.resolve", "delivery 1")
    [accepted] = audit_rows(engine, "post.accept")
    with engine.ledger() as session:
        key = session.get_one(Post, 1).key
    assert json.loads(accepted.detail) == {"key": key, "file": "h.toml", "deliveries": 5}
    first = audit_rows(engine, "delivery.dry_run")[0]
    assert json.loads(first.detail)["account"].startswith(("x:", "facebook:", "instagram:"))
    rows = audit_rows(engine)
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in pairwise(rows))
    assert [r.at for r in rows] == sorted(r.at for r in rows)


def test_verify_passes_then_finds_the_changed_or_missing_row(
    config_path: Path, engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    drop("haryana", "h.toml", HELLO)
    engine.tick()  # 1 post accepted + 5 outcomes
    ok = publisher("audit", "verify", config=config_path)
    assert ok.returncode == 0, ok.stderr
    assert "the audit log is intact: 6 rows; the last, row 6, has the hash" in ok.stdout

    db = sqlite3.connect(ledger_file(config_path))
    (detail,) = db.execute("SELECT detail FROM audit_log WHERE id = 3").fetchone()
    db.execute("UPDATE audit_log SET actor = 'someone-else' WHERE id = 3")
    db.commit()
    changed = publisher("audit", "verify", config=config_path)
    assert changed.returncode == 1
    assert "the audit log is broken at row 3: row 3 does not match its hash" in changed.stderr
    assert "it was changed" in changed.stderr

    # A forger who knows the formula re-hashes the row: the next row no longer follows it.
    (prev, at, action, subject) = db.execute(
        "SELECT prev_hash, at, action, subject FROM audit_log WHERE id = 3"
    ).fetchone()
    moment = datetime.fromisoformat(at).replace(tzinfo=UTC).isoformat()  # stored as UTC
    row = {"id": 3, "at": moment, "actor": "someone-else", "action": action, "subject": subject}
    forged = expected_hash(prev, {**row, "detail": detail})
    db.execute("UPDATE audit_log SET hash = ? WHERE id = 3", (forged,))
    db.commit()
    rehashed = publisher("audit", "verify", config=config_path)
    assert rehashed.returncode == 1
    assert "broken at row 4: row 4 records the previous hash" in rehashed.stderr
    assert f"but row 3 hashes to {forged}" in rehashed.stderr

    db.execute("DELETE FROM audit_log WHERE id = 3")
    db.commit()
    db.close()
    deleted = publisher("audit", "verify", config=config_path)
    assert deleted.returncode == 1
    assert "broken at row 4: row 4 follows row 2: row 3 is missing (deleted)" in deleted.stderr


@pytest.mark.both_stores
def test_the_chain_holds_when_two_processes_append_at_once(
    config_path: Path, engine: Engine
) -> None:
    """Each process appends 150 rows, each in its own transaction, interleaving with the other."""
    script = (
        "import sys\nfrom datetime import UTC, datetime\n"
        "from publisher.store.audit import append\nfrom publisher.store.db import open_ledger\n"
        "ledger = open_ledger(sys.argv[1])\n"
        "for n in range(150):\n"
        "    with ledger.begin() as s:\n"
        "        append(s, datetime.now(UTC), sys.argv[2], 'test', f'row {n}', {'n': n})\n"
    )
    url = engine.settings.database_url
    writers = [
        subprocess.Popen([sys.executable, "-c", script, url, name]) for name in ("one", "two")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    rows = audit_rows(engine)
    assert [r.id for r in rows] == list(range(1, 301))
    actors = [r.actor for r in rows]
    assert actors.count("one") == actors.count("two") == 150
    ok = publisher("audit", "verify", config=config_path)
    assert ok.returncode == 0, ok.stderr
    assert "intact: 300 rows" in ok.stdout


@pytest.mark.both_stores
def test_a_writer_that_read_a_stale_last_row_cannot_fork_the_chain(
    engine: Engine, clock: FakeClock
) -> None:
    """What BEGIN IMMEDIATE prevents on SQLite, the schema refuses anywhere: a second row after
    the same predecessor (as a database without that lock could let through)."""
    with engine.ledger.begin() as session:
        pause(session, Scope(), reason="r", who="ops", now=clock())
    [first] = audit_rows(engine)
    fork = {"at": clock(), "actor": "ops", "action": "pause", "subject": "x", "detail": "{}",
            "prev_hash": GENESIS, "hash": "f" * 64}  # fmt: skip
    for row in ({**fork, "id": 2}, {**fork, "id": first.id, "prev_hash": first.hash}):
        with pytest.raises(IntegrityError), engine.ledger.begin() as session:
            session.execute(insert(AuditEntry).values(**row))


def test_export_between_dates_writes_exactly_the_rows_in_range(
    config_path: Path, engine: Engine, clock: FakeClock, tmp_path: Path
) -> None:
    zone = engine.settings.zone
    day = datetime(2026, 3, 10, tzinfo=zone)
    moments = [
        day - timedelta(minutes=1),  # 9 March, 23:59 local: before
        day,  # 10 March, 00:00: the first in range
        day + timedelta(days=1, hours=12),
        day + timedelta(days=2) - timedelta(seconds=1),  # 11 March, 23:59:59: the last
        day + timedelta(days=2),  # 12 March: after
    ]
    for n, moment in enumerate(moments):
        clock.now = moment
        with engine.ledger.begin() as session:
            pause(session, Scope(), reason=f"mourning day {n}", who="ops", now=clock())
            resume(session, Scope(), reason=f"end {n}", who="ops", now=clock())
    rows = audit_rows(engine)
    wanted = [r.id for r in rows if day <= r.at < day + timedelta(days=2)]
    assert wanted == [3, 4, 5, 6, 7, 8]

    out = tmp_path / "rti-2026-03.csv"
    written = publisher("audit", "export", "--from", "2026-03-10", "--to", "2026-03-11",
                        "--output", str(out), config=config_path)  # fmt: skip
    assert written.returncode == 0, written.stderr
    assert f"6 audit rows from 2026-03-10 to 2026-03-11 written to {out}" in written.stdout
    with out.open(encoding="utf-8", newline="") as f:
        table = list(csv.DictReader(f))
    assert [int(r["id"]) for r in table] == wanted
    assert json.loads(table[0]["detail"]) == {"reason": "mourning day 1"}
    assert table[0]["actor"] == "ops"

    lines = publisher("audit", "export", "--from", "2026-03-10", "--to", "2026-03-11",
                      "--format", "jsonl", config=config_path)  # fmt: skip
    assert lines.returncode == 0, lines.stderr
    records = [json.loads(line) for line in lines.stdout.splitlines()]
    assert [r["id"] for r in records] == wanted
    # A recipient can check each row, and that the rows follow one another, from the export alone.
    for record in records:
        detail = json.dumps(record["detail"], sort_keys=True, separators=(",", ":"),
                            ensure_ascii=False)  # fmt: skip
        assert record["hash"] == expected_hash(record["prev_hash"], {**record, "detail": detail})
    assert all(b["prev_hash"] == a["hash"] for a, b in pairwise(records))
    assert table[0]["prev_hash"] == rows[1].hash

    bad = publisher("audit", "export", "--from", "10/03/2026", "--to", "2026-03-11",
                    config=config_path)  # fmt: skip
    assert bad.returncode == 2
    assert "--from: invalid fromisoformat value: '10/03/2026'" in bad.stderr
    backwards = publisher("audit", "export", "--from", "2026-03-11", "--to", "2026-03-10",
                          config=config_path)  # fmt: skip
    assert backwards.returncode == 1
    assert "--to 2026-03-10 is before --from 2026-03-11" in backwards.stderr


def test_verify_reads_the_chain_in_batches_across_their_boundaries(
    engine: Engine, clock: FakeClock
) -> None:
    for n in range(3):
        with engine.ledger.begin() as session:
            pause(session, Scope(), reason=f"r{n}", who="ops", now=clock())
            resume(session, Scope(), reason=f"r{n}", who="ops", now=clock())
    intact = verify(engine.ledger, batch=2)
    assert (intact.rows, intact.head_id, intact.problem) == (6, 6, None)
    with engine.ledger.begin() as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == 5).values(subject="x"))
    broken = verify(engine.ledger, batch=2)
    assert (broken.rows, broken.broken_row) == (4, 5)
