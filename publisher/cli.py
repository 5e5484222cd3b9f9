"""The ``publisher`` command. Thin: parse arguments, call the engine, print, choose the exit status.

Errors a person can fix end as one clear message on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from itertools import islice
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from publisher import controls
from publisher.adapters import adapter_classes, build
from publisher.adapters.base import AccountCheck
from publisher.amplify import amplify_plan
from publisher.clock import system_clock
from publisher.config import Settings, load_settings
from publisher.controls import Scope, holds_text, operator
from publisher.credentials import Credentials, RedactingFormatter
from publisher.daemon import Daemon
from publisher.engine import Engine
from publisher.errors import InputError, NoAdapterError, PublisherError
from publisher.freshness import account_standings, standings_text
from publisher.metrics import MeasuringAdapters, collect
from publisher.plan import plan
from publisher.postfile import parse_post
from publisher.receipts import local
from publisher.recurring import Recurring
from publisher.render import Renderer
from publisher.report import build_report
from publisher.report_export import as_dict, report_csv
from publisher.report_html import render_report
from publisher.review import (
    awaiting_text,
    late_deliveries,
    parts_lines,
    queued,
    review_text,
    status_text,
)
from publisher.roster import roster_csv, roster_html
from publisher.schedulefile import parse_schedule, preview
from publisher.store import audit
from publisher.store.db import current, head, make_engine, open_ledger, upgrade
from publisher.store.ledger import resolve
from publisher.store.models import Delivery
from publisher.tomlfile import parse_toml
from publisher.weekly import send_report

CONFIG_ENV = "PUBLISHER_CONFIG"
_LOCKS: list[IO[str]] = []  # held open until the process ends
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"  # one line per event; journald adds the time
WHY = "why: kept in the audit log with your name"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="publisher", description="Scheduled multi-platform publishing for social-media cells."
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path(os.environ.get(CONFIG_ENV, "config.toml")),
        help=f"config file (default: ${CONFIG_ENV}, else ./config.toml)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="take post files from the queue and publish what is due")
    run.add_argument("--dry-run", action="store_true", help="record and show, never send")
    run.add_argument("--once", action="store_true", help="one pass, then exit")
    validate = commands.add_parser(
        "validate", help="check post files, schedule files or a config file; changes nothing"
    )
    validate.add_argument("paths", nargs="+", type=Path)
    validate.add_argument(
        "--unit", help="the unit a post file is for (default: the folder it is in)"
    )
    commands.add_parser("status", help="per account: last delivery, pending, failed")
    resolve = commands.add_parser(
        "resolve", help="decide an uncertain delivery: is it on the platform or not"
    )
    resolve.add_argument("delivery", type=int, help="the delivery's number (# in review)")
    resolve.add_argument("--as", dest="outcome", choices=["sent", "unsent"], required=True)
    resolve.add_argument("--reason", required=True, help="why: kept with the delivery")
    resolve.add_argument("--remote-id", help="with --as sent: the post's id on the platform")
    accounts = commands.add_parser("accounts", help="the configured accounts")
    accounts.add_argument("action", choices=["check"], help="check: are the credentials valid")
    commands.add_parser("review", help="what is queued and not yet sent, with the exact text")
    _governance_commands(commands)
    _report_commands(commands)
    freshness = commands.add_parser(
        "freshness", help="per account: days since its last content, and its deadline"
    )
    freshness.add_argument(
        "--dry-run",
        action="store_true",
        help="count dry-run deliveries as content, as a rehearsal does",
    )
    return parser


def _governance_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Operators' and reviewers' decisions (publisher.controls) and the audit log."""
    for name, text in (
        ("pause", "stop sending: everything, or one unit and/or platform"),
        ("resume", "end a pause: what it held goes out, urgent first"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--unit", help="only this unit's accounts (default: all units)")
        command.add_argument("--platform", help="only this platform (default: all platforms)")
        command.add_argument("--reason", required=True, help=WHY)
    database = commands.add_parser("db", help="the ledger's schema").add_subparsers(
        dest="db", required=True
    )
    database.add_parser("upgrade", help="bring the schema to this version's (once, one host)")
    database.add_parser("current", help="the schema's revision; exit 1 if it is not this version's")
    commands.add_parser("pauses", help="what is paused or blacked out now, and upcoming blackouts")
    approve = commands.add_parser("approve", help="release a post awaiting approval")
    approve.add_argument("post", type=int, help="the post's number (shown by review)")
    approve.add_argument("--reason", required=True, help=WHY)
    retry = commands.add_parser("retry", help="send a failed delivery again, now")
    retry.add_argument("delivery", type=int, help="the delivery's number (# in review)")
    retry.add_argument("--reason", required=True, help=WHY)
    cancel = commands.add_parser("cancel", help="withdraw a post or a delivery not yet sent")
    target = cancel.add_mutually_exclusive_group(required=True)
    target.add_argument("--post", type=int, help="every delivery of this post not yet sent")
    target.add_argument("--delivery", type=int, help="this one delivery")
    cancel.add_argument("--reason", required=True, help=WHY)
    audits = commands.add_parser("audit", help="the hash-chained audit log").add_subparsers(
        dest="audit", required=True
    )
    audits.add_parser("verify", help="prove the chain is intact; exit 1 naming the first break")
    export = audits.add_parser("export", help="write the rows between two dates")
    export.add_argument(
        "--from",
        dest="start",
        type=date.fromisoformat,
        required=True,
        help="first day, YYYY-MM-DD (local)",
    )
    export.add_argument(
        "--to",
        dest="end",
        type=date.fromisoformat,
        required=True,
        help="last day, YYYY-MM-DD (local), included",
    )
    export.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    export.add_argument("--output", type=Path, help="a file (default: standard output)")


def _report_commands(commands: Any) -> None:
    metrics = commands.add_parser("metrics", help="likes, shares, comments of published posts")
    metrics.add_argument("action", choices=["collect"], help="collect: one collection now")
    report = commands.add_parser(
        "report", help="per unit and account: posts, silences, tags, KPIs, failures"
    )
    report.add_argument("--from", dest="first", type=_date, help="first local day (YYYY-MM-DD)")
    report.add_argument("--to", dest="last", type=_date, help="last local day (default: today)")
    report.add_argument("--unit", help="one unit only")
    report.add_argument("--format", choices=["csv", "json", "html"], default="csv")
    report.add_argument("--output", type=Path, help="write to this file instead of stdout")
    report.add_argument(
        "--email",
        action="store_true",
        help="mail the HTML report to [reports] weekly's recipients instead",
    )
    roster = commands.add_parser("roster", help="nodal officers and their accounts, per unit")
    roster.add_argument("--format", choices=["csv", "html"], default="csv")
    roster.add_argument("--output", type=Path, help="write to this file instead of stdout")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        msg = f"'{text}' is not a date; write it as YYYY-MM-DD, e.g. 2026-11-23"
        raise argparse.ArgumentTypeError(msg) from None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format=LOG_FORMAT,
        stream=sys.stderr,
    )
    if not args.verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        return _command(args)
    except (PublisherError, OSError, SQLAlchemyError) as exc:
        print(_one_sentence(exc), file=sys.stderr)
        return 1


def _command(args: argparse.Namespace) -> int:
    if args.command == "validate":
        return _validate(args.config, args.paths, args.unit)
    settings = load_settings(args.config)
    handlers: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
        "run": lambda a, s: _run(a.config, s, dry_run=a.dry_run, once=a.once),
        "accounts": lambda _, s: _check_accounts(s),
        "db": _database,
        "resolve": _resolve,
        "status": _show,
        "review": _show,
        "freshness": _show,
        **dict.fromkeys(GOVERNANCE, _govern),
        **dict.fromkeys(("metrics", "report", "roster"), _reporting),
    }
    return handlers[args.command](args, settings)


