"""What several commands print the same way, and the log lines' format with secrets masked."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from publisher.config.credentials import Credentials, RedactingFormatter
from publisher.config.settings import Settings
from publisher.errors import InputError
from publisher.oversight.review import review_text
from publisher.store.models import Delivery

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"  # one line per event; journald adds the time


def redact_logs(credentials: Credentials) -> None:
    """Mask every secret these credentials load in every log line, from now on."""
    for handler in logging.getLogger().handlers:
        handler.setFormatter(RedactingFormatter(LOG_FORMAT, credentials))


def explain(exc: InputError) -> str:
    lines = [f"publisher: {exc.path} has {len(exc.problems)} problem(s):"]
    lines += [f"  - {p}" for p in exc.problems]
    return "\n".join(lines)


def print_late(late: Sequence[Delivery], settings: Settings) -> None:
    if late:
        hours = settings.dispatch.late_after_hours
        print(
            f"{len(late)} deliveries were late (due more than {hours:g} hours before the engine "
            "could send them) and were NOT sent:\n"
        )
        print(review_text(late, settings), end="")


def write(output: Path | None, text: str) -> None:
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")
