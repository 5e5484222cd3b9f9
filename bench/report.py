"""How long the report takes over a large ledger: N deliveries spread over 90 days, three metric
snapshots each, the example config's 15 accounts.

Rows are written with bulk inserts (untimed), then, each timed with perf_counter:

1. build_report over the whole 90 days (the ledger's queries and the per-account figures);
2. the same report rendered as HTML, as CSV and as JSON.

Run it by hand (not in CI) from the repository:

    .venv/bin/python bench/report.py [--deliveries N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from publisher.config.settings import load_settings
from publisher.planning.tags import mentions
from publisher.reports.export import as_dict, report_csv
from publisher.reports.html import render_report
from publisher.reports.report import build_report
from publisher.store.db import open_ledger
from publisher.store.models import Delivery, MetricSnapshot, Post

REPO = Path(__file__).resolve().parent.parent
END = datetime(2026, 12, 1, 4, 30, tzinfo=UTC)
DAYS = 90


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.toml"
        text = (REPO / "config.toml").read_text(encoding="utf-8")
        config.write_text(
            text.replace('templates = "templates"', f'templates = "{REPO}/templates"')
        )
        settings = load_settings(config)
        ledger = open_ledger(settings.database_url)
        accounts = settings.accounts()
        posts = args.deliveries // len(accounts) + 1
        step = timedelta(days=DAYS) / posts
        with ledger.begin() as session:
            session.execute(
                insert(Post),
                [
                    {"id": p + 1, "key": f"directorate/p{p}", "unit": "directorate",
                     "source_name": f"p{p}.toml", "source_sha256": "0" * 64, "priority": 0,
                     "not_before": END - DAYS * timedelta(days=1) + p * step,
                     "received_at": END - DAYS * timedelta(days=1) + p * step,
                     "archive_path": None, "request": {"tags": []}}
                    for p in range(posts)
                ],
            )  # fmt: skip
            rows = []
            for n in range(args.deliveries):
                p, (unit, account) = divmod(n, len(accounts))[0], accounts[n % len(accounts)]
                tags, _ = mentions(settings, account)
                when = END - timedelta(days=DAYS) + p * step
                rows.append(
                    {"id": n + 1, "post_id": p + 1, "idempotency_key": f"{p}|{account.key}",
                     "unit": unit, "account": account.key, "platform": account.platform,
                     "locale": account.locales[0], "text": "text", "notes": [], "progress": {},
                     "parts": [{"kind": "post", "text": "text", "tags": tags, "remote_id": str(n)}],
                     "tags": tags, "media": [], "status": "sent", "priority": 0,
                     "not_before": when, "attempts": 1, "remote_id": str(n),
                     "finished_at": when}
                )  # fmt: skip
            session.execute(insert(Delivery), rows)
            session.execute(
                insert(MetricSnapshot),
                [
                    {"delivery_id": n + 1, "taken_at": END - timedelta(hours=h), "likes": n % 50,
                     "shares": n % 7, "comments": n % 11, "views": None if n % 3 else n}
                    for n in range(args.deliveries)
                    for h in (1, 2, 3)
                ],
            )  # fmt: skip
        first = (END - timedelta(days=DAYS)).astimezone(settings.zone).date()
        last = END.astimezone(settings.zone).date()
        with ledger() as session:
            started = time.perf_counter()
            report = build_report(session, settings, first, last, END)
            built = time.perf_counter() - started
        posts_counted = sum(u.posts for u in report.units)
        timings = {}
        for name, render in (
            ("html", lambda: render_report(report, settings.freshness.max_silence_days)),
            ("csv", lambda: report_csv(report)),
            ("json", lambda: json.dumps(as_dict(report), ensure_ascii=False)),
        ):
            started = time.perf_counter()
            size = len(render())
            timings[name] = (time.perf_counter() - started, size)
    print(f"{args.deliveries:,} deliveries over {DAYS} days, 3 snapshots each")
    print(f"build_report   {built:7.2f} s  ({posts_counted:,} posts counted)")
    for name, (seconds, size) in timings.items():
        print(f"render {name:<7} {seconds:7.2f} s  ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
