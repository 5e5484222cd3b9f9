"""Shared fixtures: the example config in a temporary folder, a clock tests move by hand, and a
helper that drops post files into the real queue folder the way a nodal officer would."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from publisher.config import Settings, load_settings
from publisher.engine import Engine

REPO = Path(__file__).resolve().parent.parent


class FakeClock:
    """Starts at the real time (file mtimes are real) and moves only when a test says so."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """The repository's example config.toml, with its folders inside tmp_path."""
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    text = text.replace('templates = "templates"', f'templates = "{REPO / "templates"}"')
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def settings(config_path: Path) -> Settings:
    return load_settings(config_path)


@pytest.fixture
def engine(settings: Settings, clock: FakeClock) -> Engine:
    return Engine(settings, dry_run=True, clock=clock)


Drop = Callable[..., Path]


def touch(path: Path, when: datetime) -> None:
    """Set the file's mtime on the test clock, as if its writer had written it then."""
    os.utime(path, (when.timestamp(), when.timestamp()))


@pytest.fixture
def drop(settings: Settings, clock: FakeClock) -> Drop:
    """Write a file into a unit's queue folder; by default old enough to count as settled."""

    def write(unit: str, name: str, content: str | bytes, *, settled: bool = True) -> Path:
        path = settings.paths.queue / unit / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        touch(path, clock() - timedelta(minutes=1) if settled else clock())
        return path

    return write
