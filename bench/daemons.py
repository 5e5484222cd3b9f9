"""Dry-run deliveries per second with one, two and four daemons sharing a PostgreSQL ledger, next
to one daemon on SQLite.

Each run, in a temporary folder: a fresh ledger (a PostgreSQL schema of its own, made as the
tests make theirs and brought up to date with the migrations, or a new SQLite file); --posts
directorate posts x 20 accounts recorded in it by plan_record's functions and made due now
(record_due in bench/daemon.py; untimed); one config per daemon, each with a state folder of its
own (``publisher run`` locks its state folder) and the rest shared: queue, schedules, ledger; then
N ``publisher run --dry-run`` processes started at once, and the ledger polled until no delivery
is pending or sending. Measured:

- launch to empty: perf_counter from just before the first daemon is started (start-up included)
  until the poll finds nothing pending or sending;
- dispatch: from the first attempt's start to the last attempt's end, as the ledger records them
  (the daemons' own clock; start-up excluded); deliveries/s over that;
- CPU seconds (utime + stime, /proc/<pid>/stat) per delivery: the daemons' from when each logs
  that it is ready ("watching") to the end, their PostgreSQL backends', and the rest of the
  machine's (/proc/stat: the neighbours, this bench, PostgreSQL's own processes); and how busy the
  cores were over launch to empty: who used the cores, and whether they were full;
- on PostgreSQL, at each poll, what the daemons' backends are doing (pg_stat_activity): running
  a statement, idle in a transaction (waiting for their daemon's next statement), waiting for an
  advisory lock (the audit log's) or for a row another transaction holds; averaged.

Then checked: every delivery dry_run with attempts = 1 and exactly one attempt, whose outcome is
dry_run; and each delivery id logged as dispatched by exactly one daemon (its log line), which
also gives each daemon's share.

Run it by hand (not in CI) from the repository, as a module, with PostgreSQL at 127.0.0.1:5432
(user postgres, database test: tests/conftest.py's):

    .venv/bin/python -m bench.daemons [--posts 500] [--runs postgresql:1 ... sqlite:1] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, text

from bench.daemon import daemon, machine, record_due, stop
from bench.plan_record import write_config
from publisher.store.db import Ledger, make_engine, open_ledger, upgrade
from publisher.store.models import Attempt, Delivery
from publisher.vocabulary import DeliveryStatus
from tests.support.postgres import POSTGRES, postgres_schema, postgres_unreachable

STORES = ("postgresql", "sqlite")
STATE = 'state = "var/state"'  # the example config's state folder, made one per daemon
LOGGED = re.compile(r"delivery (\d+) dry_run to ")  # the dispatcher's line per delivery
TICK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1
UNFINISHED = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
# What a backend is doing (backends()): running a statement; in a transaction, waiting for its
# daemon's next statement; waiting for an advisory lock (the audit log's); for a row; and the
# audit lock's holder, waiting for its daemon or running a statement.
DOING = ("active", "idle in transaction", "lock:advisory", "lock:transactionid")
HOLDER = ("holder:idle in transaction", "holder:active")


@dataclass(frozen=True)
class Setup:
    store: str
    daemons: int

    def __str__(self) -> str:
        return f"{self.store}:{self.daemons}"


def setup(value: str) -> Setup:
    """``postgresql:4``: the store and how many daemons share it."""
    store, _, n = value.partition(":")
    if store not in STORES or not n.isdigit() or int(n) < 1:
        msg = f"{value!r}: give STORE:DAEMONS, STORE one of {', '.join(STORES)}"
        raise argparse.ArgumentTypeError(msg)
    return Setup(store, int(n))


@contextmanager
def fresh_ledger(store: str, folder: Path) -> Iterator[str]:
    """A URL to an empty ledger at the current schema: a PostgreSQL schema of its own (dropped
    after, its connections ended), or a new SQLite file in ``folder``."""
    if store == "sqlite":
        yield f"sqlite:///{folder / 'ledger.db'}"
        return
    reason = postgres_unreachable()
    if reason is not None:
        raise SystemExit(reason)
    with postgres_schema() as url:
        engine = make_engine(url)
        upgrade(engine)  # `publisher db upgrade`: the daemons do not migrate PostgreSQL
        engine.dispose()
        yield url


def daemon_configs(config: Path, n: int) -> list[Path]:
    """``config`` once per daemon, each with a state folder of its own and all else shared."""
    text = config.read_text(encoding="utf-8")
    if STATE not in text:
        raise SystemExit(f"{config} has no line {STATE!r}")
    paths = [config.with_name(f"config-d{i}.toml") for i in range(1, n + 1)]
    for i, path in enumerate(paths, 1):
        path.write_text(text.replace(STATE, f'state = "var/d{i}/state"'), encoding="utf-8")
    return paths


def postgres_settings() -> str:
    """The PostgreSQL server's version and the settings a commit's cost depends on."""
    engine = make_engine(POSTGRES)
    with engine.connect() as connection:
        shown = [
            f"{name} {connection.scalar(text(f'SHOW {name}'))}"
            for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers")
        ]
    engine.dispose()
    return "PostgreSQL: " + ", ".join(shown)


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user + system); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime: fields 14 and 15


def machine_busy() -> float:
    """CPU seconds all cores have spent busy since boot (/proc/stat, neither idle nor iowait)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / TICK