def _database(args: argparse.Namespace, settings: Settings) -> int:
    """``db upgrade`` and ``db current``: the administrator's hold on the schema (PostgreSQL is
    never upgraded by a daemon; SQLite is, at start, and may be upgraded here as well)."""
    engine = make_engine(settings.database_url)
    where = engine.url.render_as_string(hide_password=True)
    before, wanted = current(engine), head()
    if args.db == "upgrade":
        upgrade(engine)
        print(f"the ledger at {where} is at schema revision {wanted} (was {before or 'empty'})")
        return 0
    if before == wanted:
        print(f"the ledger at {where} is at schema revision {before}, this version's")
        return 0
    print(
        f"the ledger at {where} is at schema revision {before or 'none (empty)'}; this version "
        f"needs {wanted}: run publisher db upgrade"
    )
    return 1


def _resolve(args: argparse.Namespace, settings: Settings) -> int:
    with open_ledger(settings.database_url).begin() as session:
        delivery = resolve(
            session,
            args.delivery,
            published=args.outcome == "sent",
            who=operator(),
            reason=args.reason,
            now=system_clock(),
            remote_id=args.remote_id,
            amplify=amplify_plan(settings),
        )
        print(f"delivery {delivery.id} to {delivery.account} is now {delivery.status}")
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
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
            _print_late(late_deliveries(session, system_clock()), settings)
    if args.command == "status":  # its own session: each one holds SQLite's write lock
        print(_rules_status(settings, ledger))
    return 0


