"""The running daemon publishing for real to the fake X, Graph API and SMTP servers: each platform
in a worker of its own, quotas that keep a burst under the platform's limit across restarts, and a
SIGTERM that ends within its bound without ever sending a delivery twice."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from publisher.dispatch.workers import Workers
from publisher.store.ledger import Claim
from tests.fakes.graph_api import FakeGraph
from tests.fakes.smtp import FakeSMTP
from tests.fakes.x_api import FakeX
from tests.support.files import REPO
from tests.support.processes import publisher, running

X_KEYS = ("app-key", "app-secret", "1001-token", "token-secret")
PAGE, PAGE_TOKEN = "100064556412345", "page-token"


@dataclass
class Site:
    """A config publishing to the fakes, and the fakes."""

    config: Path
    env: dict[str, str]
    x: FakeX
    graph: FakeGraph
    smtp: FakeSMTP

    @property
    def folder(self) -> Path:
        return self.config.parent / "var" / "queue" / "directorate"

    def drop(self, n: int, extra: str = "", first: int = 0) -> None:
        """``n`` post files, renamed into place as a careful writer does."""
        for i in range(first, first + n):
            part = self.folder / f".p{i}.part"
            part.write_text(f'id = "p{i}"\n{extra}\n[text]\nen = "Notice {i}"\n', encoding="utf-8")
            part.rename(self.folder / f"p{i}.toml")

    def statuses(self) -> list[tuple[str, str]]:
        ledger = sqlite3.connect(self.config.parent / "var" / "state" / "publisher.db")
        try:
            return ledger.execute("SELECT platform, status FROM deliveries ORDER BY id").fetchall()
        finally:
            ledger.close()

    def x_posts(self) -> int:
        return sum((r.method, r.path) == ("POST", "/2/tweets") for r in self.x.requests)


CONFIG = """\
[organisation]
name = "Department of Posts"
directorate = "directorate"
[paths]
queue = "var/queue"
state = "var/state"
templates = "{templates}"
[intake]
settle_seconds = 0
poll_seconds = 1
[dispatch]
lease_seconds = 3
retry_base_seconds = 1
retry_max_seconds = 2
stop_seconds = 2
[platforms.x]
api_base_url = "{x}"
timeout_seconds = 120
quotas = {quotas}
[platforms.facebook]
api_base_url = "{graph}"
[platforms.email]
host = "127.0.0.1"
port = {smtp}
security = "none"
[units.directorate]
name = "Directorate"
[units.directorate.nodal_officer]
name = "A. Sharma"
designation = "ADG (Marketing)"
email = "adg@example.gov.in"
phone = "+91-11-0000-0000"
[[units.directorate.accounts]]
platform = "x"
handle = "IndiaPostOffice"
platform_id = "1001"
locales = ["en"]
credential = "x-directorate"
[[units.directorate.accounts]]
platform = "facebook"
handle = "PostOffice.IN"
platform_id = "{page}"
locales = ["en"]
credential = "facebook-directorate"
[[units.directorate.accounts]]
platform = "email"
handle = "circulars"
locales = ["en"]
recipients = ["marketing@example.gov.in"]
"""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Callable[..., Site]]:
    with FakeX() as x, FakeGraph() as graph, FakeSMTP() as smtp:
        x.add_user("1001", "IndiaPostOffice", *X_KEYS)
        graph.add_page(PAGE, "PostOffice.IN", PAGE_TOKEN)

        def make(quotas: str = "[]") -> Site:
            config = tmp_path / "config.toml"
            config.write_text(
                CONFIG.format(templates=REPO / "templates", x=x.url, graph=graph.url,
                              smtp=smtp.port, page=PAGE, quotas=quotas),
                encoding="utf-8",
            )  # fmt: skip
            keys = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
            env = {
                **os.environ,
                "PUBLISHER_CREDENTIAL_X_DIRECTORATE": json.dumps(
                    dict(zip(keys, X_KEYS, strict=True))
                ),
                "PUBLISHER_CREDENTIAL_FACEBOOK_DIRECTORATE": json.dumps(
                    {"page_access_token": PAGE_TOKEN}
                ),
            }
            (tmp_path / "var" / "queue" / "directorate").mkdir(parents=True)
            return Site(config, env, x, graph, smtp)

        yield make
        x.release()  # let any answer still held go, so the fake stops at once


def daemon(site: Site) -> AbstractContextManager[subprocess.Popen[str]]:
    """``publisher run`` for real (processes.running)."""
    return running(site.config, dry_run=False, env=site.env)


def until(condition: Callable[[], bool], what: str, seconds: float = 90) -> None:
    """Wait for ``condition``; a generous safety bound, not a speed requirement."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("outage", ["hang", "server_error"])
