"""Quota planning and rate limits, on the test clock: a burst is spaced to the platform's limits,
counted from the ledger (so across restarts), and a 429 is honoured to the second."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select

from publisher.adapters.base import Adapter
from publisher.adapters.registry import adapter_class, load_adapters, load_config
from publisher.adapters.x import XAdapter
from publisher.config.credentials import Credentials
from publisher.config.platforms import PlatformOptions, Quota
from publisher.config.settings import load_settings
from publisher.dispatch.dispatcher import Dispatcher
from publisher.dispatch.quotas import Quotas
from publisher.errors import ConfigError
from publisher.service.engine import Engine, platform_quotas
from publisher.store.db import Ledger, open_ledger
from publisher.store.ledger import Claim, claim_due
from publisher.store.models import Attempt, Delivery
from publisher.store.pacing import Send, posts_by_account, recent_sends
from publisher.vocabulary import DeliveryStatus
from tests.fakes.x_api import FakeX
from tests.support.clock import FakeClock
from tests.support.files import Drop
from tests.support.ledger import rows
from tests.support.stubs import scripted

HARYANA_X = "x:HaryanaPostal"
T0 = datetime(2030, 1, 1, tzinfo=UTC)


def burst(
    drop: Drop, unit: str, n: int, extra: str = 'platforms = ["x"]\nlocales = ["en"]'
) -> None:
    for i in range(n):
        drop(unit, f"p{i}.toml", f'id = "p{i}"\n{extra}\n[text]\nen = "News number {i}"\n')


def dispatcher(
    engine: Engine,
    adapters: dict[str, Adapter],
    quotas: dict[str, Quotas],
    ledger: Ledger | None = None,
) -> Dispatcher:
    settings = engine.settings
    return Dispatcher(
        ledger or engine.ledger,
        adapters,
        engine.clock,
        settings.dispatch,
        settings.paths.queue,
        rand=lambda: 1.0,
        quotas=quotas,
    )


def per_account(posts: int, minutes: float, *accounts: str) -> dict[str, Quotas]:
    rule = Quota(per="account", posts=posts, minutes=minutes)
    return {"x": Quotas([rule], dict.fromkeys(accounts, "x"))}


def attempts(engine: Engine) -> list[str | None]:
    with engine.ledger() as session:
        return list(session.scalars(select(Attempt.outcome).order_by(Attempt.id)))


def test_a_window_frees_when_its_oldest_posts_age_out() -> None:
    rules = [Quota(per="account", posts=3, minutes=10)]
    quotas = Quotas(rules, {"x:a": "x", "x:b": "x"}, parts_are_posts=True)
    sends = [Send("x:a", T0, 1), Send("x:a", T0 + timedelta(minutes=2), 2), Send("x:b", T0, 1)]
    now = T0 + timedelta(minutes=5)
    assert not quotas.fits({"x:a": 3, "x:b": 1}, "x:a", 1)
    assert quotas.fits({"x:a": 3, "x:b": 1}, "x:b", 2)
    assert quotas.free_at(sends, "x:b", 2, now) is None  # x:b has used 1 of 3
    assert quotas.free_at(sends, "x:a", 1, now) == T0 + timedelta(minutes=10)
    assert quotas.free_at(sends, "x:a", 2, now) == T0 + timedelta(minutes=12)  # both sends
    assert quotas.free_at(sends, "x:a", 9, now) == T0 + timedelta(minutes=12)  # an empty window
    assert quotas.free_at(sends, "x:a", 1, T0 + timedelta(minutes=10)) is None


def test_a_first_comment_is_no_post_of_its_own() -> None:
    quotas = Quotas([Quota(per="account", posts=2, minutes=60)], {"instagram:a": "instagram"})
    sends = [Send("instagram:a", T0, 2)]  # a post and its first comment: one publish
    assert quotas.free_at(sends, "instagram:a", 1, T0) is None
    assert quotas.fits({"instagram:a": 1}, "instagram:a", 1)


def test_an_app_quota_is_shared_by_its_accounts_only() -> None:
    apps = {"x:a": "shared", "x:b": "shared", "x:c": "own"}
    quotas = Quotas([Quota(per="app", posts=2, minutes=60)], apps)
    sends = [Send("x:a", T0, 1), Send("x:b", T0, 1)]
    assert quotas.free_at(sends, "x:b", 1, T0) == T0 + timedelta(minutes=60)
    assert quotas.free_at(sends, "x:c", 1, T0) is None


@pytest.mark.both_stores
def test_a_burst_goes_out_spaced_without_counting_attempts(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    burst(drop, "haryana", 5)
    engine.intake.scan()
    adapter = scripted(clock, ["1", "2", "3", "4", "5"])
    send = dispatcher(engine, {HARYANA_X: adapter}, per_account(2, 60, HARYANA_X))

    assert len(send.run_due()) == 2
    waiting = [d for d in rows(engine) if d.status == DeliveryStatus.PENDING]
    assert len(waiting) == 3
    assert {d.not_before for d in waiting} == {clock() + timedelta(minutes=60)}
    assert {d.attempts for d in waiting} == {0}  # deferred, never claimed
    assert attempts(engine) == ["sent", "sent"]

    clock.advance(minutes=59, seconds=59)
    assert send.run_due() == []
    # a restart: a new dispatcher on the same ledger counts the same sends
    send = dispatcher(engine, {HARYANA_X: adapter}, per_account(2, 60, HARYANA_X))
    assert send.run_due() == []
    clock.advance(seconds=1)
    assert len(send.run_due()) == 2
    clock.advance(minutes=60)
    assert len(send.run_due()) == 1
    texts = [c.parts[0].text for c in adapter.calls]
    assert [t.startswith(f"News number {i}") for i, t in enumerate(texts)] == [True] * 5  # order
    assert attempts(engine) == ["sent"] * 5


@pytest.mark.both_stores
def test_accounts_sharing_an_app_share_its_quota(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    burst(drop, "directorate", 2, 'units = ["haryana", "tamil-nadu"]\nplatforms = ["x"]')
    engine.intake.scan()
    accounts = [HARYANA_X, "x:TNPostalCircle"]
    rule = Quota(per="app", posts=3, minutes=15)
    quotas = {"x": Quotas([rule], dict.fromkeys(accounts, "circles"))}
    send = dispatcher(engine, {a: scripted(clock, ["1", "2"]) for a in accounts}, quotas)
    assert len(send.run_due()) == 3
    [late] = [d for d in rows(engine) if d.status == DeliveryStatus.PENDING]
    assert late.not_before == clock() + timedelta(minutes=15)


@pytest.mark.both_stores
def test_replies_on_x_count_as_posts(engine: Engine, drop: Drop, clock: FakeClock) -> None:
    message = "हरियाणा डाक परिमंडल " * 13  # long enough for a reply under the post
    drop("haryana", "t.toml", f'platforms = ["x"]\nlocales = ["hi"]\n[text]\nhi = "{message}"\n')
    burst(drop, "haryana", 1)
    engine.intake.scan()
    quotas = per_account(2, 60, HARYANA_X)
    quotas["x"] = Quotas(quotas["x"].rules, quotas["x"].apps, parts_are_posts=True)
    send = dispatcher(engine, {HARYANA_X: scripted(clock, ["1", "2"])}, quotas)
    assert len(send.run_due()) == 1  # the thread: a post and a reply, the whole quota
    clock.advance(minutes=60)
    assert len(send.run_due()) == 1


@pytest.mark.both_stores
def test_a_call_a_crash_cut_short_stops_counting_once_it_is_found_missing(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    """A daemon died in its call to X; the next one asks X, which does not have the post. Until
    then the call counted as a post that may have landed; once it is known lost, it does not hold
    the account's quota: the delivery goes out again at once, not an hour later."""
    burst(drop, "haryana", 1)
    engine.intake.scan()
    lease = timedelta(seconds=engine.settings.dispatch.lease_seconds)
    with engine.ledger.begin() as session:  # claimed, then the daemon died mid-call
        claim_due(session, clock(), lease, 10)
    adapter = scripted(clock, ["1"], found=None)
    send = dispatcher(engine, {HARYANA_X: adapter}, per_account(1, 60, HARYANA_X))
    clock.advance(seconds=lease.total_seconds() + 1)
    assert len(send.reconcile_expired()) == 1
    assert len(send.run_due()) == 1
    assert len(adapter.calls) == 1
    assert attempts(engine) == ["lost", "reconcile:retry", "sent"]
    [d] = rows(engine)
    assert d.status == DeliveryStatus.SENT


