"""The commands that read, report and check, and decide nothing: status, review, freshness,
metrics, report, roster, accounts check."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from publisher.adapters.base import AccountCheck
from publisher.adapters.registry import build
from publisher.cli.output import explain, redact_logs, write
from publisher.clock import system_clock
from publisher.config.credentials import Credentials
from publisher.config.settings import Settings
from publisher.errors import InputError, PublisherError
from publisher.intake.recurring import Recurring
from publisher.oversight.controls import holds_text
from publisher.oversight.freshness import account_standings, standings_text
from publisher.oversight.languages import languages_text
from publisher.oversight.review import (
    awaiting_text,
    late_deliveries,
    late_text,
    queued,
    review_text,
    status_text,
)
from publisher.planning.catalogs import Catalogs
from publisher.planning.render import Renderer
from publisher.reports.export import as_dict, report_csv
from publisher.reports.html import render_report
from publisher.reports.metrics import MeasuringAdapters, collect
from publisher.reports.report import build_report
from publisher.reports.roster import roster_csv, roster_html
from publisher.reports.weekly import send_report
from publisher.store.db import open_ledger


def languages(_: argparse.Namespace, settings: Settings) -> int:
    """``languages``: the translations per language and template; 1 if an account would get
    nothing in one of its languages."""
    text, whole = languages_text(settings, Catalogs(settings.paths.templates))
    print(text, end="")
    return 0 if whole else 1


def show(args: argparse.Namespace, settings: Settings) -> int:
    """``status``, ``review`` or ``freshness``: read the ledger, change nothing."""
    ledger = open_ledger(settings.database_url)
    with ledger() as session:  # never committed: accounts not yet counted are not recorded here
        if args.command == "freshness":
            now = system_clock()
            standings = account_standings(session, settings, now, dry_run=args.dry_run)
            print(standings_text(standings, settings, now), end="")
        elif args.command == "status":
            print(status_text(session, settings, system_clock()), end="")
            print(holds_text(session, settings, system_clock()), end="")
        else:
            waiting = queued(session)
            print(awaiting_text(waiting, settings), end="")
            print(review_text(waiting, settings), end="")
            print(late_text(late_deliveries(session, system_clock()), settings), end="")
    if args.command == "status":  # its own session: each one holds SQLite's write lock
        print(_rules_status(settings, ledger))
    return 0


def _rules_status(settings: Settings, ledger: sessionmaker[Session]) -> str:
    """The recurring posts: each rule's last firing and its post (or that it was missed)."""
    try:
        recurring = Recurring(settings, Renderer.from_settings(settings), ledger, system_clock)
    except InputError as exc:
        return f"\nRecurring posts cannot be read:\n{explain(exc)}"
    if not recurring.rules:
        return f"\nNo recurring posts ({settings.paths.schedules} has no rules)."
    with ledger() as session:
        lines = recurring.status_lines(session, system_clock())
    return "\n".join(["", f"Recurring posts ({settings.paths.schedules}):", *lines])


def reporting(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "metrics":
        return _collect_metrics(settings)
    if args.command == "roster":
        write(args.output, roster_html(settings) if args.format == "html" else roster_csv(settings))
        return 0
    now = system_clock()
    last = args.last or now.astimezone(settings.zone).date()
    first = args.first or last - timedelta(days=6)
    with open_ledger(settings.database_url)() as session:
        report = build_report(session, settings, first, last, now, args.unit)
    if args.email:
        credentials = Credentials(settings.credentials.file)
        redact_logs(credentials)
        message = send_report(report, settings, credentials)
        print(f"report {first} to {last} sent to {message['To']}")
    elif args.format == "json":
        write(args.output, json.dumps(as_dict(report), ensure_ascii=False, indent=2) + "\n")
    elif args.format == "html":
        write(args.output, render_report(report, settings.freshness.max_silence_days))
    else:
        write(args.output, report_csv(report))
    return 0


def _collect_metrics(settings: Settings) -> int:
    """One collection, as the daemon runs every ``[metrics] interval_minutes``; exit 1 if a
    platform failed, or an account with posts to measure has no working adapter."""
    credentials = Credentials(settings.credentials.file)
    redact_logs(credentials)
    adapters = MeasuringAdapters(settings, credentials, system_clock)
    done = collect(open_ledger(settings.database_url), adapters, settings.metrics, system_clock)
    print(credentials.redact(done.summary()))
    return 1 if done.failed or adapters.broken else 0


def check_accounts(settings: Settings) -> int:
    """Ask each account's platform whether its credentials work; exit 1 if any does not."""
    credentials = Credentials(settings.credentials.file)
    redact_logs(credentials)
    header = f"{'account':<36} {'valid':<6} {'expires':<17} detail"
    print(header)
    print("-" * len(header))
    failed = 0
    for _, account in settings.accounts():
        try:
            adapter = build(account, settings, credentials, dry_run=False, clock=system_clock)
            check = adapter.check()
        except PublisherError as exc:
            check = AccountCheck(valid=False, detail=str(exc))
        failed += not check.valid
        expires = (
            check.expires_at.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M")
            if check.expires_at
            else "-"
        )
        missing = (
            f" (missing: {', '.join(check.missing_permissions)})"
            if check.missing_permissions
            else ""
        )
        valid = "yes" if check.valid else "NO"
        line = f"{account.key:<36} {valid:<6} {expires:<17} {check.detail}{missing}"
        print(credentials.redact(line))
    return 1 if failed else 0
