"""A call that outlasts its lease keeps it while its process lives: the heartbeat renews it, so no
other dispatcher takes the delivery over and asks or sends again. A dead process's lease is not
renewed, and runs out (test_dispatch: reconciling after a crash)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from publisher.adapters.base import Outgoing
from publisher.adapters.stub import StubAdapter
from publisher.config.platforms import PlatformOptions
from publisher.dispatch.dispatcher import Dispatcher
from publisher.service.engine import Engine
from publisher.store.ledger import Claim, claim_due, claim_expired
from publisher.store.models import Delivery
from publisher.vocabulary import DeliveryStatus, Receipt
from tests.support.clock import FakeClock
from tests.support.files import Drop
from tests.support.ledger import POST, rows
from tests.support.stubs import HARYANA_X, scripted

pytestmark = pytest.mark.both_stores

LEASE = 0.3  # seconds of the fake clock, and a heartbeat every 0.1 s of real time


class Held(StubAdapter):
    """A platform that answers only once the test lets it: a call longer than any lease."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(HARYANA_X, {}, PlatformOptions(), clock, ["777"])
        self.found = Receipt("777", None, clock())
        self.called = threading.Event()
        self.answer = threading.Event()

    def publish(self, delivery: Outgoing) -> Receipt:
        self.called.set()
        assert self.answer.wait(30)
        return super().publish(delivery)


def dispatcher(engine: Engine, adapter: StubAdapter) -> Dispatcher:
    """A dispatcher of this ledger (another host's, when made twice) with a short lease."""
    policy = engine.settings.dispatch.model_copy(update={"lease_seconds": LEASE})
    return Dispatcher(
        engine.ledger,
        {"x:HaryanaPostal": adapter},
        engine.clock,
        policy,
        engine.settings.paths.queue,
    )


def lease_until(engine: Engine) -> object:
    with engine.ledger() as session:
        return session.scalar(select(Delivery.lease_until))


def test_a_call_longer_than_its_lease_keeps_it_and_its_outcome_is_recorded(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    drop("haryana", "one.toml", POST.format(extra='locales = ["hi"]'))
    engine.intake.scan()
    slow = Held(clock)
    sent: list[Claim] = []
    sender = threading.Thread(target=lambda: sent.extend(dispatcher(engine, slow).run_due()))
    sender.start()
    try:
        assert slow.called.wait(30)
        first = lease_until(engine)
        clock.advance(seconds=10 * LEASE)  # far past the lease the claim took
        deadline = time.monotonic() + 10
        while lease_until(engine) == first and time.monotonic() < deadline:
            time.sleep(0.05)
        renewed = lease_until(engine)
        assert renewed != first
        other = Held(clock)  # another host, which would find the post and record it as its own
        assert dispatcher(engine, other).reconcile_expired() == []
        assert dispatcher(engine, other).run_due() == []
        assert not other.called.is_set()
    finally:
        slow.answer.set()
        sender.join(30)
    [d] = rows(engine)
    assert (d.status, d.remote_id, d.attempts, d.lease_until) == (
        DeliveryStatus.SENT,
        "777",
        1,
        None,
    )
    assert [c.delivery_id for c in sent] == [d.id]


def test_a_lease_taken_over_is_not_renewed(
    engine: Engine, drop: Drop, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The heartbeat renews a lease only for the attempt holding it: one that ran out and was
    taken by another dispatcher stays with that one, and the first is told it lost it."""
    drop("haryana", "one.toml", POST.format(extra='locales = ["hi"]'))
    engine.intake.scan()
    mine = dispatcher(engine, scripted(clock, []))
    with engine.ledger.begin() as session:
        [claim] = claim_due(session, clock(), mine.lease, 1)
    clock.advance(seconds=10 * LEASE)
    with engine.ledger.begin() as session:
        [theirs] = claim_expired(session, clock(), mine.lease, 1)
    with mine.heartbeat.holding(claim):
        assert mine.heartbeat.beat() == [claim]
    assert (
        f"ALERT delivery {claim.delivery_id} to x:HaryanaPostal: its lease ran out" in caplog.text
    )
    assert lease_until(engine) == clock() + mine.lease  # theirs, as they took it
    with mine.heartbeat.holding(theirs):
        assert mine.heartbeat.beat() == []
