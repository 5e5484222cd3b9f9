"""Plan and record N posts x 20 accounts in dry-run, next to the raw cost of the same work.

One process, one temporary folder, one step after the other, each timed with perf_counter (wall
time: the figures and the goal), with this process's CPU time (process_time) and, on Linux, the
time it waited for a core (/proc/self/schedstat) beside it: the machine may be shared, and wall
time less those two is time spent blocked, mostly on the disk (fsync):

1. engine plan+record: what Intake.take does with batches of new files, less its work in the
   queue folder (reading the file, checking media, naming the archive folder, moving files,
   writing the receipt), through the same Intake methods: per file parse_post on its bytes,
   Intake.lookup and Intake.plan_post; then Intake.record of the batch (one transaction), then
   each receipt text;
2. raw render: the same template (savings-scheme) with the same variables in the same locales,
   once per (post, locale) as plan() does, with a plain Jinja2 SandboxedEnvironment per locale, the
   same compiled catalogs and the same Babel formatting, each template looked up once;
3. raw insert: the very rows the engine wrote to its deliveries table, read back and JSON-decoded
   untimed, then JSON-encoded again and written with ONE sqlite3 executemany in one transaction
   into a fresh SQLite file with the ledger's own table and indexes and the same PRAGMAs (WAL,
   synchronous=FULL); the two tables are then checked to be equal;
4. engine dispatch: passes of Dispatcher.run_due with load_adapters(dry_run=True) (a DryRunAdapter
   per account) over the recorded deliveries, until all are sent or --dispatch-seconds is spent.

Run it by hand (not in CI) from the repository:

    .venv/bin/python bench/plan_record.py [--posts N] [--dispatch-seconds S]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from babel import Locale
from babel.numbers import format_currency, format_decimal
from babel.support import Translations
from jinja2 import FileSystemLoader, StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from publisher.adapters.registry import load_adapters
from publisher.config.credentials import Credentials
from publisher.config.settings import Settings, load_settings
from publisher.dispatch.dispatcher import Dispatcher
from publisher.intake.officer_files import receipt_text
from publisher.intake.postfile import parse_post
from publisher.intake.queue import BATCH, Intake
from publisher.planning.render import Renderer
from publisher.store.db import Ledger, open_ledger

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 1, 4, 30, tzinfo=UTC)
TEMPLATE = "savings-scheme"
SCHEMA = "SELECT sql FROM sqlite_master WHERE tbl_name = 'deliveries' AND sql IS NOT NULL"
Rows = tuple[list[str], list[int], list[list[Any]]]


def fixed_clock() -> datetime:
    return NOW


@dataclass(frozen=True)
class Spent:
    wall: float  # perf_counter seconds
    cpu: float  # process_time seconds
    queued: float  # seconds ready to run but waiting for a core (Linux schedstat; 0 elsewhere)

    def __add__(self, other: Spent) -> Spent:
        return Spent(self.wall + other.wall, self.cpu + other.cpu, self.queued + other.queued)


def run_queue_seconds() -> float:
    """Time this process has waited for a core so far: other processes' load, not its own."""
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def clocks() -> tuple[float, float, float]:
    return time.perf_counter(), time.process_time(), run_queue_seconds()


def spent(start: tuple[float, float, float]) -> Spent:
    wall, cpu, queued = clocks()
    return Spent(wall - start[0], cpu - start[1], queued - start[2])


