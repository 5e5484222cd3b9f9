"""The repository's files, and post files dropped into a real queue folder as a nodal officer
would."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def touch(path: Path, when: datetime) -> None:
    """Set the file's mtime on the test clock, as if its writer had written it then."""
    os.utime(path, (when.timestamp(), when.timestamp()))


Drop = Callable[..., Path]