GOVERNANCE = ("pause", "resume", "pauses", "approve", "retry", "cancel", "audit")


def _govern(args: argparse.Namespace, settings: Settings) -> int:
    """The commands of publisher.controls and the audit log; each decision in one transaction."""
    ledger = open_ledger(settings.database_url)
    if args.command == "audit":
        return _audit(args, settings, ledger)
    if args.command == "pauses":
        with ledger() as session:
            print(holds_text(session, settings, system_clock()), end="")
        return 0
    now, who = system_clock(), operator()
    with ledger.begin() as session:
        if args.command in ("pause", "resume"):
            scope = Scope.checked(settings, args.unit, args.platform)
            act = controls.pause if args.command == "pause" else controls.resume
            act(session, scope, reason=args.reason, who=who, now=now)
            print(f"{scope}: {args.command}d by {who}")
        elif args.command == "approve":
            released = controls.approve(session, args.post, reason=args.reason, who=who, now=now)
            print(f"post {args.post} approved by {who}: {len(released)} deliveries released")
        elif args.command == "retry":
            delivery = controls.retry(session, args.delivery, reason=args.reason, who=who, now=now)
            print(f"delivery {delivery.id} to {delivery.account} will be sent again at once")
        elif args.delivery is not None:
            controls.cancel_delivery(session, args.delivery, reason=args.reason, who=who, now=now)
            print(f"delivery {args.delivery} cancelled by {who}")
        else:
            gone = controls.cancel_post(session, args.post, reason=args.reason, who=who, now=now)
            print(f"post {args.post}: {len(gone)} deliveries cancelled by {who}")
    return 0


def _audit(args: argparse.Namespace, settings: Settings, ledger: sessionmaker[Session]) -> int:
    if args.audit == "verify":
        verdict = audit.verify(ledger)
        if verdict.problem is not None:
            print(
                f"publisher: the audit log is broken at row {verdict.broken_row}: "
                f"{verdict.problem}",
                file=sys.stderr,
            )
            return 1
        print(
            f"the audit log is intact: {verdict.rows} rows; the last, row "
            f"{verdict.head_id}, has the hash {verdict.head_hash}"
        )
        return 0
    if args.end < args.start:
        msg = f"--to {args.end} is before --from {args.start}; give the first day first"
        raise PublisherError(msg)
    with ledger() as session:
        zone = settings.zone
        start = datetime.combine(args.start, time(), zone)
        end = datetime.combine(args.end + timedelta(days=1), time(), zone)
        rows = audit.between(session, start, end)
        if args.output is None:
            audit.write_export(rows, sys.stdout, args.format)
            return 0
        with args.output.open("w", encoding="utf-8", newline="") as out:
            count = audit.write_export(rows, out, args.format)
        print(f"{count} audit rows from {args.start} to {args.end} written to {args.output}")
    return 0


