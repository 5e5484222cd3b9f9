"""Several dispatchers on one ledger, each with an engine (a pool, a connection) of its own, as
daemons on several hosts would be: every due delivery is claimed by exactly one of them."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from publisher.config.settings import load_settings
from publisher.store.db import Ledger, open_ledger
from publisher.store.ledger import claim_due, claim_expired
from publisher.store.models import Attempt, Delivery, Post
from publisher.vocabulary import DeliveryStatus
from tests.support.processes import wait_for_line
from tests.support.schedules import DAILY, write_rule

pytestmark = pytest.mark.both_stores

DELIVERIES = 2_000
DISPATCHERS = 4
LEASE = timedelta(minutes=5)


def due_deliveries(ledger: Ledger, now: datetime) -> None:
    with ledger.begin() as session:
        post_id = session.scalar(
            insert(Post)
            .values(key="k", unit="u", source_name="f.toml", source_sha256="s", priority=0,
                    not_before=now, received_at=now, request={})
            .returning(Post.id)
        )  # fmt: skip
        session.execute(
            insert(Delivery),
            [
                {"post_id": post_id, "idempotency_key": f"k|x:a{n}|en", "unit": "u",
                 "account": f"x:a{n}", "platform": "x", "locale": "en", "text": f"t{n}",
                 "parts": [], "notes": [], "progress": {}, "tags": [], "media": [],
                 "status": DeliveryStatus.PENDING, "priority": n % 2, "not_before": now}
                for n in range(DELIVERIES)
            ],
        )  # fmt: skip


def claim_all(url: str, now: datetime, *, expired: bool) -> list[list[int]]:
    """Each dispatcher claims ten at a time until nothing is left for it; its claims' ids."""
    claimed: list[list[int]] = [[] for _ in range(DISPATCHERS)]
    errors: list[BaseException] = []
    start = threading.Barrier(DISPATCHERS)

    def dispatcher(mine: list[int]) -> None:
        ledger = open_ledger(url)  # an engine of its own: its own connections
        try:
            start.wait()
            while True:
                with ledger.begin() as session:
                    if expired:
                        claims = claim_expired(session, now, LEASE, 10)
                    else:
                        claims = claim_due(session, now, LEASE, 10)
                if not claims:
                    return
                mine.extend(c.delivery_id for c in claims)
        except BaseException as error:
            errors.append(error)
            raise
        finally:
            ledger.kw["bind"].dispose()

    threads = [threading.Thread(target=dispatcher, args=(mine,)) for mine in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return claimed


def test_every_due_delivery_is_claimed_by_exactly_one_dispatcher(ledger_url: str) -> None:
    now = datetime.now(UTC)
    ledger = open_ledger(ledger_url)
    due_deliveries(ledger, now)

    claimed = claim_all(ledger_url, now, expired=False)
    every = Counter(n for mine in claimed for n in mine)
    with ledger() as session:
        ids = set(session.scalars(select(Delivery.id)))
        assert set(every) == ids
        assert max(every.values()) == 1  # none claimed twice
        statuses = Counter(session.scalars(select(Delivery.status)))
        assert statuses == {DeliveryStatus.SENDING: DELIVERIES}
        attempts = session.execute(
            select(Attempt.delivery_id, func.count()).group_by(Attempt.delivery_id)
        ).all()
        assert len(attempts) == DELIVERIES
        assert {n for _, n in attempts} == {1}  # one attempt each, as one claim each made

    # The senders all vanished: once the leases expire, each is asked about exactly once.
    later = now + LEASE + timedelta(seconds=1)
    reclaimed = claim_all(ledger_url, later, expired=True)
    again = Counter(n for mine in reclaimed for n in mine)
    assert set(again) == ids
    assert max(again.values()) == 1
    with ledger() as session:
        reconciling = session.scalar(
            select(func.count()).select_from(Attempt).where(Attempt.outcome == "reconcile")
        )
        assert reconciling == DELIVERIES


def test_two_daemons_on_one_ledger_make_one_post_per_firing(config_path: Path) -> None:
    """Two hosts (each its own state and queue folders, one schedules folder, one ledger) start
    at once and both catch up the same firing of a rule: the ledger keeps one post, and each of
    its deliveries is dispatched once, by one of them."""
    settings = load_settings(config_path)
    other = config_path.parent / "host-b" / "config.toml"
    other.parent.mkdir()
    text = config_path.read_text(encoding="utf-8")
    text = text.replace('schedules = "schedules"', f'schedules = "{settings.paths.schedules}"')
    if "\nurl = " not in text:  # SQLite: the first host's file, named for the second
        text = text.replace("[database]\n", f'[database]\nurl = "{settings.database_url}"\n', 1)
    other.write_text(text, encoding="utf-8")
    fired = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)
    local = fired.astimezone(settings.zone)
    write_rule(settings, "daily-tip.toml", DAILY.format(minute=local.minute, hour=local.hour))

    daemons = [
        subprocess.Popen(
            [sys.executable, "-m", "publisher", "--config", str(config), "run", "--dry-run"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for config in (config_path, other)
    ]
    try:
        for daemon in daemons:
            wait_for_line(daemon, "watching")
        ledger = open_ledger(settings.database_url)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the workers send them
            with ledger() as session:
                posts = session.scalars(select(Post)).all()
                statuses = {d.status for p in posts for d in p.deliveries}
            if posts and not statuses & {DeliveryStatus.PENDING, DeliveryStatus.SENDING}:
                break  # every delivery dispatched, none still in flight
            time.sleep(0.1)
    finally:
        for daemon in daemons:
            daemon.send_signal(signal.SIGTERM)
        logs = [daemon.communicate(timeout=30)[1] for daemon in daemons]
    assert [daemon.returncode for daemon in daemons] == [0, 0], logs
    assert [p.key for p in posts] == [f"haryana/daily-tip@{fired:%Y-%m-%dT%H:%M}Z"]
    assert statuses == {DeliveryStatus.DRY_RUN}
    with ledger() as session:
        attempts = session.execute(
            select(Attempt.delivery_id, func.count()).group_by(Attempt.delivery_id)
        ).all()
    assert len(attempts) == len(posts[0].deliveries)
    assert {n for _, n in attempts} == {1}
    ledger.kw["bind"].dispose()
