"""The running daemon: drop-to-first-call latency, and dry-run delivery throughput next to the raw
cost of the same SQLite writes.

1. latency: ``publisher run`` (a subprocess, publishing for real) with the fake X API on
   127.0.0.1 in this process; --files post files (1,000) dropped into a unit folder one at a
   time, alternately written under a temporary name and renamed into place, and written and
   closed in place. Measured: perf_counter right after the rename (or the close) to perf_counter
   when the fake X starts serving the daemon's first request for that post (its create-tweet
   call: the post has no photo, so nothing comes before it). The next file is dropped once the
   delivery is recorded as sent and --gap seconds (0.6) more have passed; then a tenth as many
   files back to back (dropped as soon as the last was recorded sent).
2. throughput: 10,000 posts x 20 accounts recorded with bench/plan_record.py's own functions
   (write_config, post_file, engine_plan_record; untimed set-up), made due now; then
   ``publisher run --dry-run`` (a subprocess) dispatching them, deliveries counted in the ledger
   every 0.2 s from its first dry_run delivery for --seconds: once with the example config's
   ``poll_seconds`` and once with ``poll_seconds = 0.1``. Then, on a copy of the ledger taken
   before the daemon ran, the statements the dispatcher issues per delivery (the claim: BEGIN
   IMMEDIATE, select the next due, insert an attempt, mark it sending, COMMIT; the outcome: BEGIN
   IMMEDIATE, read the delivery and the attempt, close both, COMMIT) with plain sqlite3 and the
   ledger's PRAGMAs, for as many deliveries as the faster daemon run handled.

Run it by hand (not in CI) from the repository, as a module so that it finds tests/ and bench/:

    .venv/bin/python -m bench.daemon [--files 1000] [--posts 10000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

from sqlalchemy import update

from bench.plan_record import engine_plan_record, post_file, write_config
from publisher.config.settings import Settings
from publisher.store.db import open_ledger
from publisher.store.models import Delivery, Post
from tests.support.platforms import UNIT, Platforms, fake_platforms

STAMP = "%Y-%m-%d %H:%M:%S.%f"  # how the ledger stores times (naive UTC)


def machine() -> str:
    """The figures' context: CPU, memory, Python, SQLite and library versions."""
    cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo
                  if line.startswith("model name")), "?")  # fmt: skip
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    libraries = ", ".join(
        f"{name} {version(name)}"
        for name in ("SQLAlchemy", "APScheduler", "watchdog", "tweepy", "requests")
    )
    return (
        f"{os.cpu_count()} CPUs ({model}), {memory:.0f} GiB RAM, {platform.platform()}; "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; {libraries}"
    )


@functools.cache
def run_help() -> str:
    """``publisher run --help``: the options this version's daemon takes."""
    command = [sys.executable, "-m", "publisher", "run", "--help"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def daemon(
    config: Path, log: Path, *, dry_run: bool, host: str | None = None
) -> subprocess.Popen[bytes]:
    """``publisher run`` as a subprocess, logging to ``log``: every bench starts its daemons
    here. ``host`` names it (``--host``) where this version has that option, since daemons
    sharing one machine must have distinct host names there."""
    command = [sys.executable, "-m", "publisher", "--config", str(config), "run"]
    command += ["--dry-run"] if dry_run else []
    command += ["--host", host] if host is not None and "--host" in run_help() else []
    with log.open("w", encoding="utf-8") as err:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)


