"""Due deliveries go out once, in order, at their time; failures retry or stop as classified."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from publisher.adapters.base import Adapter, Outgoing
from publisher.adapters.stub import StubAdapter
from publisher.config.platforms import PlatformOptions
from publisher.dispatch.dispatcher import Dispatcher, backoff_seconds
from publisher.errors import (
    AuthError,
    PermanentError,
    RateLimitedError,
    TransientError,
    UncertainError,
)
from publisher.service.engine import Engine
from publisher.store.ledger import claim_due, claim_expired, record_outcome
from publisher.store.models import Attempt
from publisher.vocabulary import DeliveryStatus, Receipt
from tests.support.clock import FakeClock
from tests.support.files import Drop
from tests.support.ledger import POST, one_delivery, rows
from tests.support.stubs import HARYANA_X, scripted

pytestmark = pytest.mark.both_stores  # claims, outcomes and reconciling hold on either database


def test_dry_run_records_every_delivery_with_its_text(engine: Engine, drop: Drop) -> None:
    drop("haryana", "stamps.toml", POST.format(extra=""))
    tick = engine.tick()
    assert len(tick.sent) == 2
    for d in rows(engine):
        assert d.status == DeliveryStatus.DRY_RUN
        assert d.attempts == 1
        assert d.remote_id is None  # nothing was sent anywhere
        assert d.finished_at is not None
        assert "@IndiaPostOffice" in d.text


def test_scheduled_post_waits_for_its_time(engine: Engine, drop: Drop, clock: FakeClock) -> None:
    when = (clock() + timedelta(days=1)).astimezone(engine.settings.zone)
    drop("haryana", "later.toml", POST.format(extra=f'publish_at = "{when:%Y-%m-%d %H:%M}"'))
    assert engine.tick().sent == []
    assert {d.status for d in rows(engine)} == {DeliveryStatus.PENDING}
    clock.advance(hours=23, minutes=59)
    assert engine.tick().sent == []
    clock.advance(minutes=1)
    assert len(engine.tick().sent) == 2
    assert engine.tick().sent == []  # and only once


def test_local_time_is_the_organisations_zone(engine: Engine, drop: Drop, clock: FakeClock) -> None:
    drop("haryana", "t.toml", POST.format(extra='publish_at = "2099-01-26 10:00"'))
    engine.tick()
    # 10:00 in Asia/Kolkata is 04:30 UTC.
    assert {d.not_before.isoformat() for d in rows(engine)} == {"2099-01-26T04:30:00+00:00"}


def test_urgent_post_goes_before_older_normal_ones(engine: Engine, drop: Drop) -> None:
    drop("haryana", "a-normal.toml", POST.format(extra=""))
    drop("haryana", "b-urgent.toml", POST.format(extra='priority = "urgent"'))
    engine.intake.scan()
    order = [c.post_id for c in engine.dispatcher.run_due()]
    urgent = {d.post_id for d in rows(engine) if d.priority > 0}
    assert set(order[:2]) == urgent


def test_transient_failure_is_retried_after_backoff_then_sent(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    adapter = scripted(clock, [TransientError("503 from the platform"), "1234"])
    dispatcher = one_delivery(engine, drop, adapter)

    dispatcher.run_due()
    [d] = rows(engine)
    assert d.status == DeliveryStatus.PENDING
    assert d.last_error == "503 from the platform"
    assert d.not_before == clock() + timedelta(seconds=30)  # retry_base_seconds, full jitter = 1

    clock.advance(seconds=29)
    assert dispatcher.run_due() == []
    clock.advance(seconds=1)
    dispatcher.run_due()
    [d] = rows(engine)
    assert (d.status, d.remote_id, d.attempts) == (DeliveryStatus.SENT, "1234", 2)
    assert len(adapter.calls) == 2
    with engine.ledger() as session:
        outcomes = session.scalars(select(Attempt.outcome).order_by(Attempt.id)).all()
    assert outcomes == ["retry", "sent"]


def test_retry_after_from_the_platform_is_honoured(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    adapter = scripted(clock, [TransientError("429", retry_after=900), "1"])
    dispatcher = one_delivery(engine, drop, adapter)
    dispatcher.run_due()
    [d] = rows(engine)
    assert d.not_before == clock() + timedelta(seconds=900)


def test_permanent_failure_stops_at_once(engine: Engine, drop: Drop, clock: FakeClock) -> None:
    adapter = scripted(clock, [PermanentError("account suspended")])
    dispatcher = one_delivery(engine, drop, adapter)
    dispatcher.run_due()
    clock.advance(days=1)
    dispatcher.run_due()
    [d] = rows(engine)
    assert (d.status, d.last_error) == (DeliveryStatus.FAILED, "account suspended")
    assert len(adapter.calls) == 1


def test_retries_give_up_after_max_attempts(engine: Engine, drop: Drop, clock: FakeClock) -> None:
    attempts = engine.settings.dispatch.max_attempts
    adapter = scripted(clock, [TransientError("timeout")] * attempts)
    dispatcher = one_delivery(engine, drop, adapter)
    for _ in range(attempts + 2):
        dispatcher.run_due()
        clock.advance(hours=2)
    [d] = rows(engine)
    assert (d.status, d.attempts) == (DeliveryStatus.FAILED, attempts)
    assert len(adapter.calls) == attempts


def test_unexpected_error_leaves_the_delivery_sending_never_resent(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    """The call may have reached the platform: the lease marks it for reconciling, not resending."""
    adapter = scripted(clock, [ConnectionResetError("peer closed after the request"), "2"])
    dispatcher = one_delivery(engine, drop, adapter)
    dispatcher.run_due()
    clock.advance(hours=1)
    dispatcher.run_due()
    [d] = rows(engine)
    assert d.status == DeliveryStatus.SENDING
    assert d.lease_until is not None
    assert len(adapter.calls) == 1


def test_adapter_gets_media_as_absolute_paths_with_alt_text(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    drop("haryana", "stamp.jpg", b"jpeg")
    drop(
        "haryana",
        "one.toml",
        POST.format(extra='locales = ["hi"]')
        + '[[media]]\nfile = "stamp.jpg"\nalt = { hi = "डाक टिकट" }\n',
    )
    engine.intake.scan()
    adapter = scripted(clock, ["9"])
    Dispatcher(
        engine.ledger,
        {"x:HaryanaPostal": adapter},
        clock,
        engine.settings.dispatch,
        engine.settings.paths.queue,
    ).run_due()
    [call] = adapter.calls
    [media] = call.media
    assert media.path.is_absolute()
    assert media.path.read_bytes() == b"jpeg"
    assert media.alt == "डाक टिकट"


def test_backoff_grows_is_capped_and_jittered() -> None:
    assert backoff_seconds(1, 30, 3600, lambda: 1.0) == 30
    assert backoff_seconds(2, 30, 3600, lambda: 1.0) == 60
    assert backoff_seconds(3, 30, 3600, lambda: 0.0) == 60  # jitter: between half and all of 120
    assert backoff_seconds(20, 30, 3600, lambda: 1.0) == 3600


def test_rate_limits_wait_as_told_and_never_exhaust_the_attempts(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    limit = engine.settings.dispatch.max_attempts
    adapter = scripted(clock, [RateLimitedError("429", retry_after=60)] * (limit + 2) + ["7"])
    dispatcher = one_delivery(engine, drop, adapter)
    for _ in range(limit + 3):
        dispatcher.run_due()
        clock.advance(seconds=60)
    [d] = rows(engine)
    assert (d.status, d.remote_id) == (DeliveryStatus.SENT, "7")


def test_revoked_credentials_fail_the_delivery_and_say_so(
    engine: Engine, drop: Drop, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = scripted(clock, [AuthError("token expired (code 190)")])
    one_delivery(engine, drop, adapter).run_due()
    [d] = rows(engine)
    assert (d.status, d.last_error) == (DeliveryStatus.FAILED, "token expired (code 190)")
    assert "credentials must be renewed" in caplog.text


def test_uncertain_outcome_is_left_for_reconciling(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    adapter = scripted(clock, [UncertainError("connection dropped after the request was sent")])
    dispatcher = one_delivery(engine, drop, adapter)
    dispatcher.run_due()
    clock.advance(days=1)
    dispatcher.run_due()
    [d] = rows(engine)
    assert d.status == DeliveryStatus.SENDING
    assert len(adapter.calls) == 1


def test_errors_kept_in_the_ledger_are_redacted(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    adapter = scripted(clock, [PermanentError("GET /me?access_token=EAAsecret123 refused")])
    dispatcher = one_delivery(engine, drop, adapter)
    dispatcher.redact = engine.credentials.redact
    dispatcher.run_due()
    [d] = rows(engine)
    assert d.last_error == "GET /me?access_token=*** refused"


def test_receipt_ids_are_kept_for_every_part(engine: Engine, drop: Drop, clock: FakeClock) -> None:
    class Threaded(StubAdapter):
        def publish(self, delivery: Outgoing) -> Receipt:
            self.calls.append(delivery)
            return Receipt("100", "https://x.example/100", self.clock(), part_ids=["101"])

    message = "हरियाणा डाक परिमंडल " * 13  # long enough for a reply thread
    drop("haryana", "t.toml", f'platforms = ["x"]\nlocales = ["hi"]\n[text]\nhi = "{message}"\n')
    engine.intake.scan()
    adapter = Threaded(HARYANA_X, {}, PlatformOptions(), clock)
    Dispatcher(
        engine.ledger,
        {"x:HaryanaPostal": adapter},
        clock,
        engine.settings.dispatch,
        engine.settings.paths.queue,
    ).run_due()
    [call] = adapter.calls
    assert [p.kind for p in call.parts] == ["post", "reply"]
    [d] = rows(engine)
    assert [p["remote_id"] for p in d.parts] == ["100", "101"]


def crashed_mid_call(engine: Engine, drop: Drop, adapter: Adapter) -> Dispatcher:
    """A delivery claimed (sending, leased) by a dispatcher that then died before recording."""
    dispatcher = one_delivery(engine, drop, adapter)
    with engine.ledger.begin() as session:
        claim_due(session, engine.clock(), timedelta(minutes=5), 10)
    return dispatcher


def test_nothing_is_reconciled_while_the_lease_holds(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    adapter = scripted(clock, [], found=Receipt("55", None, clock()))
    dispatcher = crashed_mid_call(engine, drop, adapter)
    clock.advance(minutes=4)
    assert dispatcher.reconcile_expired() == []
    assert dispatcher.run_due() == []
    assert rows(engine)[0].status == DeliveryStatus.SENDING


def test_a_delivery_the_platform_has_is_recorded_not_resent(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    adapter = scripted(clock, [], found=Receipt("55", "https://x.com/h/status/55", clock()))
    dispatcher = crashed_mid_call(engine, drop, adapter)
    clock.advance(minutes=6)
    assert len(dispatcher.reconcile_expired()) == 1
    dispatcher.run_due()
    [d] = rows(engine)
    assert (d.status, d.remote_id, d.attempts) == (DeliveryStatus.SENT, "55", 1)
    assert adapter.calls == []  # never published again
    with engine.ledger() as session:
        assert session.scalars(select(Attempt.outcome).order_by(Attempt.id)).all() == [
            None,  # the attempt the crash interrupted
            "reconcile:sent",
        ]


def test_a_delivery_the_platform_does_not_have_is_sent_once(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    adapter = scripted(clock, ["77"], found=None)
    dispatcher = crashed_mid_call(engine, drop, adapter)
    clock.advance(minutes=6)
    dispatcher.reconcile_expired()
    dispatcher.run_due()
    dispatcher.run_due()
    [d] = rows(engine)
    assert (d.status, d.remote_id) == (DeliveryStatus.SENT, "77")
    assert len(adapter.calls) == 1


def test_when_the_platform_cannot_be_asked_a_person_decides(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    adapter = scripted(clock, ["never"], found=UncertainError("a mail server cannot be asked"))
    dispatcher = crashed_mid_call(engine, drop, adapter)
    clock.advance(minutes=6)
    dispatcher.reconcile_expired()
    clock.advance(days=1)
    dispatcher.reconcile_expired()
    dispatcher.run_due()
    [d] = rows(engine)
    assert d.status == DeliveryStatus.UNCERTAIN
    assert adapter.calls == []


def test_a_platform_down_while_reconciling_is_asked_again_later(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    adapter = scripted(clock, [], found=TransientError("503"))
    dispatcher = crashed_mid_call(engine, drop, adapter)
    clock.advance(minutes=6)
    dispatcher.reconcile_expired()
    assert rows(engine)[0].status == DeliveryStatus.SENDING
    adapter.found = Receipt("88", None, clock())
    clock.advance(minutes=6)
    dispatcher.reconcile_expired()
    assert rows(engine)[0].remote_id == "88"


def test_rate_limited_attempts_are_not_counted(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    adapter = scripted(
        clock, [RateLimitedError("429", retry_after=60)] * 3 + [TransientError("503")]
    )
    dispatcher = one_delivery(engine, drop, adapter)
    for _ in range(4):
        dispatcher.run_due()
        clock.advance(seconds=61)
    [d] = rows(engine)
    assert d.attempts == 1  # the 503; the three 429s refused before doing anything
    assert d.status == DeliveryStatus.PENDING


def test_an_account_removed_from_config_fails_its_deliveries_and_nothing_else(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    dispatcher = one_delivery(engine, drop, scripted(clock, []))
    dispatcher.adapters = {}
    dispatcher.run_due()
    [d] = rows(engine)
    assert d.status == DeliveryStatus.FAILED
    assert d.last_error == "the account x:HaryanaPostal is no longer in config.toml"


def test_a_delivery_lost_again_and_again_ends_with_a_person(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    limit = engine.settings.dispatch.max_attempts
    adapter = scripted(clock, [ConnectionResetError("bug")] * (limit + 1), found=None)
    dispatcher = one_delivery(engine, drop, adapter)
    for _ in range(limit + 2):
        dispatcher.reconcile_expired()
        dispatcher.run_due()
        clock.advance(minutes=6)
    [d] = rows(engine)
    assert d.status == DeliveryStatus.UNCERTAIN
    assert len(adapter.calls) == limit


def test_a_pass_sends_at_most_its_batch(engine: Engine, drop: Drop, clock: FakeClock) -> None:
    drop("haryana", "a.toml", POST.format(extra=""))
    drop("haryana", "b.toml", POST.format(extra='priority = "urgent"'))
    engine.intake.scan()
    settings = engine.settings
    adapters = engine.dispatcher.adapters
    dispatcher = Dispatcher(
        engine.ledger, adapters, clock, settings.dispatch, settings.paths.queue, batch=3
    )
    assert len(dispatcher.run_due()) == 3
    assert len(dispatcher.run_due()) == 1


def test_an_outcome_is_not_recorded_over_a_lease_another_dispatcher_took(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    one_delivery(engine, drop, scripted(clock, []))
    with engine.ledger.begin() as session:
        [mine] = claim_due(session, clock(), timedelta(minutes=5), 1)
    clock.advance(minutes=6)
    with engine.ledger.begin() as session:
        [theirs] = claim_expired(session, clock(), timedelta(minutes=5), 1)
    with engine.ledger.begin() as session:
        assert not record_outcome(session, mine, DeliveryStatus.SENT, clock())
        assert record_outcome(session, theirs, DeliveryStatus.SENT, clock())


@pytest.mark.parametrize(
    ("error", "fix"),
    [
        (AuthError("token expired (code 190)"), "Fix: renew the credential"),
        (PermanentError("(#368) deemed abusive"), "Fix: read the platform's answer"),
    ],
)
def test_a_failure_for_good_is_an_alert_naming_the_delivery_and_the_fix(
    engine: Engine,
    drop: Drop,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
    fix: str,
) -> None:
    one_delivery(engine, drop, scripted(clock, [error])).run_due()
    [d] = rows(engine)
    [alert] = [r for r in caplog.records if r.getMessage().startswith("ALERT")]
    assert alert.levelname == "ERROR"
    assert f"ALERT delivery {d.id} to x:HaryanaPostal failed" in alert.getMessage()
    assert str(error) in alert.getMessage()
    assert fix in alert.getMessage()