def _rules_status(settings: Settings, ledger: sessionmaker[Session]) -> str:
    """The recurring posts: each rule's last firing and its post (or that it was missed)."""
    try:
        recurring = Recurring(settings, Renderer.from_settings(settings), ledger, system_clock)
    except InputError as exc:
        return f"\nRecurring posts cannot be read:\n{_explain(exc)}"
    if not recurring.rules:
        return f"\nNo recurring posts ({settings.paths.schedules} has no rules)."
    with ledger() as session:
        lines = recurring.status_lines(session, system_clock())
    return "\n".join(["", f"Recurring posts ({settings.paths.schedules}):", *lines])


def _print_late(late: Sequence[Delivery], settings: Settings) -> None:
    if late:
        hours = settings.dispatch.late_after_hours
        print(
            f"{len(late)} deliveries were late (due more than {hours:g} hours before the engine "
            "could send them) and were NOT sent:\n"
        )
        print(review_text(late, settings), end="")


def _one_sentence(exc: Exception) -> str:
    """What the person at the terminal needs, without a traceback."""
    if isinstance(exc, InputError):
        return _explain(exc)
    if isinstance(exc, OSError):
        return f"publisher: {exc.filename or ''}: {exc.strerror or exc}"
    if isinstance(exc, SQLAlchemyError):
        return f"publisher: the ledger cannot be used: {exc.__cause__ or exc}"
    return f"publisher: {exc}"


def _explain(exc: InputError) -> str:
    lines = [f"publisher: {exc.path} has {len(exc.problems)} problem(s):"]
    lines += [f"  - {p}" for p in exc.problems]
    return "\n".join(lines)


def _run(config: Path, settings: Settings, *, dry_run: bool, once: bool) -> int:
    _lock(settings.paths.state)
    engine = _engine(settings, dry_run)
    if not once:
        Daemon(engine, reload=lambda: _engine(load_settings(config), dry_run)).run()
        return 0
    tick = engine.run_once()
    ids = [c.delivery_id for c in tick.sent]
    with engine.ledger() as session:
        sent = session.scalars(
            select(Delivery).where(Delivery.id.in_(ids)).options(selectinload(Delivery.post))
        ).all()
        waiting = queued(session)
        verb = "recorded as dry-run (nothing was sent)" if dry_run else "sent"
        print(f"{len(tick.taken)} post file(s) taken; {len(sent)} deliveries {verb}.\n")
        if tick.created:
            print(f"{len(tick.created)} recurring post(s) created from their rules.\n")
        late = [d.delivery_id for d in tick.late]
        _print_late(session.scalars(select(Delivery).where(Delivery.id.in_(late))).all(), settings)
        if sent:
            print(review_text(sent, settings))
        print(f"{len(waiting)} deliveries scheduled for later.\n")
        print(awaiting_text(waiting, settings), end="")
        if waiting:
            print(review_text(waiting, settings))
    return 0