def wait_for(log: Path, text: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while text not in log.read_text(encoding="utf-8", errors="replace"):
        if time.monotonic() > deadline:
            raise SystemExit(f"the daemon never logged {text!r}; see {log}")
        time.sleep(0.05)


def count(database: Path, status: str) -> int:
    with closing(sqlite3.connect(database, timeout=60)) as db:
        (n,) = db.execute("SELECT count(*) FROM deliveries WHERE status = ?", (status,)).fetchone()
    return int(n)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# 1. Latency -------------------------------------------------------------------------------------


class Prober:
    """Drops probe post files into the unit folder and times each one's first call on the fake
    X (timed as the fake starts serving the request, in this process, with perf_counter)."""

    def __init__(self, platforms: Platforms, log: Path) -> None:
        self.platforms, self.log = platforms, log
        self.unit = platforms.queue / UNIT
        self.probes = 0
        self.arrived = threading.Event()
        self.arrivals: list[float] = []
        self._serve = platforms.x.serve
        platforms.x.serve = self._timed  # type: ignore[method-assign]

    def _timed(self, handler: Any) -> None:
        self.arrivals.append(time.perf_counter())
        self.arrived.set()
        self._serve(handler)

    def probe(self, how: str, pause: float) -> float:
        """Drop one post file; seconds from the rename (or the close) to the first call; then
        wait until the ledger says it was sent, and ``pause`` seconds more."""
        self.probes += 1
        n = self.probes
        body = (
            f'platforms = ["x"]\nlocales = ["en"]\n[text]\n'
            f'en = "Latency probe {n}: a post dropped at {time.time()}"\n'
        )
        self.arrived.clear()
        first = len(self.arrivals)
        if how == "rename":
            part = self.unit / f".probe-{n}.toml.part"
            part.write_text(body, encoding="utf-8")
            part.rename(self.unit / f"probe-{n}.toml")
        else:
            with (self.unit / f"probe-{n}.toml").open("w", encoding="utf-8") as f:
                f.write(body)
        dropped = time.perf_counter()
        if not self.arrived.wait(60):
            raise SystemExit(f"no call for probe {n}; see {self.log}")
        deadline = time.monotonic() + 60
        while count(self.platforms.database, "sent") < n:
            if time.monotonic() > deadline:
                raise SystemExit(f"probe {n} was never recorded sent; see {self.log}")
            time.sleep(0.005)
        time.sleep(pause)
        return self.arrivals[first] - dropped


def latency_line(what: str, seconds: list[float]) -> None:
    ms = [s * 1000 for s in seconds]
    print(f"{what:34}{len(ms):>7}{statistics.median(ms):>11.1f}"
          f"{percentile(ms, 0.99):>9.1f}{max(ms):>9.1f}", flush=True)  # fmt: skip


def latency(folder: Path, files: int, gap: float) -> None:
    """``files`` probes, alternately renamed into place and written in place, each ``gap``
    seconds after the last was sent; then files/10 back to back (no pause)."""
    with fake_platforms(folder, poll_seconds=60) as platforms:
        log = folder / "latency.log"
        prober = Prober(platforms, log)
        process = daemon(platforms.config, log, dry_run=False)
        try:
            wait_for(log, "watching")
            time.sleep(1)  # the first pass over an empty queue is over
            print(f"{'drop':34}{'files':>7}{'median ms':>11}{'p99 ms':>9}{'max ms':>9}")
            series: dict[str, list[float]] = {"rename": [], "write": []}
            for n in range(files):
                how = "write" if n % 2 else "rename"
                series[how].append(prober.probe(how, gap))
            latency_line(f"renamed into place, {gap:g} s apart", series["rename"])
            latency_line(f"written and closed, {gap:g} s apart", series["write"])
            latency_line("both", series["rename"] + series["write"])
            latency_line(
                "back to back (renamed)", [prober.probe("rename", 0) for _ in range(files // 10)]
            )
            sent = platforms.x.count_posts()
            print(f"the fake X holds {sent} posts for {prober.probes} files")
        finally:
            stop(process)


# 2. Throughput ----------------------------------------------------------------------------------


def record_due(settings: Settings, posts: int) -> float:
    """plan_record's workload (``posts`` x 20 accounts) recorded in the settings' ledger, by its
    own functions, and made due now (plan_record records it at a fixed date to come); seconds."""
    ledger = open_ledger(settings.database_url)
    start = time.perf_counter()
    engine_plan_record(settings, ledger, [post_file(i) for i in range(posts)])
    now = datetime.now(UTC) - timedelta(seconds=1)
    with ledger.begin() as session:
        session.execute(update(Delivery).values(not_before=now))
        session.execute(update(Post).values(not_before=now))
    ledger.kw["bind"].dispose()
    return time.perf_counter() - start


@contextmanager
def recorded(folder: Path, posts: int) -> Iterator[tuple[Path, Path]]:
    """The plan_record workload in a ledger, due now; (config, ledger) and a copy for raw."""
    settings = write_config(folder)
    seconds = record_due(settings, posts)
    database, raw_copy = settings.paths.state / "publisher.db", folder / "raw.db"
    with closing(sqlite3.connect(database)) as db, closing(sqlite3.connect(raw_copy)) as raw:
        db.backup(raw)
    print(f"set-up: {posts} posts recorded in {seconds:.0f} s (untimed)")
    yield folder / "config.toml", database


def daemon_rate(config: Path, database: Path, seconds: float, log: Path) -> tuple[int, float]:
    """Deliveries the daemon records as dry_run in ``seconds`` from its first one."""
    process = daemon(config, log, dry_run=True)
    try:
        base = count(database, "dry_run")
        while count(database, "dry_run") == base:
            if process.poll() is not None:
                raise SystemExit(f"the daemon stopped; see {log}")
            time.sleep(0.01)
        start, first = time.perf_counter(), count(database, "dry_run")
        while time.perf_counter() - start < seconds:
            time.sleep(0.2)
        return count(database, "dry_run") - first, time.perf_counter() - start
    finally:
        stop(process)


def raw_writes(database: Path, n: int) -> float:
    """The dispatcher's statements for ``n`` deliveries, with plain sqlite3; seconds."""
    db = sqlite3.connect(database, isolation_level=None)
    for pragma in ("journal_mode=WAL", "busy_timeout=30000", "synchronous=FULL",
                   "foreign_keys=ON"):  # fmt: skip
        db.execute(f"PRAGMA {pragma}")
    columns = ", ".join(c[1] for c in db.execute("PRAGMA table_info(deliveries)"))
    due = (f"SELECT {columns} FROM deliveries WHERE status = ? AND not_before <= ? "
           "ORDER BY priority DESC, not_before, id LIMIT ? OFFSET ?")  # fmt: skip
    start = time.perf_counter()
    for _ in range(n):
        now = datetime.now(UTC)
        stamp, lease = now.strftime(STAMP), (now + timedelta(seconds=300)).strftime(STAMP)
        db.execute("BEGIN IMMEDIATE")
        row = db.execute(due, ("pending", stamp, 1, 0)).fetchone()
        delivery, attempts = row[0], row[columns.split(", ").index("attempts")]
        attempt = db.execute(
            "INSERT INTO attempts (delivery_id, started_at, finished_at, outcome, error) "
            "VALUES (?, ?, ?, ?, ?)",
            (delivery, stamp, None, None, None),
        ).lastrowid
        db.execute(
            "UPDATE deliveries SET status=?, attempts=?, lease_until=? WHERE deliveries.id = ?",
            ("sending", attempts + 1, lease, delivery),
        )
        db.execute("COMMIT")
        db.execute("BEGIN IMMEDIATE")
        db.execute(f"SELECT {columns} FROM deliveries WHERE deliveries.id = ?", (delivery,))
        db.execute("SELECT * FROM attempts WHERE attempts.id = ?", (attempt,)).fetchone()
        db.execute(
            "UPDATE attempts SET finished_at=?, outcome=? WHERE attempts.id = ?",
            (stamp, "dry_run", attempt),
        )
        db.execute(
            "UPDATE deliveries SET status=?, lease_until=?, finished_at=? WHERE deliveries.id = ?",
            ("dry_run", None, stamp, delivery),
        )
        db.execute("COMMIT")
    seconds = time.perf_counter() - start
    db.close()
    return seconds


def throughput(folder: Path, posts: int, seconds: float) -> None:
    with recorded(folder, posts) as (config, database):
        text = config.read_text(encoding="utf-8")
        setting = re.search(r"^poll_seconds = ([0-9.]+)", text, re.MULTILINE)
        if setting is None:
            raise SystemExit(f"{config} has no poll_seconds line")
        print(f"{'':34}{'deliveries':>11}{'seconds':>9}{'deliveries/s':>14}")

        def line(what: str, n: int, spent: float) -> None:
            print(f"{what:34}{n:>11}{spent:>9.1f}{n / spent:>14,.0f}", flush=True)

        rates = []
        for poll_seconds in (float(setting[1]), 0.1):
            changed = f"poll_seconds = {poll_seconds}"
            config.write_text(text.replace(setting[0], changed), encoding="utf-8")
            n, spent = daemon_rate(config, database, seconds, folder / f"run-{poll_seconds}.log")
            line(f"daemon --dry-run, poll {poll_seconds:g} s", n, spent)
            rates.append(n)
        n = max(rates)
        line("raw sqlite3 claim + outcome", n, raw_writes(folder / "raw.db", n))
        print(f"raw check: {count(folder / 'raw.db', 'dry_run')} deliveries dry_run in the copy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="latency probes, half of each kind")
    parser.add_argument("--gap", type=float, default=0.6, help="pause after each probe is sent")
    parser.add_argument("--posts", type=int, default=10_000, help="posts for throughput")
    parser.add_argument("--seconds", type=float, default=60, help="each daemon run's budget")
    parser.add_argument("--only", choices=["latency", "throughput"])
    args = parser.parse_args()
    print(machine())
    print(json.dumps(vars(args)))
    if args.only != "throughput":
        with tempfile.TemporaryDirectory(prefix="publisher-bench-") as tmp:
            latency(Path(tmp), args.files, args.gap)
    if args.only != "latency":
        with tempfile.TemporaryDirectory(prefix="publisher-bench-") as tmp:
            throughput(Path(tmp), args.posts, args.seconds)


if __name__ == "__main__":
    main()
