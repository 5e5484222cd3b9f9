"""The ``publisher`` command. Thin: parse arguments, call the engine, print, choose the exit status.

Errors a person can fix end as one clear message on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import fcntl
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import selectinload

from publisher.adapters import adapter_classes, build
from publisher.adapters.base import AccountCheck
from publisher.clock import system_clock
from publisher.config import Settings, load_settings
from publisher.credentials import Credentials, RedactingFormatter
from publisher.daemon import Daemon
from publisher.engine import Engine
from publisher.errors import InputError, NoAdapterError, PublisherError
from publisher.freshness import account_standings, standings_text
from publisher.plan import plan
from publisher.postfile import parse_post
from publisher.render import Renderer
from publisher.review import parts_lines, queued, review_text, status_text
from publisher.store.db import open_ledger
from publisher.store.ledger import resolve
from publisher.store.models import Delivery
from publisher.tomlfile import parse_toml

CONFIG_ENV = "PUBLISHER_CONFIG"
_LOCKS: list[IO[str]] = []  # held open until the process ends
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"  # one line per event; journald adds the time


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
        "validate", help="check post files or a config file; changes nothing"
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
    freshness = commands.add_parser(
        "freshness", help="per account: days since its last content, and its deadline"
    )
    freshness.add_argument(
        "--dry-run",
        action="store_true",
        help="count dry-run deliveries as content, as a rehearsal does",
    )
    return parser


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
    if args.command == "run":
        return _run(args.config, settings, dry_run=args.dry_run, once=args.once)
    if args.command == "accounts":
        return _check_accounts(settings)
    if args.command == "resolve":
        with open_ledger(settings.database_url).begin() as session:
            delivery = resolve(
                session,
                args.delivery,
                published=args.outcome == "sent",
                who=getpass.getuser(),
                reason=args.reason,
                now=system_clock(),
                remote_id=args.remote_id,
            )
            print(f"delivery {delivery.id} to {delivery.account} is now {delivery.status}")
        return 0
    ledger = open_ledger(settings.database_url)
    with ledger() as session:  # never committed: accounts not yet counted are not recorded here
        if args.command == "freshness":
            now = system_clock()
            standings = account_standings(session, settings, now, dry_run=args.dry_run)
            print(standings_text(standings, settings, now), end="")
        elif args.command == "status":
            print(status_text(session, settings, system_clock()), end="")
        else:
            print(review_text(queued(session), settings), end="")
    return 0


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
        if sent:
            print(review_text(sent, settings))
        print(f"{len(waiting)} deliveries scheduled for later.\n")
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
    """Check each file; a config is recognised by its [organisation] table."""
    failed = 0
    settings: Settings | None = None
    for path in paths:
        try:
            raw = path.read_bytes()
            if "organisation" in parse_toml(raw.decode("utf-8", "replace"), str(path), InputError):
                load_settings(path)
                print(f"{path}: a valid config")
                continue
            settings = settings or load_settings(config_path)
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