def write_config(folder: Path, database_url: str | None = None) -> Settings:
    """The example config.toml, its units rewritten to 4 accounts of ONE locale each (20 in all);
    its ledger at ``database_url`` if given (else the default: SQLite in the state folder).

    Per unit: the example's x account in English, its facebook and instagram accounts in the
    unit's regional language (hi, ta, hi, bn, mr) and a second instagram account (handle + ".en")
    in English. A post for units = ["all"] with no locales line then yields exactly one delivery
    per account (20) and five renders (en, hi, ta, bn, mr).
    """
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    head = text.partition("# --- Units")[0]
    head = head.replace('templates = "templates"', f'templates = "{REPO / "templates"}"')
    if database_url is not None:
        head = head.replace("[database]\n", f'[database]\nurl = "{database_url}"\n', 1)
    lines = [head]
    for uid, unit in tomllib.loads(text)["units"].items():
        lines += [f"[units.{uid}]", f"name = {json.dumps(unit['name'])}"]
        lines.append(f"[units.{uid}.nodal_officer]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in unit["nodal_officer"].items()]
        regional = next(loc for a in unit["accounts"] for loc in a["locales"] if loc != "en")
        accounts = [(a["platform"], a["handle"]) for a in unit["accounts"]]
        accounts.append(("instagram", accounts[2][1] + ".en"))
        for platform, handle in accounts:
            locale = "en" if platform == "x" or handle.endswith(".en") else regional
            lines.append(f"[[units.{uid}.accounts]]")
            lines.append(f'platform = "{platform}"\nhandle = "{handle}"\nlocales = ["{locale}"]')
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_settings(path)


def post_vars(i: int) -> dict[str, Any]:
    """min_deposit differs per post, so every post's texts differ, as they would in real use."""
    return {"scheme": "Sukanya Samriddhi Yojana", "rate": 8.2, "min_deposit": 250 + i}


def post_file(i: int) -> bytes:
    v = post_vars(i)
    return (
        f'id = "savings-{i:05d}"\ntemplate = "{TEMPLATE}"\nunits = ["all"]\n\n[vars]\n'
        f'scheme = "{v["scheme"]}"\nrate = {v["rate"]}\nmin_deposit = {v["min_deposit"]}\n'
    ).encode()


def engine_plan_record(settings: Settings, ledger: Ledger, files: list[bytes]) -> Spent:
    """What Intake.take does with a batch of new files, less its work in the queue folder,
    through the same Intake methods: per file, parse the bytes, ``lookup`` the key (in the
    batch's read session) and ``plan_post`` it (outside the write lock); then ``record`` the
    batch's posts in ONE transaction; then each post's receipt text from what was recorded.
    Batches of intake.BATCH files, as Intake.scan takes them."""
    intake = Intake(settings, Renderer.from_settings(settings), ledger, fixed_clock)  # catalogs
    max_past = timedelta(hours=settings.intake.max_past_hours)
    start = clocks()
    for first in range(0, len(files), BATCH):
        posts = []
        with ledger() as reader:
            for i, raw in enumerate(files[first : first + BATCH], first):
                now, name = fixed_clock(), f"savings-{i:05d}.toml"
                request = parse_post(raw, "directorate", name, settings.zone, now, max_past)
                if intake.lookup(reader, request) is not None:
                    raise SystemExit(f"{request.key} is in the ledger already")
                folder = f"directorate/archive/{now:%Y-%m-%d}_{Path(name).stem}"
                posts.append(intake.plan_post(request, [], folder, now))
        for post in intake.record(posts):
            receipt_text(post, settings.zone)
    return spent(start)


def raw_filters(loc: Locale) -> dict[str, Callable[[Any], str]]:
    """The two Babel filters the template uses, formatting as publisher/planning/render.py does."""

    def percent(value: float) -> str:
        return format_decimal(value, format="#,##0.##", locale=loc) + "%"

    def inr(value: int) -> str:
        return format_currency(value, "INR", locale=loc, format="¤#,##,##0", currency_digits=False)

    return {"percent": percent, "inr": inr}


def raw_render(settings: Settings, locales: list[str], n: int) -> list[dict[str, str]]:
    """Per post, the message in each locale: plain Jinja2 + gettext catalogs + Babel."""
    templates: dict[str, Template] = {}
    for code in locales:
        env = SandboxedEnvironment(
            extensions=["jinja2.ext.i18n"],
            loader=FileSystemLoader(settings.paths.templates),
            undefined=StrictUndefined,
        )
        catalogs = Translations.load(str(settings.paths.state / "locale"), [code], "messages")
        env.install_gettext_translations(catalogs, newstyle=True)  # type: ignore[attr-defined]
        env.filters.update(raw_filters(Locale.parse(f"{code}_{settings.organisation.region}")))
        templates[code] = env.get_template(f"{TEMPLATE}.j2")
    return [
        {code: t.render(post_vars(i)).strip() for code, t in templates.items()} for i in range(n)
    ]


def ledger_rows(engine_db: Path) -> Rows:
    """The engine's delivery rows, all columns but the id, in order; JSON decoded (untimed)."""
    with sqlite3.connect(engine_db) as db:
        info = [c for c in db.execute("PRAGMA table_info(deliveries)") if c[1] != "id"]
        rows = db.execute(f"SELECT {', '.join(c[1] for c in info)} FROM deliveries ORDER BY id")
        json_at = [i for i, c in enumerate(info) if c[2] == "JSON"]
        data = [[json.loads(v) if i in json_at and v is not None else v for i, v in enumerate(r)]
                for r in rows]  # fmt: skip
    return [c[1] for c in info], json_at, data


def same_messages(rows: Rows, messages: list[dict[str, str]]) -> bool:
    """Each stored main text starts with the raw render of its post and locale."""
    columns, _, data = rows
    post, locale, text = (columns.index(c) for c in ("post_id", "locale", "text"))
    return all(r[text].startswith(messages[r[post] - 1][r[locale]]) for r in data)


def raw_insert(path: Path, engine_db: Path, rows: Rows) -> Spent:
    """The rows, JSON encoded, in ONE executemany, in one transaction; returns the time spent."""
    columns, json_at, data = rows
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    with sqlite3.connect(engine_db) as ledger:  # the ledger's own table, constraints and indexes
        for (sql,) in ledger.execute(SCHEMA).fetchall():
            db.execute(sql)
    marks = ", ".join("?" * len(columns))
    start = clocks()
    encoded = [list(r) for r in data]
    for r in encoded:
        for i in json_at:
            r[i] = json.dumps(r[i])
    db.execute("BEGIN IMMEDIATE")
    db.executemany(f"INSERT INTO deliveries ({', '.join(columns)}) VALUES ({marks})", encoded)
    db.execute("COMMIT")
    seconds = spent(start)
    db.close()
    return seconds


def same_rows(engine_db: Path, raw_db: Path, columns: list[str]) -> bool:
    """The raw table holds exactly the engine's rows, byte for byte (ids aside)."""
    with sqlite3.connect(engine_db) as db:
        db.execute("ATTACH DATABASE ? AS raw", (str(raw_db),))
        ours, raw = (f"SELECT {', '.join(columns)} FROM {s}.deliveries" for s in ("main", "raw"))
        diff = f"SELECT count(*) FROM ({ours} EXCEPT {raw}) UNION ALL SELECT count(*) FROM "
        return [n for (n,) in db.execute(f"{diff} ({raw} EXCEPT {ours})")] == [0, 0]


def engine_dispatch(settings: Settings, ledger: Ledger, budget: float) -> tuple[int, Spent]:
    """Dry-run passes of Dispatcher.run_due (at most a batch each) until nothing is due or the
    budget (seconds) is spent; returns how many deliveries were sent, and the time spent."""
    adapters = load_adapters(settings, Credentials(environ={}), dry_run=True, clock=fixed_clock)
    dispatcher = Dispatcher(ledger, adapters, fixed_clock, settings.dispatch, settings.paths.queue)
    sent, start = 0, clocks()
    while time.perf_counter() - start[0] < budget and (claims := dispatcher.run_due()):
        sent += len(claims)
    return sent, spent(start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000, help="posts to plan (default 10000)")
    parser.add_argument(
        "--dispatch-seconds", type=float, default=120, help="dispatch time budget (default 120)"
    )
    args = parser.parse_args()
    n = args.posts
    with tempfile.TemporaryDirectory(prefix="publisher-bench-") as tmp:
        folder = Path(tmp)
        settings = write_config(folder)
        ledger = open_ledger(settings.database_url)  # schema by migrations, before any timing
        engine_db = settings.paths.state / "publisher.db"
        locales = list(dict.fromkeys(a.locales[0] for _, a in settings.accounts()))
        files = [post_file(i) for i in range(n)]
        accounts = len(settings.accounts())
        print(f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, in {folder}")
        print(f"{n} posts x {accounts} accounts; {n * len(locales)} renders in {locales}")
        print(
            f"{'':26}{'posts':>8}{'deliveries':>12}{'seconds':>10}{'deliveries/s':>14}"
            f"{'CPU s':>8}{'queued s':>10}"
        )

        def line(what: str, count: int, time: Spent) -> None:
            rate = f"{count / time.wall:>14,.0f}" if time.wall else f"{'-':>14}"
            print(
                f"{what:26}{n:>8}{count:>12}{time.wall:>10.2f}{rate}{time.cpu:>8.2f}"
                f"{time.queued:>10.2f}",
                flush=True,
            )

        record_s = engine_plan_record(settings, ledger, files)
        rows = ledger_rows(engine_db)
        line("engine plan+record", len(rows[2]), record_s)
        start = clocks()
        messages = raw_render(settings, locales, n)
        render_s = spent(start)
        line("raw render (Jinja2)", n * accounts, render_s)
        insert_s = raw_insert(folder / "raw.db", engine_db, rows)
        line("raw insert (executemany)", len(rows[2]), insert_s)
        line("raw total", n * accounts, render_s + insert_s)
        ratio = (render_s + insert_s).wall / record_s.wall
        verdict = "met" if ratio >= 0.5 else "NOT met"
        print(f"engine/raw rate, plan+record: {ratio:.2f} (goal >= 0.50: {verdict})")
        cpu_ratio = (render_s + insert_s).cpu / record_s.cpu
        print(f"the same in this process's CPU time: {cpu_ratio:.2f}")
        print(f"stored texts start with the raw renders: {same_messages(rows, messages)}")
        print(f"raw rows equal the engine's: {same_rows(engine_db, folder / 'raw.db', rows[0])}")
        sent, dispatch_s = engine_dispatch(settings, ledger, args.dispatch_seconds)
        line("engine dry-run dispatch", sent, dispatch_s)
        if sent < len(rows[2]):
            print(f"dispatch stopped at its time budget: {len(rows[2]) - sent} deliveries unsent")


if __name__ == "__main__":
    main()
