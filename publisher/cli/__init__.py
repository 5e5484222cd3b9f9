"""The ``publisher`` command. Thin: parse arguments, call the engine, print, choose the exit status.

Errors a person can fix end as one clear message on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from sqlalchemy.exc import SQLAlchemyError

from publisher.adapters.registry import load_config
from publisher.cli.decisions import database, govern, resolve_delivery
from publisher.cli.output import LOG_FORMAT, explain
from publisher.cli.parser import GOVERNANCE, parser
from publisher.cli.reading import check_accounts, reporting, show
from publisher.cli.running import release_host, run
from publisher.cli.validating import validate
from publisher.config.settings import Settings
from publisher.errors import InputError, PublisherError


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format=LOG_FORMAT,
        stream=sys.stderr,
    )
    if not args.verbose:  # their INFO lines (APScheduler: two per tick) would bury the events
        for chatty in ("alembic", "apscheduler"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        return _command(args)
    except (PublisherError, OSError, SQLAlchemyError) as exc:
        print(_one_sentence(exc), file=sys.stderr)
        return 1


def _command(args: argparse.Namespace) -> int:
    if args.command == "validate":
        return validate(args.config, args.paths, args.unit)
    settings = load_config(args.config)
    handlers: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
        "run": lambda a, s: run(a.config, s, host=a.host, dry_run=a.dry_run, once=a.once),
        "queue": lambda a, s: release_host(s, a.host),
        "accounts": lambda _, s: check_accounts(s),
        "db": database,
        "resolve": resolve_delivery,
        "status": show,
        "review": show,
        "freshness": show,
        **dict.fromkeys(GOVERNANCE, govern),
        **dict.fromkeys(("metrics", "report", "roster"), reporting),
    }
    return handlers[args.command](args, settings)


def _one_sentence(exc: Exception) -> str:
    """What the person at the terminal needs, without a traceback."""
    if isinstance(exc, InputError):
        return explain(exc)
    if isinstance(exc, OSError):
        return f"publisher: {exc.filename or ''}: {exc.strerror or exc}"
    if isinstance(exc, SQLAlchemyError):
        return f"publisher: the ledger cannot be used: {exc.__cause__ or exc}"
    return f"publisher: {exc}"
