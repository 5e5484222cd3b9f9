"""The ``publisher`` command. Thin: parse arguments, call the engine, print, choose the exit status.

Errors a person can fix end as one clear message on stderr and exit status 1, never a traceback.

Only the module of the command that runs is imported (``_COMMANDS``): together the command
modules load SQLAlchemy's ORM, alembic, the ledger, the daemon and the platforms' SDKs, about half
a second that ``publisher --help`` and ``publisher validate`` need not wait for (issue 13;
``bench/startup.py`` times them). Building the parser imports none of them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from publisher.cli.parser import GOVERNANCE, parser
from publisher.errors import InputError, PublisherError

if TYPE_CHECKING:
    from publisher.config.settings import Settings

# Each command's function: (its module under publisher.cli, its name there), imported when the
# command runs. ``validate`` takes the config path and the files; the others take the settings.
_COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validating", "validate"),
    "run": ("running", "run"),
    "queue": ("running", "release_host"),
    "accounts": ("reading", "check_accounts"),
    "languages": ("reading", "languages"),
    "db": ("decisions", "database"),
    "resolve": ("decisions", "resolve_delivery"),
    "status": ("reading", "show"),
    "review": ("reading", "show"),
    "freshness": ("reading", "show"),
    **dict.fromkeys(GOVERNANCE, ("decisions", "govern")),
    **dict.fromkeys(("metrics", "report", "roster"), ("reading", "reporting")),
}
# How the functions that do not take (args, settings) are called (the others: ``_with_args``).
_CALLS: dict[str, Callable[[Callable[..., int], argparse.Namespace, Settings], int]] = {
    "run": lambda f, a, s: f(a.config, s, host=a.host, dry_run=a.dry_run, once=a.once),
    "queue": lambda f, a, s: f(s, a.host),
    "accounts": lambda f, _, s: f(s),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format=_cli("output").LOG_FORMAT,
        stream=sys.stderr,
    )
    if not args.verbose:  # their INFO lines (APScheduler: two per tick) would bury the events
        for chatty in ("alembic", "apscheduler"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        return _command(args)
    except (PublisherError, OSError) as exc:
        print(_one_sentence(exc), file=sys.stderr)
        return 1
    except Exception as exc:
        if not _is_sqlalchemy_error(exc):
            raise
        print(_one_sentence(exc), file=sys.stderr)
        return 1


def _command(args: argparse.Namespace) -> int:
    module, name = _COMMANDS[args.command]
    if args.command == "validate":
        validate: Callable[..., int] = getattr(_cli(module), name)
        return validate(args.config, args.paths, args.unit)
    registry = importlib.import_module("publisher.adapters.registry")
    settings: Settings = registry.load_config(args.config)
    function: Callable[..., int] = getattr(_cli(module), name)
    return _CALLS.get(args.command, _with_args)(function, args, settings)


def _with_args(function: Callable[..., int], args: argparse.Namespace, settings: Settings) -> int:
    return function(args, settings)


def _cli(module: str) -> Any:
    """``publisher.cli.<module>``, imported at its first use (importlib: a function-level import
    statement is refused by ruff's PLC0415 in publisher/)."""
    return importlib.import_module(f"{__name__}.{module}")


def _is_sqlalchemy_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a ``sqlalchemy.exc.SQLAlchemyError``. Importing that module imports all
    of SQLAlchemy (0.13 s), so it is looked up only where loaded: if it is not, nothing could
    have raised one."""
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.SQLAlchemyError)


def _one_sentence(exc: Exception) -> str:
    """What the person at the terminal needs, without a traceback."""
    if isinstance(exc, InputError):
        explain: Callable[[InputError], str] = _cli("output").explain
        return explain(exc)
    if isinstance(exc, OSError):
        return f"publisher: {exc.filename or ''}: {exc.strerror or exc}"
    if _is_sqlalchemy_error(exc):
        return f"publisher: the ledger cannot be used: {exc.__cause__ or exc}"
    return f"publisher: {exc}"
