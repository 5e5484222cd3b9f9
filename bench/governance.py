"""What governance costs the hot paths: the audit row appended with each outcome, the hold filter
in the dispatcher's claim under pauses, and how fast ``audit verify`` walks the chain.

One process, one temporary SQLite ledger (WAL, synchronous=FULL, as the engine opens it), each step
timed with perf_counter:

1. append: N outcomes' worth of transactions, each one UPDATE of a delivery as record_outcome
   does, first alone, then with the audit row appended in the same transaction;
2. claim: with P pending deliveries over 5 units, the time to take the next one (claim_due with
   the ``held`` clause, rolled back) when nothing is paused, when one unit is paused whose
   deliveries come first in the dispatcher's order (the filter must step over them), and when
   everything is paused;
3. verify: ``audit.verify`` over the rows appended so far plus R more.

Run it by hand (not in CI) from the repository:

    .venv/bin/python bench/governance.py [--appends N] [--pending P] [--rows R]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, update
from sqlalchemy.orm import Session, sessionmaker

from publisher.dispatch.holds import Scope, held
from publisher.oversight.controls import pause
from publisher.store.audit import append, verify
from publisher.store.db import open_ledger
from publisher.store.ledger import claim_due
from publisher.store.models import Delivery, Post
from publisher.vocabulary import DeliveryStatus

NOW = datetime(2026, 12, 1, 4, 30, tzinfo=UTC)
UNITS = ["directorate", "tamil-nadu", "haryana", "west-bengal", "maharashtra"]


def fill(ledger: sessionmaker[Session], pending: int) -> None:
    """One post, ``pending`` deliveries; the first fifth (oldest) belong to haryana."""
    with ledger.begin() as s:
        s.execute(
            insert(Post).values(
                id=1,
                key="k",
                unit="directorate",
                source_name="f",
                source_sha256="s",
                priority=0,
                not_before=NOW,
                received_at=NOW,
                request={},
            )
        )
        s.execute(
            insert(Delivery),
            [
                {
                    "post_id": 1,
                    "idempotency_key": f"k|{i}",
                    "unit": UNITS[2] if i < pending // 5 else UNITS[i % 5],
                    "account": f"x:acct{i}",
                    "platform": "x",
                    "locale": "en",
                    "text": "t",
                    "parts": [],
                    "notes": [],
                    "progress": {},
                    "tags": [],
                    "media": [],
                    "status": DeliveryStatus.PENDING,
                    "priority": 0,
                    "not_before": NOW - timedelta(seconds=pending - i),
                    "attempts": 0,
                }
                for i in range(pending)
            ],
        )


def outcomes(ledger: sessionmaker[Session], n: int, *, audited: bool) -> float:
    start = time.perf_counter()
    for i in range(n):
        with ledger.begin() as s:
            s.execute(update(Delivery).where(Delivery.id == i + 1).values(attempts=i))
            if audited:
                append(s, NOW, "dispatch", "delivery.sent", f"delivery {i + 1}",
                       {"account": "x:acct", "remote_id": str(i), "error": None})  # fmt: skip
    return time.perf_counter() - start


def next_claim(ledger: sessionmaker[Session], repeat: int = 50) -> str:
    """Fastest and median milliseconds to take the next due delivery, the hold read included
    (rolled back, so each try is the same); the fastest is the cost without other load."""
    times = []
    for _ in range(repeat):
        with ledger() as s:
            start = time.perf_counter()
            claim_due(s, NOW, timedelta(minutes=5), 1, held=held(s, NOW, []))
            times.append((time.perf_counter() - start) * 1e3)
            s.rollback()
    times.sort()
    return f"{times[0]:.2f} ms fastest, {times[len(times) // 2]:.2f} ms median"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        ledger = open_ledger(f"sqlite:///{Path(folder) / 'ledger.db'}")
        fill(ledger, args.pending)
        bare = outcomes(ledger, args.appends, audited=False)
        audited = outcomes(ledger, args.appends, audited=True)
        print(f"outcome transactions, {args.appends}: {bare / args.appends * 1e3:.2f} ms each "
              f"alone, {audited / args.appends * 1e3:.2f} ms with the audit row")  # fmt: skip

        print(f"next claim at {args.pending} pending: {next_claim(ledger)}, "
              "nothing paused")  # fmt: skip
        with ledger.begin() as s:
            pause(s, Scope("haryana"), reason="bench", who="bench", now=NOW)
        print(f"next claim, haryana paused ({args.pending // 5} of its deliveries first in "
              f"order): {next_claim(ledger)}")  # fmt: skip
        with ledger.begin() as s:
            pause(s, Scope(), reason="bench", who="bench", now=NOW)
        print(f"next claim, everything paused: {next_claim(ledger)}")

        with ledger.begin() as s:
            for i in range(args.rows):
                append(s, NOW, "bench", "test", f"row {i}", {"n": i})
        start = time.perf_counter()
        verdict = verify(ledger)
        seconds = time.perf_counter() - start
        if verdict.problem is not None:
            raise SystemExit(verdict.problem)
        print(f"audit verify: {verdict.rows} rows in {seconds:.2f} s "
              f"({verdict.rows / seconds:,.0f} rows/s)")  # fmt: skip


if __name__ == "__main__":
    main()
