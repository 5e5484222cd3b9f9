"""A daemon's side of the periodic jobs' periods in the ledger (``store/jobs.py``): taking one,
holding its lease while its job runs, recording how it ended; and the weekly report's tries.

The daemon's clock (APScheduler) says when a job fires; this says whether this daemon runs it.
A period is held by a lease that a heartbeat renews (``leases.holding_period``), so a daemon
that dies mid-job loses it within ``dispatch.lease_seconds`` and another daemon, or this one
restarted, takes it over.

The weekly report is the one job a later period does not make up for, so it alone is tried again
within its period: a failure the mail server may get over releases the period with a time for
the next try, and every daemon's check (``weekly_retry``, every minute) takes a period that is
due, or whose sender died, and sends it. Whoever sends it, the report covers the week before its
firing. It goes once, even with several daemons: only the daemon holding the period sends it.
A daemon that dies after the mail server accepted the report but before the ledger recorded it
(or that cannot reach the ledger then) leaves the period unfinished, and another daemon sends it
again once the lease has run out: one extra copy for that crash (with the first one's
Message-ID, weekly.send_weekly), never a lost report. Nothing can tell whether the server had it
(SMTP has no way to ask), so the choice is a copy too many over a report lost. Every take
counts as a try, so a report whose daemons keep dying is given up too, after as many tries as a
failing mail server gets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from publisher.dispatch.leases import holding_period
from publisher.errors import TransientError
from publisher.reports.weekly import last_week, send_weekly
from publisher.service.engine import Engine
from publisher.store.jobs import Taken, finish, interval_slot, postpone, take_due, take_slot
from publisher.store.models import JobOutcome

logger = logging.getLogger(__name__)

WEEKLY_JOB = "weekly-report"
WEEKLY_RETRIES, WEEKLY_RETRY_MINUTES = 6, 30


class PeriodicJobs:
    """``engine`` gives the daemon's engine of the moment (SIGHUP replaces it); ``host`` names
    this daemon in the ledger (host:pid, so that a restarted daemon is a new holder)."""

    def __init__(self, engine: Callable[[], Engine], host: str) -> None:
        self._engine = engine
        self.host = host
        self._slots: dict[str, datetime] = {}  # per interval job, the last period asked for

    def take(self, job: str, slot: datetime) -> Taken | None:
        """Whether this daemon runs ``job`` for the period starting at ``slot``: only the first of
        the daemons sharing the ledger to ask does (or the first once its holder is gone); on
        SQLite, the one daemon always does."""
        engine = self._engine()
        try:
            with engine.ledger.begin() as session:
                taken = take_slot(session, job, slot, self.host, engine.clock(), self._lease())
        except Exception:
            logger.exception("%s of %s was not run: the ledger could not be asked", job, slot)
            return None
        if taken is None:
            logger.info("%s of %s: another daemon sharing the ledger runs it", job, slot)
        elif taken.tries > 1:
            logger.warning("%s of %s: taken over; the daemon that held it is gone", job, slot)
        return taken

    def _lease(self) -> timedelta:
        return timedelta(seconds=self._engine().settings.dispatch.lease_seconds)

    def _take_period(self, job: str, minutes: float) -> Taken | None:
        """Whether this daemon runs an interval job now: for the period ``now`` falls in, unless
        it asked for that one already. That happens when a run started late, just past a
        period's start, and the next one on time, just before the next period's start: that
        next run takes the next period, so that one daemon alone never skips a run of its own."""
        interval = timedelta(minutes=minutes)
        slot = interval_slot(self._engine().clock(), interval)
        last = self._slots.get(job)
        if last is not None and slot <= last:
            slot = interval_slot(last, interval) + interval
        self._slots[job] = slot
        return self.take(job, slot)

    def run(self, job: str, minutes: float, work: Callable[[], object]) -> None:
        """Run ``work`` (an interval job, every ``minutes``) for the current period, if this
        daemon takes it; a failure is logged, and the next period tries again."""
        taken = self._take_period(job, minutes)
        if taken is None:
            return
        outcome = JobOutcome.DONE
        with self._holding(taken):
            try:
                work()
            except Exception:
                logger.exception("%s failed; the next one will try again", job)
                outcome = JobOutcome.FAILED
        now = self._engine().clock()
        self._end(taken, lambda session: finish(session, taken, now, outcome))

    def _holding(self, taken: Taken) -> AbstractContextManager[None]:
        engine = self._engine()
        return holding_period(engine.ledger, engine.clock, self._lease(), taken)

    def _end(self, taken: Taken, end: Callable[[Session], bool]) -> None:
        """Record how the period ended (``end``) while it is still this daemon's."""
        try:
            with self._engine().ledger.begin() as session:
                held = end(session)
        except Exception:
            logger.exception(
                "%s of %s: its end could not be recorded; once its lease runs out, another daemon "
                "takes it over and runs it again (a weekly report already sent goes twice)",
                taken.job,
                taken.slot,
            )
            return
        if not held:
            logger.error(
                "ALERT %s of %s: another daemon took it over while it ran (its lease ran out)",
                taken.job,
                taken.slot,
            )

    def weekly_report(self, fired: datetime) -> None:
        """At the weekly report's day and time (``fired``): the daemon that takes this firing
        sends it; the others leave it."""
        taken = self.take(WEEKLY_JOB, fired)
        if taken is not None:
            self._send_weekly_report(taken)

    def weekly_retry(self) -> None:
        """Every minute: a weekly report whose retry is due, or whose sender died (its lease ran
        out), is sent by the first daemon to take it."""
        engine = self._engine()
        try:
            with engine.ledger.begin() as session:
                taken = take_due(session, WEEKLY_JOB, self.host, engine.clock(), self._lease())
        except Exception:
            logger.exception("the weekly report's retries could not be looked up; next minute")
            return
        if taken is not None:
            logger.info("the weekly report of %s: try %d", taken.slot, taken.tries)
            self._send_weekly_report(taken)

    def _send_weekly_report(self, taken: Taken) -> None:
        """A failure the mail server may get over (down, busy) is tried again every
        WEEKLY_RETRY_MINUTES, WEEKLY_RETRIES times, by whichever daemon takes it then; after
        that, or after any other failure, ``publisher report --email`` sends it. A period taken
        more times than that was cut short each time (its daemons died): given up too."""
        engine = self._engine()
        first, last = last_week(taken.slot, engine.settings)
        by_hand = f"send it with `publisher report --from {first} --to {last} --email`"
        outcome: JobOutcome | None = JobOutcome.GAVE_UP
        if taken.tries > WEEKLY_RETRIES + 1:
            logger.error(
                "the weekly report of %s was given up after %d tries (the daemons of some died "
                "while trying it); %s",
                taken.slot,
                taken.tries - 1,
                by_hand,
            )
        else:
            with self._holding(taken):
                outcome = self._try_weekly_report(taken, by_hand)
        now = engine.clock()
        if outcome is None:
            retry_at = now + timedelta(minutes=WEEKLY_RETRY_MINUTES)
            self._end(taken, lambda session: postpone(session, taken, retry_at))
        else:
            ended = outcome
            self._end(taken, lambda session: finish(session, taken, now, ended))

    def _try_weekly_report(self, taken: Taken, by_hand: str) -> JobOutcome | None:
        """One try; returns how it ended, or None if it is to be tried again."""
        engine = self._engine()
        try:
            message = send_weekly(
                engine.settings, engine.ledger, engine.credentials, engine.clock(),
                fired=taken.slot,
            )  # fmt: skip
        except TransientError as exc:
            if taken.tries <= WEEKLY_RETRIES:
                logger.warning(
                    "the weekly report was not sent; trying again in %d minutes: %s",
                    WEEKLY_RETRY_MINUTES,
                    exc,
                )
                return None
            logger.error("the weekly report was not sent, and will not be tried again (%s); %s",
                         exc, by_hand)  # fmt: skip
            return JobOutcome.GAVE_UP
        except Exception:
            logger.exception("the weekly report was not sent; %s", by_hand)
            return JobOutcome.FAILED
        logger.info("weekly report sent to %s", message["To"])
        return JobOutcome.DONE