def backends(ledger: Ledger) -> dict[int, str]:
    """The PostgreSQL backends serving the daemons (the connections carrying this ledger's
    application_name, its URL's, other than the one asking), each with what it is doing:
    waiting for a lock ("lock:advisory", "lock:transactionid": a row another transaction
    holds, ...); holding an advisory lock (the audit log's: no other is taken meanwhile), with
    its state ("holder:active", "holder:idle in transaction"); else its state ("active",
    "idle in transaction", "idle")."""
    with ledger() as session:
        rows = session.execute(
            text(
                "SELECT a.pid, CASE WHEN a.wait_event_type = 'Lock' THEN 'lock:' || a.wait_event"
                " WHEN l.pid IS NOT NULL THEN 'holder:' || a.state ELSE a.state END"
                " FROM pg_stat_activity a LEFT JOIN pg_locks l"
                " ON l.pid = a.pid AND l.locktype = 'advisory' AND l.granted"
                " WHERE a.pid <> pg_backend_pid()"
                " AND a.application_name = current_setting('application_name')"
            )
        )
        return dict(rows.all())


def unfinished(ledger: Ledger) -> int:
    with ledger() as session:
        return (
            session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.status.in_(UNFINISHED))
            )
            or 0
        )


def problems(ledger: Ledger, logs: list[Path]) -> list[str]:
    """What contradicts "each delivery handled exactly once", in the ledger and the logs."""
    with ledger() as session:
        statuses = Counter(session.scalars(select(Delivery.status)))
        counted = Counter(session.scalars(select(Delivery.attempts)))
        per_delivery = Counter(
            n
            for (n,) in session.execute(
                select(func.count()).select_from(Attempt).group_by(Attempt.delivery_id)
            )
        )
        outcomes = Counter(session.scalars(select(Attempt.outcome)))
    total = sum(statuses.values())
    found = []
    if statuses != {DeliveryStatus.DRY_RUN: total}:
        found.append(f"statuses {dict(statuses)}")
    if counted != {1: total}:
        found.append(f"deliveries.attempts {dict(counted)}")
    if per_delivery != {1: total}:
        found.append(f"attempt rows per delivery {dict(per_delivery)}")
    if outcomes != {"dry_run": total}:
        found.append(f"attempt outcomes {dict(outcomes)}")
    logged = Counter(int(m[1]) for log in logs for m in LOGGED.finditer(log.read_text("utf-8")))
    if len(logged) != total or set(logged.values()) != {1}:
        twice = sum(1 for n in logged.values() if n > 1)
        found.append(f"logged {len(logged)} distinct deliveries of {total}, {twice} more than once")
    return found


@dataclass(frozen=True)
class Result:
    deliveries: int
    launch_to_empty: float
    dispatch: float  # first attempt's start to last attempt's end, from the ledger
    shares: list[int]  # deliveries each daemon logged
    startup_cpu: float  # the daemons', launch to ready ("watching")
    daemons_cpu: float  # the daemons', ready to empty
    backends_cpu: float | None  # None on SQLite
    backends_doing: dict[str, float]  # on PostgreSQL, how many backends were in each state
    machine_cpu: float  # all cores, launch to empty
    load: tuple[float, float]  # 1-minute load average at launch and at empty
    problems: list[str]


