"""The heartbeat that keeps the leases of calls in flight.

A lease says "this process is calling the platform for this delivery"; when it runs out, another
dispatcher (another host, or this one after a restart) takes the delivery for reconciling. Bounding
the lease by the longest possible call (an Instagram video the platform processes for minutes)
would leave a dead host's deliveries stuck that long. So the lease is short, and while the call
runs a background thread of the process that holds it renews it: a live host keeps its leases
however long its calls take, a dead one loses them within one ``dispatch.lease_seconds``.

The heartbeat renews only leases still held by the claim's own attempt (``lease_holder``), in a
short transaction of its own: no row lock is held across a platform call.

A periodic job's period (``store/jobs.py``) is held the same way, by ``holding_period``: a thread
of its own for as long as the job runs, since a daemon runs at most a few jobs at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from publisher.clock import Clock
from publisher.store.jobs import Taken, renew
from publisher.store.ledger import Claim, renew_leases

logger = logging.getLogger(__name__)

BEATS_PER_LEASE = 3  # a lease survives two heartbeats lost to a slow or busy database


class Heartbeat:
    """Renews the leases this process's calls hold, every third of a lease, while any is held.
    The thread starts with the first call held and ends when none is, so an idle dispatcher (and
    every one a test makes) keeps no thread."""

    def __init__(self, ledger: sessionmaker[Session], clock: Clock, lease: timedelta) -> None:
        self._ledger = ledger
        self._clock = clock
        self._lease = lease
        self._held: dict[int, Claim] = {}  # by attempt id: the lease holder
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextmanager
    def holding(self, claim: Claim) -> Iterator[None]:
        """Keep ``claim``'s lease alive while its platform call runs."""
        with self._lock:
            self._held[claim.attempt_id] = claim
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                del self._held[claim.attempt_id]

    def beat(self) -> list[Claim]:
        """Renew every lease held now; returns the claims whose lease was lost (it expired
        before this beat, and another dispatcher took the delivery over)."""
        with self._lock:
            held = dict(self._held)
        if not held:
            return []
        with self._ledger.begin() as session:
            kept = renew_leases(session, held, self._clock() + self._lease)
        lost = [claim for attempt, claim in held.items() if attempt not in kept]
        for claim in lost:
            if claim.attempt_id in self._held:  # not just finished and recorded
                logger.error(
                    "ALERT delivery %d to %s: its lease ran out while the call was still running "
                    "and another dispatcher took it over; check the platform for a double post "
                    "(raise dispatch.lease_seconds if the database is often this slow)",
                    claim.delivery_id,
                    claim.account,
                )
        return lost

    def _run(self) -> None:
        every = self._lease.total_seconds() / BEATS_PER_LEASE
        while True:
            time.sleep(every)
            with self._lock:
                if not self._held:
                    self._thread = None
                    return
            try:
                self.beat()
            except Exception:
                logger.exception("the heartbeat could not renew the leases; it will try again")


@contextmanager
def holding_period(
    ledger: sessionmaker[Session], clock: Clock, lease: timedelta, taken: Taken
) -> Iterator[None]:
    """Keep the lease of ``taken`` (a periodic job's period) alive while the job runs: renewed
    every third of a lease, until the body ends or another daemon has taken the period over."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(lease.total_seconds() / BEATS_PER_LEASE):
            try:
                with ledger.begin() as session:
                    kept = renew(session, taken, clock() + lease)
            except Exception:
                logger.exception(
                    "the heartbeat could not renew %s's lease; it will try again", taken.job
                )
                continue
            if not kept:
                logger.error(
                    "ALERT %s of %s: its lease ran out while it was still running and another "
                    "daemon took it over, and may run it again (raise dispatch.lease_seconds if "
                    "the database is often this slow)",
                    taken.job,
                    taken.slot,
                )
                return

    thread = threading.Thread(target=beat, name=f"heartbeat {taken.job}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
