"""The PostgreSQL on 127.0.0.1 that tests marked both_stores run on: a schema of a test's own,
dropped after."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"  # trust auth, as on the CI machine


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