def measure(store: str, n: int, posts: int, folder: Path) -> Result:
    """One run: a fresh ledger, the workload recorded due, ``n`` daemons until it is dispatched."""
    with fresh_ledger(store, folder) as url:
        settings = write_config(folder, database_url=url)
        seconds = record_due(settings, posts)
        print(f"{store}:{n}: {posts} posts recorded in {seconds:.0f} s (untimed)", flush=True)
        configs = daemon_configs(folder / "config.toml", n)
        logs = [folder / f"d{i}.log" for i in range(1, n + 1)]
        ledger = open_ledger(url)
        total = unfinished(ledger)
        load, busy, start = os.getloadavg()[0], machine_busy(), time.perf_counter()
        processes = [
            daemon(config, log, dry_run=True, host=f"d{i}")
            for i, (config, log) in enumerate(zip(configs, logs, strict=True), 1)
        ]
        ready: dict[int, float] = {}  # a daemon's CPU seconds when it logged that it was ready
        doing: Counter[str] = Counter()  # the backends' states, summed over the polls
        polls = 0
        try:
            while unfinished(ledger):
                if any(p.poll() is not None for p in processes):
                    raise SystemExit(f"a daemon stopped; see {' '.join(map(str, logs))}")
                for p, log in zip(processes, logs, strict=True):
                    if p.pid not in ready and "watching" in log.read_text("utf-8"):
                        ready[p.pid] = cpu_seconds(p.pid)
                if store == "postgresql":
                    doing.update(backends(ledger).values())
                    polls += 1
                time.sleep(0.2)
            wall, busy = time.perf_counter() - start, machine_busy() - busy
            end_load = os.getloadavg()[0]
            cpu = {p.pid: cpu_seconds(p.pid) for p in processes}
            startup_cpu = sum(ready.get(pid, spent) for pid, spent in cpu.items())
            daemons_cpu = sum(cpu.values()) - startup_cpu
            db_cpu = sum(map(cpu_seconds, backends(ledger))) if store == "postgresql" else None
        finally:
            for process in processes:
                stop(process)
        with ledger() as session:
            first, last = session.execute(
                select(func.min(Attempt.started_at), func.max(Attempt.finished_at))
            ).one()
        found = problems(ledger, logs)
        shares = [len(LOGGED.findall(log.read_text("utf-8"))) for log in logs]
        ledger.kw["bind"].dispose()
    if first is None or last is None:
        raise SystemExit(f"no attempt was recorded; see {' '.join(map(str, logs))}")
    return Result(
        total, wall, (last - first).total_seconds(), shares, startup_cpu, daemons_cpu, db_cpu,
        {state: n / polls for state, n in doing.items()}, busy,
        (load, end_load), found,
    )  # fmt: skip


COLUMNS = (  # heading, width
    ("store:daemons", 14), ("deliveries", 11), ("launch s", 9), ("dispatch s", 11),
    ("/s", 6), ("each daemon", 22), ("start-up CPU s", 15), ("ms CPU/delivery: daemons", 25),
    ("PG", 6), ("others", 8), ("busy", 6), ("PG backends a/t/al/rl", 22),
    ("audit lock held t/a", 20), ("load", 11), ("exactly once", 0),
)  # fmt: skip


def row(what: Setup, r: Result) -> str:
    """One run's figures under COLUMNS: CPU per delivery is the daemons' after start-up, their
    PostgreSQL backends', and everything else the machine ran meanwhile (the neighbours, this
    bench's polling, PostgreSQL's own processes); busy is the machine's share of its cores;
    then how many of the daemons' backends were, on average over the polls, running a statement
    (a), in a transaction waiting for their daemon (t), waiting for an advisory lock (al) or for
    a row another transaction holds (rl); and the share of the polls in which the audit log's
    lock was held by a backend waiting for its daemon (t) or running a statement (a)."""
    ms = 1000 / r.deliveries
    db = r.backends_cpu or 0.0
    others = r.machine_cpu - r.startup_cpu - r.daemons_cpu - db
    cells = (
        str(what), f"{r.deliveries:,}", f"{r.launch_to_empty:.1f}", f"{r.dispatch:.1f}",
        f"{r.deliveries / r.dispatch:,.0f}", "/".join(map(str, r.shares)), f"{r.startup_cpu:.1f}",
        f"{r.daemons_cpu * ms:.2f}", "-" if r.backends_cpu is None else f"{db * ms:.2f}",
        f"{others * ms:.2f}", f"{r.machine_cpu / (CORES * r.launch_to_empty):.0%}",
        "/".join(f"{r.backends_doing.get(s, 0):.1f}" for s in DOING) if r.backends_doing else "-",
        "/".join(f"{r.backends_doing.get(s, 0):.2f}" for s in HOLDER) if r.backends_doing else "-",
        f"{r.load[0]:.1f}, {r.load[1]:.1f}", "; ".join(r.problems) or "yes",
    )  # fmt: skip
    return "".join(cell.ljust(width) for cell, (_, width) in zip(cells, COLUMNS, strict=True))


HEADER = "".join(heading.ljust(width) for heading, width in COLUMNS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=500, help="posts, 20 deliveries each")
    parser.add_argument(
        "--runs",
        type=setup,
        nargs="+",
        default=[setup(s) for s in ("postgresql:1", "postgresql:2", "postgresql:4", "sqlite:1")],
        help="STORE:DAEMONS, in this order (default postgresql:1 postgresql:2 postgresql:4 "
        "sqlite:1)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="each run this many times")
    args = parser.parse_args()
    print(machine())
    if any(s.store == "postgresql" for s in args.runs) and postgres_unreachable() is None:
        print(postgres_settings())
    print(json.dumps({**vars(args), "runs": [str(s) for s in args.runs]}))
    loads = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, load average {loads}")
    print(HEADER)
    lines, failed = [], False
    for _ in range(args.repeat):
        for what in args.runs:
            with tempfile.TemporaryDirectory(prefix="publisher-bench-") as tmp:
                result = measure(what.store, what.daemons, args.posts, Path(tmp))
            failed |= bool(result.problems)
            lines.append(row(what, result))
            print(lines[-1], flush=True)
    print(HEADER, *lines, sep="\n")
    if failed:
        raise SystemExit("some delivery was not handled exactly once: see the last column")


if __name__ == "__main__":
    main()
