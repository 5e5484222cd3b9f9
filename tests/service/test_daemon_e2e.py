"""The daemon end to end: ``publisher run`` as a real subprocess, publishing for real (not dry-run)
to the fake X, Graph API and SMTP servers. The fakes live in the test's process and keep their own
records, so what counts as published is what the platforms received, not what the ledger claims;
a daemon killed with SIGKILL cannot take those records with it.

Black-box: post files in; the fakes' records, the ledger's rows and the queue folder out. Nothing
here depends on how dispatch is arranged inside the daemon.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.support.daemons import wait_until
from tests.support.platforms import (
    ACCOUNTS,
    LOCALES,
    UNIT,
    Platforms,
    assert_published_once,
    drop_post,
    fake_platforms,
)
from tests.support.processes import publisher, running

LEASE_SECONDS = 2.0  # a killed daemon's deliveries are reconciled this soon after
POSTS = 25  # x 4 accounts x 2 languages = 200 deliveries
KILLS = 24

Row = sqlite3.Row


@pytest.fixture
def platforms(tmp_path: Path) -> Iterator[Platforms]:
    with fake_platforms(tmp_path, lease_seconds=LEASE_SECONDS) as fakes:
        yield fakes


def deliveries(platforms: Platforms) -> list[Row]:
    """The ledger's deliveries, read as an administrator would (plain sqlite3, WAL lets the
    running daemon go on writing); none before the daemon has created the ledger."""
    if not platforms.database.exists():
        return []
    with closing(sqlite3.connect(platforms.database, timeout=30)) as db:
        db.row_factory = sqlite3.Row
        try:
            return db.execute(
                "SELECT id, account, locale, text, status, remote_id, last_error, attempts"
                " FROM deliveries ORDER BY id"
            ).fetchall()
        except sqlite3.OperationalError:  # the schema is still being created
            return []


def outcomes(platforms: Platforms) -> list[str | None]:
    """The ledger's attempts, in order, by their recorded outcome (None: no answer came)."""
    with closing(sqlite3.connect(platforms.database, timeout=30)) as db:
        return [o for (o,) in db.execute("SELECT outcome FROM attempts ORDER BY id")]


def all_sent(platforms: Platforms, expected: int) -> bool:
    rows = deliveries(platforms)
    return len(rows) == expected and all(r["status"] == "sent" for r in rows)


def test_files_dropped_while_the_daemon_runs_go_out_once_each(platforms: Platforms) -> None:
    with running(platforms.config, dry_run=False):
        drop_post(platforms.queue, 1, rename=True)
        drop_post(platforms.queue, 2, rename=False)
        wait_until("the first two posts to go out", lambda: all_sent(platforms, 16))
        drop_post(platforms.queue, 3)  # and one more, after the first are out
        wait_until("the third post to go out", lambda: all_sent(platforms, 24))
    rows = deliveries(platforms)
    assert {(r["account"], r["locale"]) for r in rows} == {
        (account, locale) for account in ACCOUNTS for locale in LOCALES
    }
    assert_published_once(platforms, rows)
    assert len(list((platforms.queue / UNIT / "archive").glob("*/notice-*.toml"))) == 3


FAULTS: dict[str, Callable[[Platforms], None]] = {
    "x": lambda p: p.x.fail_next("drop_after_store", method="POST"),
    "facebook": lambda p: p.graph.fail_next("drop_after_store", path_contains="/feed"),
    "instagram": lambda p: p.graph.fail_next("drop_after_store", path_contains="media_publish"),
}


@pytest.mark.parametrize("platform", list(FAULTS))
def test_a_post_stored_then_the_connection_dropped_is_reconciled_not_posted_again(
    platforms: Platforms, platform: str
) -> None:
    FAULTS[platform](platforms)
    head = f'platforms = ["{platform}"]\nlocales = ["en"]\n'
    with running(platforms.config, dry_run=False):
        drop_post(platforms.queue, 1, head=head)
        wait_until("the platform to store the post", lambda: platforms.count() == 1)
        wait_until("the delivery to be recorded as sent", lambda: all_sent(platforms, 1))
    rows = deliveries(platforms)
    assert rows[0]["attempts"] == 1  # never sent a second time
    assert outcomes(platforms) == [None, "reconcile:sent"]  # the answer lost; found by asking
    assert_published_once(platforms, rows)


def test_an_email_whose_connection_dropped_waits_for_a_person(platforms: Platforms) -> None:
    """A mail server cannot be asked whether it took a message: the delivery becomes uncertain
    and is not sent again until a person says so."""
    platforms.smtp.fail_next("drop_after_store")
    head = 'platforms = ["email"]\nlocales = ["en"]\n'
    with running(platforms.config, dry_run=False):
        drop_post(platforms.queue, 1, head=head)
        wait_until(
            "the delivery to be recorded as uncertain",
            lambda: [r["status"] for r in deliveries(platforms)] == ["uncertain"],
        )
        [row] = deliveries(platforms)
        assert len(platforms.smtp.messages) == 1  # not sent again while it waits
        resolved = publisher(
            "resolve", str(row["id"]), "--as", "sent", "--reason", "in the Marketing inbox",
            config=platforms.config,
        )  # fmt: skip
        assert resolved.returncode == 0, resolved.stderr
    assert deliveries(platforms)[0]["status"] == "sent"
    assert outcomes(platforms) == [None, "reconcile:uncertain", "resolved:sent"]
    assert len(platforms.smtp.messages) == 1


