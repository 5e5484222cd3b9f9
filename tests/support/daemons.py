"""Daemons for tests: in this process with their jobs run by hand; and waiting for what a
subprocess does."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from publisher.config.settings import Settings
from publisher.service.daemon import Daemon
from publisher.service.engine import Engine
from tests.support.clock import FakeClock


def wait_until(what: str, done: Callable[[], bool], seconds: float = 60) -> None:
    """Poll until ``done``; fail after ``seconds`` (a bound against hanging, not a speed test)."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds:.0f} s for {what}")
        time.sleep(0.05)


def daemon(settings: Settings, clock: FakeClock, host: str) -> Daemon:
    """A daemon with an engine of its own, not started: the tests run its jobs."""
    engine = Engine(settings, dry_run=True, clock=clock, host=host).start()
    return Daemon(engine, reload=lambda: engine)


def two_daemons(settings: Settings, clock: FakeClock) -> tuple[Daemon, Daemon]:
    """Two daemons on one ledger, as on two hosts."""
    return daemon(settings, clock, "host-a"), daemon(settings, clock, "host-b")
