"""Opening the ledger: engine settings per database, and the schema brought up to date.

SQLite is the embedded default. Its settings matter for "never lose a post": WAL so readers
(the status and review commands) never block the daemon; a busy timeout so a second process waits
instead of failing; synchronous=FULL so a commit survives power loss before the queue file is moved
away; BEGIN IMMEDIATE for every write transaction so two dispatchers never both read a delivery as
pending and both claim it.

One rule says which transactions write: ``with ledger.begin() as session`` writes (claims,
outcomes, recording a post) and takes SQLite's write lock at its BEGIN; ``with ledger() as
session`` reads, with a plain deferred BEGIN that takes no write lock, so intake's look-ups and
the status and review commands never wait for the daemon's writes nor make it wait. A session
opened with ``ledger()`` must not write: it is never committed.

PostgreSQL is for several daemons on several hosts sharing one ledger. Its transactions are plain
READ COMMITTED ones: rows are locked where a claim needs it (``SELECT … FOR UPDATE SKIP LOCKED``,
store/ledger.py), not by one lock over the whole database. ``pool_pre_ping`` replaces a pooled
connection the server closed (a restart, a fail-over) before it is used, instead of failing the
daemon's next pass.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from publisher.errors import PublisherError

BUSY_TIMEOUT_MS = 30_000
WRITE = "publisher_write"  # an execution option: transactions on this connection write


def _sqlite_settings(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let the "begin" hook below issue BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    _write_ahead(cursor)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _write_ahead(cursor: sqlite3.Cursor) -> None:
    """Switch to WAL. Two processes opening a new file at once (the daemon's first start beside
    a ``publisher status``) both hold a read lock and both want the exclusive one to switch:
    SQLite answers one of them "database is locked" at once, without waiting, to break that
    deadlock. The other switches; this one tries again, within the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            busy = exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY  # or an extended BUSY_ code
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
        else:
            return


def _sqlite_begin(connection: Any) -> None:
    write = connection.get_execution_options().get(WRITE, False)
    # On the driver's connection: a statement with no result, run on every transaction.
    connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")


# SQLite's answers that say the file cannot be used now (another process holds it, the disk
# fails or is full), not that the statement is wrong.
_SQLITE_UNAVAILABLE = frozenset(
    {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN,
     sqlite3.SQLITE_FULL}
)  # fmt: skip


def unreachable(exc: BaseException) -> bool:
    """Whether a database error says the ledger cannot be used right now (a server down,
    restarting or failing over, a connection lost; SQLite's file locked past the busy timeout or
    its disk failing), rather than that something asked of it was wrong. Work that meets it
    waits and tries again; it is nobody's input to reject."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if isinstance(exc.orig, sqlite3.Error):
        return exc.orig.sqlite_errorcode & 0xFF in _SQLITE_UNAVAILABLE
    return isinstance(exc, OperationalError)  # PostgreSQL's connection and server-state errors


MOUNTS = Path("/proc/mounts")
# Filesystems where SQLite's locks and WAL's shared memory do not hold between hosts (or at all).
NETWORK_FILESYSTEMS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs", "lustre",
     "fuse.sshfs", "fuse.glusterfs", "fuse.cephfs", "ocfs2", "gfs2"}
)  # fmt: skip


class NetworkFilesystemError(PublisherError):
    """The SQLite file would live on a network filesystem, where WAL cannot work."""


def filesystem_of(path: Path, mounts: Path = MOUNTS) -> str | None:
    """The type of the filesystem ``path`` is on (the longest mount point above it), from
    /proc/mounts; None where that cannot be read (not Linux)."""
    try:
        lines = mounts.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    best, kind = "", None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        # /proc/mounts writes a space in a mount point as \040 (and a tab, newline, \ likewise).
        point = fields[1].encode().decode("unicode_escape")
        inside = path == Path(point) or Path(point) in path.parents
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def refuse_network_filesystem(database: Path, mounts: Path = MOUNTS) -> None:
    """SQLite on NFS, SMB or the like loses its locking and WAL's shared memory: two processes
    (or hosts) could both claim a delivery, or corrupt the file. Several servers need PostgreSQL."""
    kind = filesystem_of(database.resolve(), mounts)
    if kind in NETWORK_FILESYSTEMS:
        msg = (
            f"the ledger {database} would be on a network filesystem ({kind}), where SQLite's "
            "locks and write-ahead log do not work; put [paths] state on a local disk, or, to run "
            "on several servers, set [database] url to a PostgreSQL database (README, "
            '"Several servers")'
        )
        raise NetworkFilesystemError(msg)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the settings above for its database (SQLite or PostgreSQL);
    for SQLite, the folder is created."""
    if make_url(url).get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True, isolation_level="READ COMMITTED")
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            refuse_network_filesystem(Path(database))
        event.listen(engine, "connect", _sqlite_settings)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _alembic() -> Config:
    config = Config()
    config.set_main_option("script_location", "publisher.store:migrations")
    return config