@pytest.mark.both_stores
def test_a_429_is_honoured_to_the_second_and_not_counted(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    """The real X adapter against the fake X: the reset time X gives holds this delivery and
    the account's other due deliveries, and the refusal is no failed attempt."""
    burst(drop, "haryana", 2)
    engine.intake.scan()
    account = next(a for _, a in engine.settings.accounts() if a.key == HARYANA_X)
    keys = ("app-key", "app-secret", "1001-token", "token-secret")
    with FakeX(clock=clock) as fake:
        fake.add_user("1001", "HaryanaPostal", *keys)
        secrets = dict(zip(XAdapter.secrets, keys, strict=True))
        adapter = XAdapter(account, secrets, PlatformOptions(api_base_url=fake.url), clock)
        send = dispatcher(engine, {HARYANA_X: adapter}, {})
        reset = clock() + timedelta(seconds=137)
        fake.fail_next("rate_limit", reset=int(reset.timestamp()), method="POST")

        send.run_due()
        assert {(d.status, d.not_before, d.attempts) for d in rows(engine)} == {
            (DeliveryStatus.PENDING, reset, 0)
        }
        clock.advance(seconds=136)
        assert send.run_due() == []
        clock.advance(seconds=1)
        assert len(send.run_due()) == 2
        posts = [r for r in fake.requests if (r.method, r.path) == ("POST", "/2/tweets")]
        assert len(posts) == 3  # the refused one, then each delivery once
        assert fake.count_posts("1001") == 2
    assert {(d.status, d.attempts) for d in rows(engine)} == {(DeliveryStatus.SENT, 1)}


def test_dry_run_is_not_spaced(engine: Engine, drop: Drop) -> None:
    burst(drop, "haryana", 3)
    engine.intake.scan()
    engine.dispatcher.quotas = per_account(1, 60, HARYANA_X)
    assert len(engine.dispatcher.run_due("x")) == 3  # nothing is sent: nothing to space


def test_the_claim_of_one_platform_and_the_quota_count_read_indexes(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    burst(drop, "haryana", 3)
    engine.intake.scan()
    statements: list[tuple[str, object]] = []
    bind = engine.ledger.kw["bind"]

    @event.listens_for(bind, "before_cursor_execute")
    def keep(_conn: object, _cursor: object, sql: str, params: object, *_: object) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            statements.append((sql, params))

    since, lease = clock() - timedelta(days=1), timedelta(minutes=5)
    with engine.ledger.begin() as session:
        claim_due(session, clock(), lease, 1, platform="x")
        recent_sends(session, "x", since, clock(), lease)
        posts_by_account(session, "x", since, lease, parts_are_posts=True)
    event.remove(bind, "before_cursor_execute", keep)
    claim = next(s for s in statements if "FROM deliveries" in s[0] and "LIMIT" in s[0])
    counts = [s for s in statements if "FROM deliveries JOIN attempts" in s[0]]
    assert len(counts) == 2
    with bind.connect() as connection:
        claim_plan, *count_plans = [
            " | ".join(
                row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
            )
            for sql, params in (claim, *counts)
        ]
    assert "USING INDEX ix_deliveries_platform_next" in claim_plan, claim_plan
    assert "TEMP B-TREE" not in claim_plan, claim_plan  # read in order, never sorted
    for plan in count_plans:  # only the window's attempts, never every delivery of a platform
        assert "ix_attempts_finished_at" in plan, plan
        assert "SCAN attempts" not in plan, plan
        assert "SCAN deliveries" not in plan, plan


@pytest.mark.parametrize(
    ("quotas", "where", "said"),
    [
        (
            '[{ per = "account", posts = 0, minutes = 15 }]',
            "platforms.x.quotas[0].posts",
            "greater than or equal to 1",
        ),
        (
            '[{ per = "user", posts = 5, minutes = 15 }]',
            "platforms.x.quotas[0].per",
            "'account' or 'app'",
        ),
        ('[{ per = "app", posts = 5 }]', "platforms.x.quotas[0].minutes", "missing"),
        (
            '[{ per = "app", posts = 5, minutes = 15 }, { per = "app", posts = 9, minutes = 15 }]',
            "platforms.x.quotas",
            "two quotas per app over 15 minutes",
        ),
    ],
)
def test_bad_quotas_stop_start_up_naming_the_key(
    config_path: Path, quotas: str, where: str, said: str
) -> None:
    with config_path.open("a", encoding="utf-8") as f:
        f.write(f"\n[platforms.x]\nquotas = {quotas}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(config_path)
    [problem] = caught.value.problems
    assert problem.where == where
    assert said in str(problem)


def test_quota_defaults_are_below_the_published_limits(config_path: Path) -> None:
    """The example config names no quotas: each platform is paced by its adapter's defaults."""
    settings = load_settings(config_path)
    quotas = platform_quotas(settings, load_adapters(settings, Credentials(None), dry_run=True,
                                                      clock=FakeClock()))  # fmt: skip
    assert [(q.per, q.posts, q.minutes) for q in quotas["x"].rules] == [
        ("account", 100, 1440),  # X API v2 Basic: 100 / 24 h per user
        ("app", 1667, 1440),  # and 1,667 / 24 h per app
    ]
    assert [(q.per, q.posts) for q in quotas["instagram"].rules] == [("account", 50)]
    assert "email" not in quotas  # the example has no e-mail account: nothing to pace
    assert adapter_class("email").rules.quotas == ()


def test_the_app_of_an_account_is_named_or_told_by_its_credentials(
    config_path: Path, engine: Engine, clock: FakeClock
) -> None:
    text = config_path.read_text(encoding="utf-8").replace(
        'credential = "x-haryana"', 'credential = "x-haryana"\napp = "haryana-app"'
    )
    config_path.write_text(text, encoding="utf-8")
    settings = load_settings(config_path)
    adapters = dict(engine.dispatcher.adapters)  # dry-run: credentials tell nothing
    for handle, n, consumer in [("IndiaPostOffice", 1, "one"), ("WBPostalCircle", 2, "one"),
                                ("MahaPostalCircle", 3, "two")]:  # fmt: skip
        account = next(a for _, a in settings.accounts() if a.key == f"x:{handle}")
        secrets = dict(zip(XAdapter.secrets, (consumer, "s", f"{n}-t", "s"), strict=True))
        adapters[account.key] = XAdapter(account, secrets, PlatformOptions(), clock)
    apps = platform_quotas(settings, adapters)["x"].apps
    assert apps["x:HaryanaPostal"] == "haryana-app"  # named in config.toml
    assert apps["x:IndiaPostOffice"] == apps["x:WBPostalCircle"]  # one consumer key, one app
    assert apps["x:MahaPostalCircle"] != apps["x:IndiaPostOffice"]
    assert apps["x:TNPostalCircle"] == "x"  # nothing tells: one app for the platform
    assert "one" not in "".join(apps.values())  # the key itself is never used as the name


def test_a_delivery_of_every_platform_is_claimed_by_its_own_worker(
    engine: Engine, drop: Drop
) -> None:
    drop("haryana", "two.toml", 'platforms = ["x", "facebook"]\n[text]\nen = "Two platforms"\n')
    engine.intake.scan()
    sent = {p: engine.dispatch(p) for p in engine.platforms()}
    assert {p: {c.platform for c in claims} for p, claims in sent.items()} == {
        "facebook": {"facebook"},
        "instagram": set(),
        "x": {"x"},
    }
    with engine.ledger() as session:
        assert set(session.scalars(select(Delivery.status))) == {DeliveryStatus.DRY_RUN}


def test_an_apps_spent_daily_limit_holds_every_account_of_the_app(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    burst(drop, "directorate", 1, 'units = ["haryana", "tamil-nadu"]\nplatforms = ["x"]')
    engine.intake.scan()
    keys = [HARYANA_X, "x:TNPostalCircle"]
    accounts = {a.key: a for _, a in engine.settings.accounts() if a.key in keys}
    with FakeX(clock=clock) as fake:
        adapters: dict[str, Adapter] = {}
        for n, key in enumerate(keys):
            secrets = ("app-key", "app-secret", f"100{n}-token", f"secret-{n}")
            fake.add_user(f"100{n}", accounts[key].handle, *secrets)
            options = PlatformOptions(api_base_url=fake.url)
            credential = dict(zip(XAdapter.secrets, secrets, strict=True))
            adapters[key] = XAdapter(accounts[key], credential, options, clock)
        send = dispatcher(engine, adapters, {"x": Quotas([], dict.fromkeys(keys, "x"))})
        reset = clock() + timedelta(hours=5)
        fake.fail_next("rate_limit", method="POST", daily="app", daily_reset=int(reset.timestamp()))
        send.run_due()
        posts = [r for r in fake.requests if (r.method, r.path) == ("POST", "/2/tweets")]
    assert len(posts) == 1  # the other account was not even tried: the app's day is spent
    assert {(d.status, d.not_before, d.attempts) for d in rows(engine)} == {
        (DeliveryStatus.PENDING, reset, 0)
    }


@pytest.mark.both_stores
def test_dispatchers_side_by_side_send_no_more_than_the_quota(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    """Four dispatchers (as on four hosts, each with its own connections) share one account's
    quota: each counts what the others sent, and what they are sending, before it claims."""
    burst(drop, "haryana", 12)
    engine.intake.scan()
    quotas = per_account(5, 60, HARYANA_X)
    start = threading.Barrier(4)
    sent: list[Claim] = []
    errors: list[BaseException] = []

    def host(name: str) -> None:
        ledger = open_ledger(engine.settings.database_url)
        adapter = scripted(clock, [f"{name}-{n}" for n in range(12)])
        send = dispatcher(engine, {HARYANA_X: adapter}, quotas, ledger)
        try:
            start.wait()
            while claims := send.run_due():
                sent.extend(claims)
        except BaseException as error:
            errors.append(error)
            raise
        finally:
            ledger.kw["bind"].dispose()

    hosts = [threading.Thread(target=host, args=(str(n),)) for n in range(4)]
    for thread in hosts:
        thread.start()
    for thread in hosts:
        thread.join()
    assert errors == []
    assert len(sent) == 5
    assert attempts(engine) == ["sent"] * 5
    waiting = [d for d in rows(engine) if d.status == DeliveryStatus.PENDING]
    assert len(waiting) == 7
    assert {d.attempts for d in waiting} == {0}
