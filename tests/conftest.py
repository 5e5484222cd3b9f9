"""Shared fixtures: the example config in a temporary folder, a clock tests move by hand, a
helper that drops post files into the real queue folder the way a nodal officer would, and the
ledger's database (SQLite, or PostgreSQL for tests marked ``both_stores``)."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from publisher.config.settings import Settings, load_settings
from publisher.service.engine import Engine
from publisher.store.db import make_engine, upgrade
from tests.support.clock import FakeClock
from tests.support.files import REPO, Drop, touch


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"  # trust auth, as on the CI machine
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


@functools.cache
def postgres_unreachable() -> str | None:
    """Why the test PostgreSQL cannot be used, or None when it can."""
    try:
        psycopg.connect(POSTGRES.replace("+psycopg", ""), connect_timeout=3).close()
    except psycopg.Error as error:
        return f"no PostgreSQL at 127.0.0.1:5432 (user postgres, database test): {error}"
    return None


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(POSTGRES.replace("+psycopg", ""), autocommit=True)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL to an empty PostgreSQL schema of the caller's own (its connections named after it),
    dropped after. Skips when none is reachable, unless PUBLISHER_REQUIRE_POSTGRES=1 (CI), where
    its absence is a failure."""
    reason = postgres_unreachable()
    if reason is not None:
        if os.environ.get("PUBLISHER_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}; PUBLISHER_REQUIRE_POSTGRES=1 requires it")
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with _admin() as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield f"{POSTGRES}?application_name={schema}&options=-csearch_path%3D{schema}"
    finally:
        with _admin() as admin:
            # Connections a test's engines still pool would hold the schema's locks.
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (schema,),
            )
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


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
