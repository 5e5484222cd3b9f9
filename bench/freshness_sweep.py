"""How long one freshness sweep takes for many accounts over a ledger with a large backlog.

A config of --units units with --accounts-per-unit X accounts each, every unit with a pool of three
items; a ledger holding --pending pending deliveries spread over the accounts (written with one
executemany); each account's last content drawn between 0 and 10 days ago, so about a third are
past the warning and a few past the deadline window. The sweep runs in dry-run (notices are logged,
not mailed: SMTP is not what is measured), with logging off. Timed with perf_counter: the first
sweep (it records the evergreen posts and notices), then --repeat sweeps that find the same state.

Run it by hand (not in CI) from the repository:

    .venv/bin/python bench/freshness_sweep.py [--units 50] [--accounts-per-unit 20] [--pending N]
"""

from __future__ import annotations

import argparse
import logging
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from publisher.config.settings import load_settings
from publisher.intake.evergreen import load_pools
from publisher.oversight.freshness import Freshness
from publisher.planning.render import Renderer
from publisher.store.db import open_ledger

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 1, 4, 30, tzinfo=UTC)


def config(root: Path, units: int, per_unit: int) -> Path:
    parts = [
        f'[organisation]\nname = "Bench"\ndirectorate = "u0"\n[paths]\nqueue = "queue"\n'
        f'state = "state"\ntemplates = "{REPO / "templates"}"\nevergreen = "evergreen"\n'
    ]
    for u in range(units):
        parts.append(
            f'[units.u{u}]\nname = "Unit {u}"\n[units.u{u}.nodal_officer]\nname = "O"\n'
            f'designation = "D"\nemail = "o{u}@example.gov.in"\nphone = "1"\n'
        )
        parts += [
            f'[[units.u{u}.accounts]]\nplatform = "x"\nhandle = "U{u}A{a}"\nlocales = ["en"]\n'
            for a in range(per_unit)
        ]
        pool = root / "evergreen" / f"u{u}"
        pool.mkdir(parents=True)
        for n in range(3):
            (pool / f"item-{n}.toml").write_text(f'[text]\nen = "Evergreen {n}"\n', "utf-8")
    path = root / "config.toml"
    path.write_text("".join(parts), encoding="utf-8")
    return path


def fill(database: Path, accounts: list[str], pending: int, rng: random.Random) -> None:
    """About ``pending`` pending deliveries, all after the deadlines; each account's activity."""
    db = sqlite3.connect(database)
    stamp = "%Y-%m-%d %H:%M:%S.%f"
    posts = pending // len(accounts)  # a post has one delivery per account
    with db:
        db.executemany(
            "INSERT INTO posts (id, key, unit, source_name, source_sha256, priority, not_before, "
            "received_at, request) VALUES (?, ?, 'u0', 'b', 's', 0, ?, ?, '{}')",
            ((p, f"bench/{p}", NOW.strftime(stamp), NOW.strftime(stamp)) for p in range(posts)),
        )
        db.executemany(
            "INSERT INTO deliveries (post_id, idempotency_key, unit, account, platform, locale, "
            "text, parts, notes, progress, tags, media, status, priority, not_before, attempts) "
            "VALUES (?, ?, 'u0', ?, 'x', 'en', 't', '[]', '[]', '{}', '[]', '[]', 'pending', 0, "
            "?, 0)",
            (
                (
                    p,
                    f"bench/{p}|{key}",
                    key,
                    (NOW + timedelta(days=rng.uniform(8, 60))).strftime(stamp),
                )
                for p in range(posts)
                for key in accounts
            ),
        )
        db.executemany(
            "INSERT INTO account_activity (account, tracked_since, last_sent_at) VALUES (?, ?, ?)",
            (
                (
                    key,
                    (NOW - timedelta(days=30)).strftime(stamp),
                    (NOW - timedelta(days=rng.uniform(0, 10))).strftime(stamp),
                )
                for key in accounts
            ),
        )
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=50)
    parser.add_argument("--accounts-per-unit", type=int, default=20)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = load_settings(config(root, args.units, args.accounts_per_unit))
        ledger = open_ledger(settings.database_url)
        accounts = [a.key for _, a in settings.accounts()]
        fill(settings.paths.state / "publisher.db", accounts, args.pending, random.Random(1))
        renderer = Renderer.from_settings(settings)
        started = time.perf_counter()
        pools = load_pools(settings, renderer, NOW)
        loaded = time.perf_counter() - started
        freshness = Freshness(
            settings, renderer, ledger, lambda: NOW, pools, lambda mail: None, dry_run=True
        )
        started = time.perf_counter()
        first = freshness.sweep()
        first_s = time.perf_counter() - started
        again = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            freshness.sweep()
            again.append(time.perf_counter() - started)
        print(
            f"{len(accounts)} accounts, {args.pending} pending deliveries, "
            f"{sum(len(p) for p in pools.values())} pool items loaded in {loaded:.2f} s"
        )
        print(
            f"first sweep: {first_s * 1000:.0f} ms ({len(first.warned)} warnings, "
            f"{len(first.evergreen)} evergreen posts, {len(first.alerted)} alerts)"
        )
        print(f"later sweeps: {', '.join(f'{s * 1000:.0f}' for s in again)} ms")


if __name__ == "__main__":
    main()