def test_a_platform_down_delays_only_itself(site: Callable[..., Site], outage: str) -> None:
    """X answers 503 to every post, or holds each call (then 503): a worker that shared its
    thread with X would wait out X's 120-second timeout before Facebook's turn."""
    s = site()
    s.x.fail_next(outage, count=1000, method="POST")
    with daemon(s):
        s.drop(3)
        until(lambda: s.x_posts() >= 1, "X was called: it is down, not idle")
        until(lambda: s.graph.count_published(PAGE) == 3, "the Facebook posts went out")
        until(lambda: len(s.smtp.messages) == 3, "the e-mails went out")
        assert s.x.count_posts() == 0
        s.x.clear_faults()
        s.x.release()  # the outage ends: the held call answers 503, later ones are served
        until(lambda: s.x.count_posts() == 3, "the X posts went out after the outage")
        until(lambda: {st for _, st in s.statuses()} == {"sent"}, "all recorded as sent")
    assert sorted(t.text.split(" ")[1] for t in s.x.tweets) == ["0", "1", "2"]  # once each
    assert s.graph.count_published(PAGE) == 3
    assert len(s.smtp.messages) == 3


def test_a_burst_is_spaced_under_the_platforms_limit(site: Callable[..., Site]) -> None:
    s = site(quotas='[{ per = "account", posts = 2, minutes = 0.05 }]')  # 2 in any 3 s
    s.x.limit_posts(2, 3)  # X refuses a third post in one of its 3-second windows
    with daemon(s):
        s.drop(6, 'platforms = ["x"]')
        until(lambda: s.x.count_posts() == 6, "all six posts went out")
    assert s.x.refused == 0  # never a 429
    assert s.x_posts() == 6


def test_the_quota_counts_across_a_restart(site: Callable[..., Site]) -> None:
    s = site(quotas='[{ per = "account", posts = 2, minutes = 10 }]')
    s.x.limit_posts(2, 600)
    s.drop(4, 'platforms = ["x"]')
    first = publisher("run", "--once", config=s.config, env=s.env)
    assert first.returncode == 0, first.stderr
    assert "2 deliveries sent" in first.stdout
    assert "2 deliveries scheduled for later" in first.stdout
    s.drop(1, 'platforms = ["x"]', first=4)  # due at once: only the count can hold it back
    again = publisher("run", "--once", config=s.config, env=s.env)
    assert again.returncode == 0, again.stderr
    assert "0 deliveries sent" in again.stdout
    assert "x:IndiaPostOffice has used its quota" in again.stderr
    assert (s.x.count_posts(), s.x.refused, s.x_posts()) == (2, 0, 2)


def test_sigterm_during_a_slow_call_exits_in_bound_and_never_sends_twice(
    site: Callable[..., Site],
) -> None:
    s = site()
    s.x.fail_next("hang", method="POST", then="")  # held; on release, X stores the post
    with daemon(s) as process:
        s.drop(1, 'platforms = ["x"]')
        until(lambda: s.x_posts() == 1, "the call to X was made")
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=60)  # the bound is 2 s; this only guards the test
    assert process.returncode == 0, log
    assert "a call to x is still running after 2s: its delivery stays 'sending'" in log
    assert s.statuses() == [("x", "sending")]

    s.x.release()  # the call the daemon gave up on reaches X after all
    until(lambda: s.x.count_posts() == 1, "X stored the post")
    with daemon(s):  # once the lease expires, X is asked, and the post is found there
        until(lambda: s.statuses() == [("x", "sent")], "the delivery was reconciled")
    assert s.x_posts() == 1  # never posted again
    ledger = sqlite3.connect(s.config.parent / "var" / "state" / "publisher.db")
    outcomes = [o for (o,) in ledger.execute("SELECT outcome FROM attempts ORDER BY id")]
    ledger.close()
    assert outcomes == [None, "reconcile:sent"]


def test_stopping_reports_the_worker_still_in_a_call_and_starts_no_other() -> None:
    in_call, release = threading.Event(), threading.Event()
    passes: list[str] = []

    def dispatch(platform: str, stop: threading.Event) -> list[Claim]:
        passes.append(platform)
        if platform == "x":
            in_call.set()
            release.wait(60)  # a call that outlives the bound
        return []

    workers = Workers(dispatch, lambda _: None, lambda: datetime.now(UTC), idle=60)
    workers.ensure(["x", "email"])
    try:
        assert in_call.wait(30)
        assert workers.stop(3) == ["x"]  # e-mail, idle, stopped; X is still in its call
        workers.ensure(["facebook"])
        threads = {t.name for t in threading.enumerate()}
        assert "dispatch-facebook" not in threads  # nothing starts once stopping
    finally:
        release.set()