def _lock(state: Path) -> None:
    """One ``publisher run`` per state folder: a second would put back the first one's files in
    processing/ and send beside it. The lock lasts as long as the process."""
    state.mkdir(parents=True, exist_ok=True)
    handle = (state / "run.lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        msg = f"another 'publisher run' is already using {state}; stop it first"
        raise PublisherError(msg) from None
    _LOCKS.append(handle)


def _engine(settings: Settings, dry_run: bool) -> Engine:
    engine = Engine(settings, dry_run=dry_run, clock=system_clock)
    _redact_logs(engine.credentials)
    return engine


def _redact_logs(credentials: Credentials) -> None:
    """Mask every secret these credentials load in every log line, from now on."""
    for handler in logging.getLogger().handlers:
        handler.setFormatter(RedactingFormatter(LOG_FORMAT, credentials))


def _validate(config_path: Path, paths: Sequence[Path], unit: str | None) -> int:
    """Check each file; a config is recognised by its [organisation] table, a schedule file by
    its cron key or by lying in the schedules folder."""
    failed = 0
    settings: Settings | None = None
    for path in paths:
        try:
            raw = path.read_bytes()
            data = parse_toml(raw.decode("utf-8", "replace"), str(path), InputError)
            if "organisation" in data:
                load_settings(path)
                print(f"{path}: a valid config")
                continue
            settings = settings or load_settings(config_path)
            if "cron" in data or path.resolve().parent == settings.paths.schedules.resolve():
                _preview_schedule(settings, path)
                continue
            _preview(settings, path, raw, unit or path.resolve().parent.name)
        except InputError as exc:
            failed += 1
            print(_explain(exc))
        except PublisherError as exc:
            failed += 1
            print(f"publisher: {exc}")
        except OSError as exc:
            failed += 1
            print(f"publisher: {path}: {exc.strerror}")
    return 1 if failed else 0


def _preview(settings: Settings, path: Path, raw: bytes, unit: str) -> None:
    if unit not in settings.units:
        msg = f"{path}: say which unit it is for with --unit (one of: {', '.join(settings.units)})"
        raise PublisherError(msg)
    now = system_clock()
    request = parse_post(
        raw, unit, path.name, settings.zone, now, timedelta(hours=settings.intake.max_past_hours)
    )
    renderer = Renderer.from_settings(settings)
    planned = plan(request, settings, renderer)
    print(f"{path}: valid, {len(planned)} deliveries for unit {unit}:")
    for d in planned:
        print(f"  {d.account.key} ({d.locale})")
        print("\n".join(parts_lines(d.parts, d.notes, indent="    ")))


def _preview_schedule(settings: Settings, path: Path, firings: int = 5) -> None:
    """A schedule file checked, its next firings, and the deliveries of the first of them."""
    renderer = Renderer.from_settings(settings)
    now = system_clock()
    rule = parse_schedule(path, settings, renderer, now)
    upcoming = list(islice(rule.firings(now), firings))
    planned = preview(rule, upcoming[0], settings, renderer)
    zone = settings.organisation.timezone
    print(f"{path}: valid, rule '{rule.name}' for unit {rule.unit}, cron '{rule.cron}' ({zone}).")
    print("Next firings:")
    print("\n".join(f"  {local(w, settings.zone)}  ({w:%Y-%m-%d %H:%M} UTC)" for w in upcoming))
    print(f"Each makes {len(planned)} deliveries:")
    for d in planned:
        print(f"  {d.account.key} ({d.locale})")
        print("\n".join(parts_lines(d.parts, d.notes, indent="    ")))


def _check_accounts(settings: Settings) -> int:
    """Ask each account's platform whether its credentials work; exit 1 if any does not."""
    credentials = Credentials(settings.credentials.file)
    _redact_logs(credentials)
    classes = adapter_classes()
    header = f"{'account':<36} {'valid':<6} {'expires':<17} detail"
    print(header)
    print("-" * len(header))
    failed = 0
    for _, account in settings.accounts():
        try:
            if account.platform not in classes:
                raise NoAdapterError(f"no adapter is installed for {account.platform}")
            adapter = build(
                account, settings, credentials, classes, dry_run=False, clock=system_clock
            )
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


def _reporting(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "metrics":
        return _collect_metrics(settings)
    if args.command == "roster":
        _write(
            args.output, roster_html(settings) if args.format == "html" else roster_csv(settings)
        )
        return 0
    now = system_clock()
    last = args.last or now.astimezone(settings.zone).date()
    first = args.first or last - timedelta(days=6)
    with open_ledger(settings.database_url)() as session:
        report = build_report(session, settings, first, last, now, args.unit)
    if args.email:
        credentials = Credentials(settings.credentials.file)
        _redact_logs(credentials)
        message = send_report(report, settings, credentials)
        print(f"report {first} to {last} sent to {message['To']}")
    elif args.format == "json":
        _write(args.output, json.dumps(as_dict(report), ensure_ascii=False, indent=2) + "\n")
    elif args.format == "html":
        _write(args.output, render_report(report, settings.freshness.max_silence_days))
    else:
        _write(args.output, report_csv(report))
    return 0


def _collect_metrics(settings: Settings) -> int:
    """One collection, as the daemon runs every ``[metrics] interval_minutes``; exit 1 if a
    platform failed, or an account with posts to measure has no working adapter."""
    credentials = Credentials(settings.credentials.file)
    _redact_logs(credentials)
    adapters = MeasuringAdapters(settings, credentials, system_clock)
    done = collect(open_ledger(settings.database_url), adapters, settings.metrics, system_clock)
    print(credentials.redact(done.summary()))
    return 1 if done.failed or adapters.broken else 0


def _write(output: Path | None, text: str) -> None:
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")
