"""Periodic jobs run once per period across every daemon sharing the ledger.

Each daemon fires its own freshness sweep, metrics collection and weekly report (APScheduler
keeps only the clock, and its job store cannot be shared between processes), so with several
daemons on one PostgreSQL ledger each job would run once per daemon: officers warned twice in a
race, platforms asked for metrics N times, the directorate sent N weekly reports. The ledger
decides instead: before running a job for a period (its *slot*), a daemon inserts the row
``(job, slot)``; the one whose insert lands runs the job, the others skip it. On SQLite there is
one daemon, and it takes every period (but one it ran already before a restart).

A slot is taken before its job runs, so a daemon that dies mid-job leaves that period undone: the
next period's run (by whichever daemon takes it) does the work again. That is what the sweeps and
collections are for anyway (each looks at the whole ledger, and a notice is sent once per silence
whoever sends it). A weekly report lost that way, or whose retries (kept only by the daemon that
took its firing) died with it, is sent by hand with ``publisher report --email``. A daemon
started within a period already run (a restart, a second host) leaves that period alone too: its
first sweep or collection comes at the next period.

Rows older than ``KEEP`` are deleted by the daemon that takes a slot of the same job (one row per
job and period: about 720 a month for an hourly one), kept that long so an
administrator can read which host ran what, and when.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from publisher.store.models import JobRun

KEEP = timedelta(days=30)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def interval_slot(now: datetime, interval: timedelta) -> datetime:
    """The start of the period of ``interval`` that ``now`` falls in, counted from the Unix epoch
    in UTC, so every host cuts time into the same periods whenever it started."""
    return EPOCH + (now - EPOCH) // interval * interval


def take_slot(session: Session, job: str, slot: datetime, host: str, now: datetime) -> bool:
    """Whether ``host`` runs ``job`` for the period starting at ``slot``: True for the first to ask
    (its row is inserted in the caller's transaction), False for every other, however many ask at
    once. The winner also deletes the job's rows older than ``KEEP``."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    won = session.scalar(
        dialect.insert(JobRun)
        .values(job=job, slot=slot, host=host, started_at=now)
        .on_conflict_do_nothing(index_elements=["job", "slot"])
        .returning(JobRun.host)
    )
    if won is None:
        return False
    session.execute(delete(JobRun).where(JobRun.job == job, JobRun.slot < now - KEEP))
    return True
