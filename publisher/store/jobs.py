"""Periodic jobs run once per period across every daemon sharing the ledger, and are finished even
when the daemon running one dies.

Each daemon fires its own freshness sweep, metrics collection and weekly report (APScheduler
keeps only the clock, and its job store cannot be shared between processes), so with several
daemons on one PostgreSQL ledger each job would run once per daemon: officers warned twice in a
race, platforms asked for metrics N times, the directorate sent N weekly reports. The ledger
decides instead: before running a job for a period (its *slot*), a daemon inserts the row
``(job, slot)``; the one whose insert lands runs the job, the others skip it. On SQLite there is
one daemon, and it takes every period (but one it ran already before a restart).

A daemon that dies mid-job must not leave its period undone (for the weekly report, that would lose
the week's report). How a dead holder is told from a slow one is the same as for deliveries
(``publisher/dispatch/leases.py``): the row carries a lease, ``dispatch.lease_seconds`` long, which
the holder's heartbeat renews while the job runs; a period not finished whose lease ran out is free,
and the next daemon to ask for it takes it over (``tries`` counts the takes, and names the holder
with ``host``, as an attempt names a delivery's). A fixed bound on a job's length instead would
either leave a dead host's report waiting that long or take over a live host's slow sweep. A daemon
restarted on SQLite is a new holder (another pid): it takes its old self's period over once that
lease has run out. A holder whose lease ran out while it was still running (the database too slow
for two heartbeats) is told so when it renews or records the end: the end is recorded only while the
period is still its own.

The weekly report's retries wait in the row too: a failed try releases the lease and sets
``retry_at``; a period not finished, not held and due is free for any daemon (``take_due``).
When the job ends, ``finished_at`` and ``outcome`` record it (done, failed, or the weekly report
given up), and no daemon takes the period again.

The sweeps and collections are not retried within their period: each looks at the whole ledger,
so the next period does what a failed one did not. A daemon started within a period already run
(a restart, a second host) leaves that period alone too: its first sweep or collection comes at
the next period.

Rows older than ``KEEP`` are deleted by the daemon that takes a slot of the same job (one row per
job and period: about 720 a month for an hourly one), kept that long so an
administrator can read which host ran what, and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from publisher.store.models import JobOutcome, JobRun

KEEP = timedelta(days=30)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Taken:
    """A period of a job this daemon holds: the lease to renew and the end to record."""

    job: str
    slot: datetime
    host: str
    tries: int  # how many times the period was taken, this time included


def interval_slot(now: datetime, interval: timedelta) -> datetime:
    """The start of the period of ``interval`` that ``now`` falls in, counted from the Unix epoch
    in UTC, so every host cuts time into the same periods whenever it started."""
    return EPOCH + (now - EPOCH) // interval * interval


def take_slot(
    session: Session, job: str, slot: datetime, host: str, now: datetime, lease: timedelta
) -> Taken | None:
    """Whether ``host`` runs ``job`` for the period starting at ``slot``: taken for the first to
    ask (its row is inserted in the caller's transaction), or for the first to ask once the
    period is free (not finished, its holder's lease run out, its retry due); None for every
    other, however many ask at once. The first also deletes the job's rows older than ``KEEP``."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    won = session.scalar(
        dialect.insert(JobRun)
        .values(job=job, slot=slot, host=host, started_at=now, lease_until=now + lease, tries=1)
        .on_conflict_do_nothing(index_elements=["job", "slot"])
        .returning(JobRun.host)
    )
    if won is None:
        return _take_over(session, job, slot, host, now, lease)
    session.execute(delete(JobRun).where(JobRun.job == job, JobRun.slot < now - KEEP))
    return Taken(job, slot, host, 1)


def take_due(
    session: Session, job: str, host: str, now: datetime, lease: timedelta
) -> Taken | None:
    """The oldest free period of ``job`` (see ``take_slot``), taken for ``host``; None if no
    period is free, or every free one went to another daemon asking at the same moment."""
    free = select(JobRun.slot).where(JobRun.job == job, _free(now)).order_by(JobRun.slot)
    for slot in session.scalars(free).all():
        taken = _take_over(session, job, slot, host, now, lease)
        if taken is not None:
            return taken
    return None


def renew(session: Session, taken: Taken, until: datetime) -> bool:
    """Move the lease's end to ``until``; False if the period is no longer ``taken``'s."""
    return _update(session, taken, lease_until=until)


def postpone(session: Session, taken: Taken, retry_at: datetime) -> bool:
    """Release the period, to be taken again (by any daemon) from ``retry_at``; False if it is
    no longer ``taken``'s."""
    return _update(session, taken, lease_until=None, retry_at=retry_at)


def finish(session: Session, taken: Taken, now: datetime, outcome: JobOutcome) -> bool:
    """Record the period ended, never to be taken again; False if it is no longer ``taken``'s."""
    return _update(session, taken, lease_until=None, finished_at=now, outcome=outcome)


def _free(now: datetime) -> ColumnElement[bool]:
    return (
        JobRun.finished_at.is_(None)
        & (JobRun.lease_until.is_(None) | (JobRun.lease_until < now))
        & (JobRun.retry_at.is_(None) | (JobRun.retry_at <= now))
    )


def _take_over(
    session: Session, job: str, slot: datetime, host: str, now: datetime, lease: timedelta
) -> Taken | None:
    # One statement: on PostgreSQL a racer's UPDATE waits for the winner's row lock, then finds
    # the row no longer free; on SQLite, BEGIN IMMEDIATE lets one writer in at a time.
    tries = session.scalar(
        update(JobRun)
        .where(JobRun.job == job, JobRun.slot == slot, _free(now))
        .values(host=host, lease_until=now + lease, retry_at=None, tries=JobRun.tries + 1)
        .returning(JobRun.tries)
        .execution_options(synchronize_session=False)
    )
    return None if tries is None else Taken(job, slot, host, tries)


def _update(session: Session, taken: Taken, **values: object) -> bool:
    held = session.scalar(
        update(JobRun)
        .where(
            JobRun.job == taken.job,
            JobRun.slot == taken.slot,
            JobRun.host == taken.host,
            JobRun.tries == taken.tries,
            JobRun.finished_at.is_(None),
        )
        .values(**values)
        .returning(JobRun.tries)
        .execution_options(synchronize_session=False)
    )
    return held is not None
