"""Plan and record N posts x 20 accounts in dry-run, next to the raw cost of the same work.

Everything runs in one temporary folder, in one process, one after the other:

* raw render: the same template (savings-scheme) in the same five locales, with a plain Jinja2
  SandboxedEnvironment per locale, the same compiled catalogs and the same Babel formatting; each
  template is looked up once, then rendered once per (post, locale), as the engine does;
* raw insert: the same delivery rows (texts, tags, keys) built from those renders and written with
  ONE sqlite3 executemany, in one transaction, into a fresh SQLite file with the ledger's own
  deliveries table and indexes and the same PRAGMAs (WAL, synchronous=FULL);
* engine plan+record: per post, parse_post on the file's bytes, then in its own transaction what
  Intake._accept does (Intake._record: find_post, plan, record_post, flush; then receipt_text),
  without the file moves and the receipt write;
* engine dispatch: Dispatcher.run_due with the DryRunAdapter over every recorded delivery.

The engine's rows are then checked to be the raw rows. Run it by hand (not in CI), from the repo:

    .venv/bin/python bench/plan_record.py [--posts N]
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from babel import Locale
from babel.numbers import format_currency, format_decimal
from babel.support import Translations
from jinja2 import FileSystemLoader, StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from publisher.adapters.dryrun import DryRunAdapter
from publisher.config import Settings, load_settings
from publisher.dispatch import Dispatcher
from publisher.intake import Intake
from publisher.postfile import parse_post
from publisher.receipts import receipt_text
from publisher.render import Renderer
from publisher.store.db import open_ledger
from publisher.tags import mentions, with_tags

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 1, 4, 30, tzinfo=UTC)
TEMPLATE = "savings-scheme"
SCHEME = "Sukanya Samriddhi Yojana"
COLUMNS = "post_id, idempotency_key, unit, account, platform, locale, text, tags, media, priority"
Row = tuple[Any, ...]


def fixed_clock() -> datetime:
    return NOW


def write_config(folder: Path) -> Settings:
    """The example config.toml, its units rewritten to 4 accounts of ONE locale each (20 in all).

    Per unit: the example's x account in English, its facebook and instagram accounts in the
    unit's regional language (hi, ta, hi, bn, mr) and a second instagram account (handle + ".en")
    in English. A post for units = ["all"] with no locales line then yields exactly one delivery
    per account (20) and five renders (en, hi, ta, bn, mr).
    """
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    head = text.partition("# --- Units")[0]
    lines = [head.replace('templates = "templates"', f'templates = "{REPO / "templates"}"')]
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
    return {"scheme": SCHEME, "rate": 8.2, "min_deposit": 250 + i}


def post_file(i: int) -> bytes:
    """A directorate post for every unit; min_deposit differs per post, so every text differs."""
    v = post_vars(i)
    return (
        f'id = "savings-{i:05d}"\ntemplate = "{TEMPLATE}"\nunits = ["all"]\n\n[vars]\n'
        f'scheme = "{v["scheme"]}"\nrate = {v["rate"]}\nmin_deposit = {v["min_deposit"]}\n'
    ).encode()


def raw_filters(loc: Locale) -> dict[str, Callable[[Any], str]]:
    """The two Babel filters the template uses, as publisher/render.py formats them."""

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


def raw_insert(
    path: Path, schema: list[str], settings: Settings, messages: list[dict[str, str]]
) -> float:
    """Build the delivery rows and write them with one executemany; returns the seconds taken."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    for sql in schema:
        db.execute(sql)
    start = time.perf_counter()
    targets = []
    for uid, account in settings.accounts():
        tags = mentions(settings, account)
        suffix = with_tags("", account.platform, tags)
        targets.append(
            (uid, account.key, account.platform, account.locales[0], suffix, json.dumps(tags))
        )
    when = NOW.replace(tzinfo=None).isoformat(" ", "microseconds")
    rows = [
        (
            post_id,
            f"directorate/savings-{post_id - 1:05d}|{key}|{loc}",
            uid,
            key,
            platform,
            loc,
            texts[loc] + suffix,
            tags,
            "[]",
            0,
            "pending",
            when,
            0,
        )
        for post_id, texts in enumerate(messages, 1)
        for uid, key, platform, loc, suffix, tags in targets
    ]
    db.execute("BEGIN IMMEDIATE")
    db.executemany(
        f"INSERT INTO deliveries ({COLUMNS}, status, not_before, attempts) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.execute("COMMIT")
    seconds = time.perf_counter() - start
    db.close()
    return seconds


def engine_plan_record(settings: Settings, ledger: Any, files: list[bytes]) -> float:
    """Per post: parse, then plan and record in its own transaction, as Intake._accept does."""
    intake = Intake(settings, Renderer.from_settings(settings), ledger, fixed_clock)
    max_past = timedelta(hours=settings.intake.max_past_hours)
    start = time.perf_counter()
    for i, raw in enumerate(files):
        now = fixed_clock()
        request = parse_post(
            raw, "directorate", f"savings-{i:05d}.toml", settings.zone, now, max_past
        )
        with ledger.begin() as session:
            post, _folder, _outcome = intake._record(session, request, [], now)
            receipt_text(post, settings.zone)
    return time.perf_counter() - start


def engine_dispatch(settings: Settings, ledger: Any) -> tuple[int, float]:
    """Every due delivery through the dry-run adapter; returns how many, and the seconds."""
    dry = DryRunAdapter(fixed_clock)
    adapters = {"x": dry, "facebook": dry, "instagram": dry}
    dispatcher = Dispatcher(ledger, adapters, fixed_clock, settings.dispatch, settings.paths.queue)
    start = time.perf_counter()
    claims = dispatcher.run_due()
    return len(claims), time.perf_counter() - start


def same_rows(engine_db: Path, raw_db: Path) -> bool:
    """The engine's delivery rows equal the raw ones, column for column (but for ids and status)."""
    db = sqlite3.connect(engine_db)
    db.execute("ATTACH DATABASE ? AS raw", (str(raw_db),))
    cols = COLUMNS + ", not_before"
    differ = db.execute(
        f"SELECT count(*) FROM (SELECT {cols} FROM main.deliveries EXCEPT "
        f"SELECT {cols} FROM raw.deliveries)"
    ).fetchone()[0]
    counts = [
        db.execute(f"SELECT count(*) FROM {s}.deliveries").fetchone()[0] for s in ("main", "raw")
    ]
    db.close()
    return differ == 0 and counts[0] == counts[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000, help="posts to plan (default 10000)")
    n = parser.parse_args().posts
    with tempfile.TemporaryDirectory(prefix="publisher-bench-") as tmp:
        folder = Path(tmp)
        settings = write_config(folder)
        ledger = open_ledger(settings.database_url)  # schema by migrations, before any timing
        Renderer.from_settings(settings)  # compiles the catalogs both paths read
        engine_db = settings.paths.state / "publisher.db"
        with sqlite3.connect(engine_db) as db:
            schema = [
                r[0]
                for r in db.execute(
                    "SELECT sql FROM sqlite_master WHERE tbl_name = 'deliveries' AND sql IS NOT NULL"
                )
            ]
        locales = list(dict.fromkeys(a.locales[0] for _, a in settings.accounts()))
        files = [post_file(i) for i in range(n)]
        deliveries = n * len(settings.accounts())
        print(f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, in {folder}")
        print(f"{n} posts x {len(settings.accounts())} accounts, {len(locales)} locales {locales}")

        start = time.perf_counter()
        messages = raw_render(settings, locales, n)
        render_s = time.perf_counter() - start
        insert_s = raw_insert(folder / "raw.db", schema, settings, messages)
        record_s = engine_plan_record(settings, ledger, files)
        sent, dispatch_s = engine_dispatch(settings, ledger)
        raw_s = render_s + insert_s

        print(f"{'':26}{'posts':>8}{'deliveries':>12}{'seconds':>10}{'deliveries/s':>14}")
        for what, count, seconds in [
            ("engine plan+record", deliveries, record_s),
            ("engine dry-run dispatch", sent, dispatch_s),
            ("raw render (Jinja2)", deliveries, render_s),
            ("raw insert (executemany)", deliveries, insert_s),
            ("raw total", deliveries, raw_s),
        ]:
            print(f"{what:26}{n:>8}{count:>12}{seconds:>10.2f}{count / seconds:>14,.0f}")
        ratio = raw_s / record_s
        print(
            f"engine/raw rate, plan+record: {ratio:.2f} (goal >= 0.50: {'met' if ratio >= 0.5 else 'NOT met'})"
        )
        print(
            f"renders: {n * len(locales)}; engine rows equal raw rows: {same_rows(engine_db, folder / 'raw.db')}"
        )


if __name__ == "__main__":
    main()