def head() -> str:
    """The schema revision this code expects: the newest migration."""
    [revision] = ScriptDirectory.from_config(_alembic()).get_heads()  # one chain of migrations
    return revision


def current(engine: Engine) -> str | None:
    """The database's schema revision, or None where no migration has run yet."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _known(revision: str) -> bool:
    revisions = ScriptDirectory.from_config(_alembic()).walk_revisions()
    return revision in {r.revision for r in revisions}


def _newer(engine: Engine, found: str) -> SchemaOutOfDateError:
    where = engine.url.render_as_string(hide_password=True)
    msg = (
        f"the ledger at {where} is at schema revision {found}, newer than this publisher "
        f"knows ({head()}); install the version the other hosts run"
    )
    return SchemaOutOfDateError(msg)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to the version this code expects (migrations, never create_all);
    ``revision`` stops at an older one (tests of an out-of-date ledger).

    Raises:
        SchemaOutOfDateError: the schema is newer than this code (a newer publisher made it).
    """
    found = current(engine)
    if found is not None and not _known(found):
        raise _newer(engine, found)
    config = _alembic()
    with engine.execution_options(**{WRITE: True}).begin() as connection:  # it writes
        _serialise_migrations(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


class SchemaOutOfDateError(PublisherError):
    """The ledger's schema is not the one this code was written for: nothing may run on it."""


def check_schema(engine: Engine) -> None:
    """Refuse a schema older (or newer) than the code, naming what to run."""
    found, wanted = current(engine), head()
    if found == wanted:
        return
    where = engine.url.render_as_string(hide_password=True)
    if found is None:
        msg = (
            f"the ledger at {where} has no schema yet; create it with: publisher db upgrade "
            "(with this --config, once, from one host), then start again"
        )
    elif not _known(found):
        raise _newer(engine, found)
    else:
        msg = (
            f"the ledger at {where} is at schema revision {found} and this publisher needs "
            f"{wanted}; stop every daemon, run: publisher db upgrade (with this --config, once, "
            "from one host), then start them again"
        )
    raise SchemaOutOfDateError(msg)


MIGRATION_LOCK = 0x7075626C  # "publ": the advisory lock two hosts starting at once queue on


def _serialise_migrations(connection: Connection) -> None:
    """Two processes starting at once never both read the schema version and then both write it:
    SQLite's BEGIN IMMEDIATE already serialises them; PostgreSQL takes a transaction's advisory
    lock, released at its commit."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})


class Ledger(sessionmaker[Session]):
    """Sessions on the ledger: ``ledger()`` to read, ``ledger.begin()`` to write (see above).

    Both share one engine and its pool; a write session's connection carries the ``WRITE``
    execution option, which makes its BEGIN an IMMEDIATE one on SQLite.
    """

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, expire_on_commit=False)
        self._writer = engine.execution_options(**{WRITE: True})

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """A write transaction: committed at the end of the block, rolled back on an error."""
        with self(bind=self._writer) as session, session.begin():
            yield session


def open_ledger(url: str) -> Ledger:
    """The session factory every part of the engine uses, on an up-to-date schema.

    SQLite, the embedded default of one server, is brought up to date here: a newcomer's first
    ``publisher run`` creates it, and an upgrade of the package upgrades it at the next start
    (under BEGIN IMMEDIATE, so two processes starting at once do not race). PostgreSQL, shared by
    several hosts, is never changed behind the administrator's back: ``publisher db upgrade``
    does it, once, and until then every command refuses to start (SchemaOutOfDateError)."""
    engine = make_engine(url)
    ready(engine)
    return Ledger(engine)


def ready(engine: Engine) -> None:
    """The schema made ready to use, as ``open_ledger`` says: SQLite brought up to date, PostgreSQL
    checked.

    Raises:
        SchemaOutOfDateError: PostgreSQL's schema is behind this version's.
    """
    if engine.dialect.name == "sqlite":
        upgrade(engine)
    else:
        check_schema(engine)
