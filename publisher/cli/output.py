"""What several commands print the same way, and the log lines' format with secrets masked."""

from __future__ import annotations

import logging
from pathlib import Path

from publisher.config.credentials import Credentials, RedactingFormatter
from publisher.errors import InputError

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"  # one line per event; journald adds the time


def redact_logs(credentials: Credentials) -> None:
    """Mask every secret these credentials load in every log line, from now on."""
    for handler in logging.getLogger().handlers:
        handler.setFormatter(RedactingFormatter(LOG_FORMAT, credentials))


def explain(exc: InputError) -> str:
    lines = [f"publisher: {exc.path} has {len(exc.problems)} problem(s):"]
    lines += [f"  - {p}" for p in exc.problems]
    return "\n".join(lines)


def write(output: Path | None, text: str) -> None:
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")
