"""The arguments of every command: what a person can type, and the help each shows."""

from __future__ import annotations

import argparse
import os
from datetime import date
from pathlib import Path
from typing import Any

from publisher.errors import PublisherError
from publisher.intake.hosts import checked_host, this_host

CONFIG_ENV = "PUBLISHER_CONFIG"


WHY = "why: kept in the audit log with your name"


GOVERNANCE = ("pause", "resume", "pauses", "approve", "retry", "cancel", "audit")


def parser() -> argparse.ArgumentParser:
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
    run.add_argument(
        "--host",
        type=_host,
        default=this_host(),
        help="the name this daemon takes queue files under, its own among the daemons sharing "
        "the queue folder (default: this machine's name)",
    )
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
    commands.add_parser(
        "languages",
        help="translations per language and template; exit 1 if an account would get nothing "
        "in one of its languages",
    )
    queue = commands.add_parser("queue", help="the queue folder").add_subparsers(
        dest="queue", required=True
    )
    release_host = queue.add_parser(
        "release",
        help="put back the files a host that is gone for good left in processing/HOST/, for the "
        "other hosts to take (refused while that host runs on this machine)",
    )
    release_host.add_argument("host", type=_host, help="the --host it ran as")
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
    """Operators' and reviewers' decisions (publisher.oversight.controls) and the audit log."""
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


def _host(text: str) -> str:
    try:
        return checked_host(text)
    except PublisherError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        msg = f"'{text}' is not a date; write it as YYYY-MM-DD, e.g. 2026-11-23"
        raise argparse.ArgumentTypeError(msg) from None
