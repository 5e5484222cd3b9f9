"""Shared fixtures: the example config in a temporary folder, a clock tests move by hand, a
helper that drops post files into the real queue folder the way a nodal officer would, and the
ledger's database (SQLite, or PostgreSQL for tests marked ``both_stores``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from publisher.config.settings import Settings, load_settings
from publisher.service.engine import Engine
from publisher.store.db import make_engine, upgrade
from tests.support.clock import FakeClock
from tests.support.files import REPO, Drop, touch
from tests.support.postgres import postgres_schema


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


STORES = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "both_stores: run once on SQLite and once on PostgreSQL (the database_url fixture)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_stores"
    ):
        metafunc.parametrize("database_url", STORES, indirect=True)


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """An empty PostgreSQL schema: no migration has run on it."""
    with postgres_schema() as url:
        yield url


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The ledger's URL: None for the config's default (SQLite in the state folder, which the
    engine creates); for PostgreSQL, a schema of the test's own that an administrator has
    brought up to date (``publisher db upgrade``: the engine does not do it there)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield None
        return
    with postgres_schema() as url:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture
def ledger_url(database_url: str | None, tmp_path: Path) -> str:
    """A URL to open a ledger at directly: the test's PostgreSQL schema, or a SQLite file."""
    return database_url or f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def config_path(tmp_path: Path, database_url: str | None) -> Path:
    """The repository's example config.toml, with its folders inside tmp_path (and its ledger at
    ``database_url`` when that is not the default)."""
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    text = text.replace('templates = "templates"', f'templates = "{REPO / "templates"}"')
    if database_url is not None:
        text = text.replace("[database]\n", f'[database]\nurl = "{database_url}"\n', 1)
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def settings(config_path: Path) -> Settings:
    return load_settings(config_path)


@pytest.fixture
def engine(settings: Settings, clock: FakeClock) -> Engine:
    return Engine(settings, dry_run=True, clock=clock).start()


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
