"""Dispatch workers: one thread per platform, so a platform that is down, slow or rate-limited holds
only its own deliveries, and intake never waits on a platform call.

A worker sleeps until it is woken (intake took a post file; the periodic tick; a reload) or until
its platform's next delivery falls due (a scheduled post, a retry, the end of a quota window or a
rate limit), then runs one dispatch pass. Asked to stop, it claims nothing more; a call already
made is given until a bound to finish, and one that does not is left ``sending`` for reconciling.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime

from publisher.clock import Clock
from publisher.store.ledger import Claim

logger = logging.getLogger(__name__)

Dispatch = Callable[[str, threading.Event], list[Claim]]
"""One pass for a platform, claiming nothing once the event is set."""
NextDue = Callable[[str], datetime | None]

RETRY_SECONDS = 1.0  # after a pass that failed, or that found work due yet could claim none


class Worker:
    def __init__(
        self, platform: str, dispatch: Dispatch, next_due: NextDue, clock: Clock, idle: float
    ) -> None:
        self.platform = platform
        self._dispatch = dispatch
        self._next_due = next_due
        self._clock = clock
        self._idle = idle  # the longest sleep: the periodic tick wakes it sooner anyway
        self._wake = threading.Event()
        self.stopping = threading.Event()
        self.handled: list[Claim] = []
        self._lock = threading.Lock()
        # A daemon thread: one stuck in a call past the stop bound must not hold the exit.
        self.thread = threading.Thread(target=self._run, name=f"dispatch-{platform}", daemon=True)

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self.stopping.set()
        self._wake.set()

    def drain(self) -> list[Claim]:
        """The deliveries handled since the last drain."""
        with self._lock:
            handled, self.handled = self.handled, []
        return handled

    def _run(self) -> None:
        while not self.stopping.is_set():
            self._wake.clear()
            self._wake.wait(self._pass())

    def _pass(self) -> float:
        """One dispatch pass; returns how long to sleep before the next."""
        try:
            handled = self._dispatch(self.platform, self.stopping)
            due = self._next_due(self.platform)
        except Exception:
            logger.exception("dispatch to %s failed; it will try again", self.platform)
            return RETRY_SECONDS
        with self._lock:
            self.handled += handled
        if due is None:
            return self._idle
        wait = min(self._idle, max((due - self._clock()).total_seconds(), 0.0))
        return wait if handled or wait > 0 else RETRY_SECONDS  # due, yet another holds it


class Workers:
    """The daemon's workers, one per platform, started as platforms appear."""

    def __init__(self, dispatch: Dispatch, next_due: NextDue, clock: Clock, idle: float) -> None:
        self._dispatch = dispatch
        self._next_due = next_due
        self._clock = clock
        self._idle = idle
        self._workers: dict[str, Worker] = {}
        self._halted = threading.Event()
        self._lock = threading.Lock()  # ensure() runs in the tick's thread, stop() in main

    def ensure(self, platforms: Iterable[str]) -> None:
        """A worker for each of ``platforms`` that has none yet (none once halted)."""
        with self._lock:
            for platform in platforms:
                if platform in self._workers or self._halted.is_set():
                    continue
                worker = Worker(platform, self._dispatch, self._next_due, self._clock, self._idle)
                self._workers[platform] = worker
                worker.thread.start()
                logger.info("dispatching to %s", platform)

    def _all(self) -> list[Worker]:
        with self._lock:
            return list(self._workers.values())

    def wake(self) -> None:
        for worker in self._all():
            worker.wake()

    def drain(self) -> list[Claim]:
        return [claim for worker in self._all() for claim in worker.drain()]

    def halt(self) -> None:
        """Claim nothing more, from now on. Called from a signal handler, so it takes no lock
        (the main thread may hold it): it only sets flags, on a copy of the workers."""
        self._halted.set()
        for worker in list(self._workers.values()):
            worker.stop()

    def stop(self, seconds: float) -> list[str]:
        """Claim nothing more; wait up to ``seconds`` in all for the calls in flight. Returns the
        platforms whose worker is still in a call."""
        self.halt()
        deadline = time.monotonic() + seconds
        workers = self._all()
        for worker in workers:
            worker.thread.join(max(deadline - time.monotonic(), 0.0))
        return [w.platform for w in workers if w.thread.is_alive()]
