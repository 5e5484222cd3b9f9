"""The ledger's schema comes from migrations, and matches the models the code uses."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from publisher.store.db import (
    NetworkFilesystemError,
    filesystem_of,
    make_engine,
    open_ledger,
    refuse_network_filesystem,
    upgrade,
)
from publisher.store.models import Base


@pytest.mark.both_stores
def test_migrations_build_exactly_the_models_schema(ledger_url: str) -> None:
    engine = make_engine(ledger_url)
    upgrade(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent_and_keeps_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state' / 'ledger.db'}"
    open_ledger(url)
    engine = make_engine(url)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO posts (key, unit, source_name, source_sha256, priority, "
                "not_before, received_at, request) VALUES ('k', 'u', 'f', 's', 0, "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00', '{}')"
            )
        )
    open_ledger(url)  # a restart runs migrations again
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM posts")).scalar() == 1
    assert {"posts", "deliveries", "attempts", "alembic_version"} <= set(
        inspect(engine).get_table_names()
    )


def test_sqlite_runs_in_wal_with_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    with engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_processes_opening_a_new_ledger_at_once_all_open_it(tmp_path: Path) -> None:
    """Two daemons (or a daemon and ``publisher status``) starting on a ledger not yet created
    both switch it to WAL; SQLite refuses one of them at once to break the deadlock, and that
    one must try again instead of stopping with "database is locked". Each engine has its own
    connection, as each process would; the race is rare, so it is run many times."""
    errors: list[Exception] = []
    for round_ in range(200):
        engines = [make_engine(f"sqlite:///{tmp_path / str(round_) / 'ledger.db'}") for _ in "abcd"]
        start = threading.Barrier(len(engines))

        def open_(engine: Engine, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                with engine.connect() as c:
                    assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_, args=(e,)) for e in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for engine in engines:
            engine.dispose()
    assert errors == []


def test_one_delivery_per_post_account_and_locale(tmp_path: Path) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    row = (
        "INSERT INTO deliveries (post_id, idempotency_key, unit, account, platform, locale, "
        "text, tags, media, status, priority, not_before, attempts) VALUES "
        "(1, :key, 'u', 'x:a', 'x', 'en', 't', '[]', '[]', 'pending', 0, "
        "'2026-01-01 00:00:00', 0)"
    )
    with ledger.begin() as s:
        s.execute(
            text(
                "INSERT INTO posts (id, key, unit, source_name, source_sha256, priority, "
                "not_before, received_at, request) VALUES (1, 'k', 'u', 'f', 's', 0, "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00', '{}')"
            )
        )
        s.execute(text(row), {"key": "k|x:a|en"})
    with pytest.raises(IntegrityError), ledger.begin() as s:
        s.execute(text(row), {"key": "another key, same post/account/locale"})


def test_taking_the_next_due_delivery_reads_the_index_and_sorts_nothing(tmp_path: Path) -> None:
    """One delivery is leased at a time: a sort of every pending row per lease was 185 ms at
    100,000 pending deliveries, against 2 ms with the index in the dispatcher's order."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from publisher.store.models import Delivery

    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    query = (
        select(Delivery.id)
        .where(Delivery.status == "pending", Delivery.not_before <= datetime.now(UTC))
        .order_by(Delivery.priority.desc(), Delivery.not_before, Delivery.id)
        .limit(1)
    )
    with ledger() as session:
        compiled = query.compile(session.get_bind())
        params = [compiled.params[name] for name in compiled.positiontup or []]
        raw = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", tuple(params))
        plan = raw.all()
    steps = " | ".join(row[-1] for row in plan)
    assert "ix_deliveries_next" in steps
    assert "TEMP B-TREE" not in steps


def _other_writer(path: Path) -> sqlite3.Connection:
    """Another process's connection that does not wait for the write lock: it fails at once."""
    return sqlite3.connect(path, timeout=0, isolation_level=None)


def test_a_read_session_does_not_block_a_writer(tmp_path: Path) -> None:
    """Intake's look-ups and the status and review commands read while the daemon writes."""
    path = tmp_path / "ledger.db"
    ledger = open_ledger(f"sqlite:///{path}")
    other = _other_writer(path)
    with ledger() as session:
        assert session.execute(text("SELECT count(*) FROM posts")).scalar() == 0
        other.execute("BEGIN IMMEDIATE")  # would raise "database is locked" if the read held it
        other.execute(
            "INSERT INTO posts (key, unit, source_name, source_sha256, priority, not_before, "
            "received_at, request) VALUES ('k', 'u', 'f', 's', 0, '2026-01-01 00:00:00', "
            "'2026-01-01 00:00:00', '{}')"
        )
        other.execute("COMMIT")
        # The read keeps the snapshot it began with (WAL): it sees the ledger as it was.
        assert session.execute(text("SELECT count(*) FROM posts")).scalar() == 0
    with ledger() as session:
        assert session.execute(text("SELECT count(*) FROM posts")).scalar() == 1


def test_a_write_session_holds_the_write_lock_from_its_start(tmp_path: Path) -> None:
    """Two dispatchers never both read a delivery as pending: a write transaction's first
    SELECT already holds the lock, so the second waits for the first's commit."""
    path = tmp_path / "ledger.db"
    ledger = open_ledger(f"sqlite:///{path}")
    other = _other_writer(path)
    with ledger.begin() as session:
        session.execute(text("SELECT count(*) FROM posts"))
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")  # free again after the commit
    other.execute("ROLLBACK")


MOUNTS = (
    "/dev/sda1 / ext4 rw,relatime 0 0\n"
    "server:/export /srv/share nfs4 rw,relatime 0 0\n"
    "//nas/cell /mnt/cell\\040files cifs rw 0 0\n"
    "tmpfs /srv/share/scratch tmpfs rw 0 0\n"
)


def test_the_filesystem_of_a_path_is_its_nearest_mount(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(MOUNTS, encoding="utf-8")
    assert filesystem_of(Path("/srv/share/state/publisher.db"), mounts) == "nfs4"
    assert filesystem_of(Path("/srv/share/scratch/publisher.db"), mounts) == "tmpfs"
    assert filesystem_of(Path("/srv/shared/publisher.db"), mounts) == "ext4"  # not under it
    assert filesystem_of(Path("/mnt/cell files/publisher.db"), mounts) == "cifs"
    assert filesystem_of(Path("/var/publisher.db"), tmp_path / "no such file") is None


def test_sqlite_on_a_network_filesystem_is_refused_pointing_to_postgresql(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(MOUNTS, encoding="utf-8")
    with pytest.raises(NetworkFilesystemError) as refused:
        refuse_network_filesystem(Path("/mnt/cell files/state/publisher.db"), mounts)
    message = str(refused.value)
    assert "/mnt/cell files/state/publisher.db would be on a network filesystem (cifs)" in message
    assert "[database] url to a PostgreSQL database" in message
    refuse_network_filesystem(Path("/srv/share/scratch/publisher.db"), mounts)  # local: fine
    refuse_network_filesystem(tmp_path / "publisher.db")  # this machine's real /proc/mounts