def test_kill_9_during_a_burst_publishes_every_delivery_exactly_once(
    platforms: Platforms, tmp_path: Path
) -> None:
    """A burst of 25 posts (200 deliveries on X, Facebook, Instagram and e-mail), the daemon
    killed with SIGKILL 24 times at random moments, each time restarted; then left to finish.

    A kill lands at a random moment: a random time after start (start-up, intake, reconciling
    what the last kill left) or just after a random number of new posts reached the fakes (in
    the middle of the next delivery). No kill lets more than its share of what is left go out,
    so the burst outlasts the kills. The seed and each kill's moment are added to a failure's
    report; E2E_SEED=<seed> replays the same moments (as nearly as a busy machine allows).

    E-mail is the one platform that cannot be asked whether it has a post, so a kill between
    handing a message to the mail server and recording it leaves that delivery uncertain, by
    design. Here the test plays the person who looks in the recipients' inbox (the fake's
    records) and resolves it with ``publisher resolve``; any other uncertain or failed delivery
    is a bug.
    """
    seed = int(os.environ.get("E2E_SEED") or random.randrange(2**32))
    rng = random.Random(seed)
    logs = tmp_path / "logs"
    logs.mkdir()
    story: list[str] = [f"E2E_SEED={seed}"]

    def explain() -> str:
        tails = []
        for log in sorted(logs.iterdir())[-3:]:
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
            tails.append(f"--- {log.name}\n" + "\n".join(lines[-15:]))
        return "\n".join(story + tails)

    for n in range(POSTS):
        drop_post(platforms.queue, n)
    expected = POSTS * 8
    daemon = None
    try:
        for run in range(KILLS):
            before = platforms.count()
            share = max(1, (expected - before) // (KILLS - run + 1))  # the burst outlasts the kills
            daemon = start(platforms, logs / f"run-{run:02d}.log")
            if rng.random() < 0.3:
                delay = rng.uniform(0.1, 2.5)
                reach(platforms, daemon, before + share, time.monotonic() + delay)
                moment = f"{delay:.2f} s after start, or once {share} new posts reached the fakes"
            else:
                posts, delay = rng.randint(1, share), rng.uniform(0, 0.05)
                reach(platforms, daemon, before + posts, time.monotonic() + 30)
                time.sleep(delay)
                moment = f"{delay * 1000:.0f} ms after {posts} new posts reached the fakes"
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
            story.append(
                f"kill {run + 1}: {moment}; the fakes hold {platforms.count()}; "
                f"exit {daemon.returncode}"
            )
            assert daemon.returncode == -signal.SIGKILL  # it was running, not dead already
        assert platforms.count() < expected, "the burst ended before the last kill"

        daemon = start(platforms, logs / "run-last.log")
        wait_until(
            "every delivery to be sent, a person resolving e-mail left uncertain",
            lambda: resolve_uncertain(platforms) and all_sent(platforms, expected),
            seconds=90,
        )
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0

        rows = deliveries(platforms)
        assert len(rows) == expected
        assert_published_once(platforms, rows)
        archived = list((platforms.queue / UNIT / "archive").glob("*/notice-*.toml"))
        assert len(archived) == POSTS
        assert list((platforms.queue / UNIT / "rejected").iterdir()) == []
        left = (platforms.queue / UNIT / "processing").rglob("*")  # processing/<host>/ too
        assert [p for p in left if p.is_file()] == []
    except BaseException as failure:
        failure.add_note(explain())  # the seed and the kills, so the failure can be replayed
        raise
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait()


def reach(
    platforms: Platforms, daemon: subprocess.Popen[bytes], posts: int, deadline: float
) -> None:
    """Wait until the fakes hold ``posts`` posts, the deadline (monotonic) passes, or the daemon
    has stopped by itself."""
    while platforms.count() < posts and time.monotonic() < deadline and daemon.poll() is None:
        time.sleep(0.002)


def start(platforms: Platforms, log: Path) -> subprocess.Popen[bytes]:
    """``publisher run`` for real, its log in a file (a pipe nobody reads would fill and stop
    it)."""
    with log.open("w", encoding="utf-8") as err:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "publisher", "--config", str(platforms.config), "run"],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def resolve_uncertain(platforms: Platforms) -> bool:
    """What a person does with an uncertain delivery: look on the platform, then decide. Only
    e-mail may be uncertain after a kill (the mail server cannot be asked); anything else, or
    a failed delivery, fails the test. Always True, so it can be chained in a condition."""
    rows = deliveries(platforms)
    bad = [dict(r) for r in rows
           if r["status"] == "failed" or (r["status"] == "uncertain"
                                          and r["account"] != "email:marketing")]  # fmt: skip
    assert bad == []
    inbox = {text: remote_id for account, text, remote_id in platforms.published()
             if account == "email:marketing"}  # fmt: skip
    for row in rows:
        if row["status"] != "uncertain":
            continue
        remote_id = inbox.get(row["text"])
        decision = ["--as", "sent", "--remote-id", remote_id] if remote_id else ["--as", "unsent"]
        done = publisher("resolve", str(row["id"]), *decision, "--reason", "checked the inbox",
                         config=platforms.config)  # fmt: skip
        assert done.returncode == 0, done.stderr
    return True
