"""`publisher db upgrade` and `db current`, and commands refusing a schema older than the code:
on PostgreSQL (shared by several hosts) only an administrator upgrades; SQLite (one server)
is upgraded by whichever command opens it first. Real processes, as an administrator runs them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from publisher.store.db import current, head, make_engine, upgrade
from tests.support.processes import publisher


def at(config_path: Path, url: str) -> Path:
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace("[database]\n", f'[database]\nurl = "{url}"\n', 1))
    return config_path


def test_an_empty_postgresql_is_created_by_db_upgrade_and_nothing_starts_before(
    config_path: Path, empty_postgres: str
) -> None:
    config = at(config_path, empty_postgres)
    before = publisher("db", "current", config=config)
    assert before.returncode == 1
    assert f"none (empty); this version needs {head()}: run publisher db upgrade" in before.stdout
    for command in (("run", "--once", "--dry-run"), ("status",), ("pauses",)):
        refused = publisher(*command, config=config)
        assert refused.returncode == 1, command
        assert "has no schema yet; create it with: publisher db upgrade" in refused.stderr
        assert "Traceback" not in refused.stderr
    assert current(make_engine(empty_postgres)) is None  # nothing was created behind its back

    done = publisher("db", "upgrade", config=config)
    assert done.returncode == 0, done.stderr
    assert f"is at schema revision {head()} (was empty)" in done.stdout
    now = publisher("db", "current", config=config)
    assert now.returncode == 0
    assert f"is at schema revision {head()}, this version's" in now.stdout
    status = publisher("status", config=config)
    assert status.returncode == 0, status.stderr


def test_the_daemon_refuses_an_older_postgresql_schema_naming_the_command(
    config_path: Path, empty_postgres: str
) -> None:
    engine = make_engine(empty_postgres)
    upgrade(engine, "0009")  # as left by the previous version of publisher
    config = at(config_path, empty_postgres)
    refused = publisher("run", "--once", "--dry-run", config=config)
    assert refused.returncode == 1
    assert (
        f"is at schema revision 0009 and this publisher needs {head()}; stop every daemon, "
        "run: publisher db upgrade"
    ) in refused.stderr
    assert "postgres@127.0.0.1" in refused.stderr  # which database, without any password
    assert current(engine) == "0009"

    done = publisher("db", "upgrade", config=config)
    assert done.returncode == 0, done.stderr
    assert f"is at schema revision {head()} (was 0009)" in done.stdout
    started = publisher("run", "--once", "--dry-run", config=config)
    assert started.returncode == 0, started.stderr

    with engine.begin() as connection:  # as a newer version on another host would leave it
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    for command in (["status"], ["db", "upgrade"]):  # an upgrade cannot go backwards either
        newer = publisher(*command, config=config)
        assert newer.returncode == 1
        assert (
            f"is at schema revision 0099, newer than this publisher knows ({head()}); install "
            "the version the other hosts run"
        ) in newer.stderr
        assert "Traceback" not in newer.stderr
    engine.dispose()


def test_sqlite_is_brought_up_to_date_by_the_first_command_that_opens_it(
    config_path: Path, tmp_path: Path
) -> None:
    """The embedded default: a newcomer's first command creates the ledger, and a newer
    version of publisher upgrades it at its first start, with nothing to run by hand."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    config = at(config_path, url)
    upgrade(make_engine(url), "0009")
    old = publisher("db", "current", config=config)
    assert old.returncode == 1
    assert f"at schema revision 0009; this version needs {head()}" in old.stdout
    assert publisher("status", config=config).returncode == 0
    assert current(make_engine(url)) == head()
    again = publisher("db", "upgrade", config=config)  # harmless once up to date
    assert again.returncode == 0
    assert f"is at schema revision {head()} (was {head()})" in again.stdout
