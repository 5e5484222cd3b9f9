"""Several daemons sharing one queue folder, each as a host of its own (``publisher run --host``):
real folders, real ``publisher`` subprocesses, one shared ledger.

Two "servers" here are two processes on one machine, each with its own config and state folder
(as each server has its own disk) and the same queue folder and ledger (as a shared mount and a
shared database would give them).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from publisher.intake import queue
from publisher.intake.postfile import parse_post
from publisher.intake.queue import Outcome, Result
from publisher.planning.plan import PlannedDelivery, new_post, plan
from publisher.planning.render import Renderer
from publisher.service.engine import Engine
from publisher.store.models import Post
from publisher.store.posts import record_post
from tests.support.clock import FakeClock
from tests.support.files import Drop
from tests.support.ledger import POST, rows
from tests.support.platforms import UNIT, drop_post, fake_platforms
from tests.support.processes import publisher, running, wait_for_line

PONGAL = '[text]\nta = "பொங்கல் நல்வாழ்த்துகள்!"\nen = "Happy Pongal!"\n'
DIWALI = '[text]\nta = "தீபாவளி நல்வாழ்த்துகள்!"\nen = "Happy Diwali!"\n'


def host_config(base: Path, host: str, ledger_url: str) -> Path:
    """``base``'s config for another server: its own state folder, the same queue folder (paths
    are relative to the config's folder, which both share) and the ledger at ``ledger_url``."""
    text = base.read_text(encoding="utf-8")
    assert text.count('state = "var/state"') == 1
    text = text.replace('state = "var/state"', f'state = "var/state-{host}"')
    url = f'url = "{ledger_url}"\n'
    if "[database]\n" in text:
        text = text.replace("[database]\n", f"[database]\n{url}", 1)
    else:
        text += f"\n[database]\n{url}"
    path = base.with_name(f"{host}.toml")
    path.write_text(text, encoding="utf-8")
    return path


def daemon(
    config: Path, host: str, *, dry_run: bool = True
) -> AbstractContextManager[subprocess.Popen[str]]:
    """``publisher run --host HOST`` as a service (processes.running)."""
    return running(config, dry_run=dry_run, args=["--host", host])


def files(folder: Path) -> list[str]:
    """The files in ``folder`` and below, by their paths inside it."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_host_restarting_puts_back_its_own_leftovers_and_not_another_hosts(
    config_path: Path, ledger_url: str
) -> None:
    a, b = host_config(config_path, "a", ledger_url), host_config(config_path, "b", ledger_url)
    unit = config_path.parent / "var" / "queue" / "tamil-nadu"
    with daemon(b, "b"):
        taking = unit / "processing" / "b" / "pongal.toml"  # host b is in the middle of it
        taking.write_text(PONGAL, encoding="utf-8")
        left = unit / "processing" / "a" / "diwali.toml"  # claimed by host a before it crashed
        left.parent.mkdir()
        left.write_text(DIWALI, encoding="utf-8")

        restart = publisher("run", "--dry-run", "--once", "--host", "a", config=a)

        assert restart.returncode == 0, restart.stderr
        assert f"putting back {left}, left in processing by an earlier run" in restart.stderr
        assert "pongal" not in restart.stderr
        # Host a takes it at once, or host b does on its folder event: either way, once.
        deadline = time.monotonic() + 30
        while not list(unit.glob("archive/*/diwali.toml")) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert taking.read_text(encoding="utf-8") == PONGAL  # still where host b put it
    assert len(list(unit.glob("archive/*/diwali.toml"))) == 1
    assert files(unit / "processing") == ["b/pongal.toml"]
    assert not (unit / "pongal.toml").exists()


def test_files_left_in_processing_by_the_version_before_hosts_are_put_back(
    config_path: Path,
) -> None:
    unit = config_path.parent / "var" / "queue" / "tamil-nadu"
    (unit / "processing").mkdir(parents=True)
    left = unit / "processing" / "diwali.toml"
    left.write_text(DIWALI, encoding="utf-8")

    run = publisher("run", "--dry-run", "--once", "--host", "a", config=config_path)

    assert run.returncode == 0, run.stderr
    assert f"putting back {left}" in run.stderr
    assert run.stdout.startswith("1 post file(s) taken")
    assert len(list(unit.glob("archive/*/diwali.toml"))) == 1
    assert files(unit / "processing") == []
    assert sorted(p.name for p in (unit / "processing").iterdir()) == ["a"]


def test_without_host_a_daemon_takes_files_under_this_machines_name(config_path: Path) -> None:
    run = publisher("run", "--dry-run", "--once", config=config_path)
    assert run.returncode == 0, run.stderr
    processing = config_path.parent / "var" / "queue" / "haryana" / "processing"
    assert [p.name for p in processing.iterdir()] == [socket.gethostname().lower()]


def test_a_second_daemon_under_the_same_host_name_is_refused(
    config_path: Path, ledger_url: str
) -> None:
    """Each with its own state folder: only the host name is shared, so only its lock refuses."""
    first, second = (host_config(config_path, n, ledger_url) for n in ("first", "second"))
    refusal = "another publisher is already running as host 'web-1' on this machine"
    with daemon(first, "web-1"):
        for args in (["--host", "web-1"], ["--once", "--host", "WEB-1"]):  # one name in any case
            refused = publisher("run", "--dry-run", *args, config=second)
            assert refused.returncode == 1, refused.stderr
            assert refusal in refused.stderr
            assert refused.stderr.rstrip().endswith("give each instance its own --host")
            assert "Traceback" not in refused.stderr
        other = publisher("run", "--dry-run", "--once", "--host", "web-2", config=second)
        assert other.returncode == 0, other.stderr
    after = publisher("run", "--dry-run", "--once", "--host", "web-1", config=second)
    assert after.returncode == 0, after.stderr  # the lock went with the first daemon


@pytest.mark.parametrize("name", ["", "../state", ".hidden", "web 1"])
def test_a_host_name_that_cannot_name_a_folder_is_refused_naming_host(
    config_path: Path, name: str
) -> None:
    for command in (["run", "--dry-run", "--once", "--host", name], ["queue", "release", name]):
        refused = publisher(*command, config=config_path)
        assert refused.returncode == 2
        assert f"the host name {name!r} (--host) cannot name a folder" in refused.stderr
    assert not (config_path.parent / "var").exists()  # nothing was created anywhere


def test_queue_release_hands_back_a_gone_hosts_files_and_is_refused_while_it_runs(
    config_path: Path,
) -> None:
    unit = config_path.parent / "var" / "queue" / "haryana"
    with daemon(config_path, "a"):
        left = unit / "processing" / "a" / "diwali.toml"  # host a is taking it
        left.write_text(DIWALI, encoding="utf-8")
        refused = publisher("queue", "release", "a", config=config_path)
        assert refused.returncode == 1
        assert "host 'a' is running on this machine" in refused.stderr
        assert left.read_text(encoding="utf-8") == DIWALI

    released = publisher("queue", "release", "a", config=config_path)

    assert released.returncode == 0, released.stderr
    assert released.stdout.splitlines() == [
        "put back haryana/processing/a/diwali.toml",
        "1 file(s) host 'a' left in processing/ are back in their unit folders",
    ]
    assert (unit / "diwali.toml").read_text(encoding="utf-8") == DIWALI
    assert files(unit / "processing") == []


@pytest.mark.both_stores
def test_a_file_a_dead_host_recorded_is_one_post_when_another_host_takes_it(
    tmp_path: Path, ledger_url: str
) -> None:
    """Host a records the post and dies before archiving the file; an operator releases the file;
    host b takes it: the post's key finds it recorded, so the platforms get each delivery once
    and the file is archived. Sending is paused while host a runs, so nothing of it goes out
    before host a dies."""
    with fake_platforms(tmp_path) as platforms:
        a = host_config(platforms.config, "a", ledger_url)
        b = host_config(platforms.config, "b", ledger_url)
        unit = platforms.queue / UNIT
        paused = publisher("pause", "--reason", "host a is about to die", config=a)
        assert paused.returncode == 0, paused.stderr
        with daemon(a, "a", dry_run=False) as dying:
            # The archive cannot be written (a file stands in its place): host a stops between
            # the ledger's commit and the move to archive/, where a crash would stop it.
            (unit / "archive").rmdir()
            (unit / "archive").write_text("", encoding="utf-8")
            drop_post(platforms.queue, 1)
            wait_for_line(dying, "could not be archived")
            dying.send_signal(signal.SIGKILL)
            dying.wait()
        (unit / "archive").unlink()
        (unit / "archive").mkdir()
        assert files(unit / "processing") == ["a/notice-1.toml"]
        assert publisher("resume", "--reason", "host a is gone", config=b).returncode == 0

        released = publisher("queue", "release", "a", config=b)
        taken = publisher("run", "--once", "--host", "b", config=b)

        assert released.returncode == 0, released.stderr
        assert released.stdout.startswith(f"put back {UNIT}/processing/a/notice-1.toml\n")
        assert taken.returncode == 0, taken.stderr
        assert taken.stdout.startswith("1 post file(s) taken; 8 deliveries sent.")
        assert "1 posts in the ledger." in publisher("status", config=b).stdout
        copies = platforms.copies()
        assert (len(copies), set(copies.values())) == (8, {1})  # each delivery once, by the fakes
        [archived] = unit.glob("archive/*/notice-1.toml")
        assert sorted(p.name for p in archived.parent.iterdir()) == [
            "notice-1.receipt.txt",
            "notice-1.toml",
            "stamp-1.png",
        ]
        assert files(unit / "processing") == []


def scan_while_another_host_records(
    engine: Engine, path: Path, clock: FakeClock
) -> tuple[int, list[PlannedDelivery], list[Result]]:
    """Another host records the post of the file at ``path`` and, before it commits, this host
    scans: it looks the key up (not there yet), plans, and waits to record. Returns the other
    host's post id, the deliveries it planned, and what this host's scan took."""
    settings = engine.settings
    request = parse_post(path.read_bytes(), "haryana", path.name, settings.zone, clock(),
                         timedelta(hours=settings.intake.max_past_hours))  # fmt: skip
    planned = plan(request, settings, Renderer.from_settings(settings))
    taken: list[Result] = []
    with engine.ledger.begin() as other_host:  # its post recorded, not yet committed
        post_id = record_post(
            other_host, new_post(request, planned, [], "haryana/archive/x", clock())
        ).id
        this_host = threading.Thread(target=lambda: taken.extend(engine.intake.scan()))
        this_host.start()
        this_host.join(2)
    this_host.join(30)
    return post_id, planned, taken


@pytest.mark.both_stores
def test_a_copy_taken_while_another_host_records_the_same_post_is_a_duplicate(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    """Two hosts take copies of one post file at once: both look it up before either has
    committed, so both plan it; the second to record finds the post key taken. Its copy is
    archived as a duplicate, not rejected as an internal error, and nothing is planned twice."""
    settings = engine.settings
    path = drop("haryana", "stamps.toml", POST.format(extra=""))
    post_id, planned, taken = scan_while_another_host_records(engine, path, clock)
    assert [(r.name, r.outcome, r.post_id) for r in taken] == [
        ("stamps.toml", Outcome.DUPLICATE, post_id)
    ]
    assert [d.post_id for d in rows(engine)] == [post_id] * len(planned.deliveries)
    assert files(settings.paths.queue / "haryana" / "rejected") == []


@pytest.mark.both_stores
def test_a_copy_another_host_records_holds_back_none_of_the_files_taken_with_it(
    engine: Engine, drop: Drop, clock: FakeClock
) -> None:
    """This host takes three files in one pass while another host records a copy of one of
    them: the pass's transaction finds that post's key taken and fails, and each post is then
    recorded on its own: the other two are accepted, the copy is archived as a duplicate."""
    settings = engine.settings
    drop("haryana", "a.toml", POST.format(extra='id = "a"'))
    path = drop("haryana", "b.toml", POST.format(extra=""))
    drop("haryana", "c.toml", POST.format(extra='id = "c"'))
    post_id, planned, taken = scan_while_another_host_records(engine, path, clock)
    results = {r.name: (r.outcome, r.post_id) for r in taken}
    assert results["b.toml"] == (Outcome.DUPLICATE, post_id)
    assert (results["a.toml"][0], results["c.toml"][0]) == (Outcome.ACCEPTED, Outcome.ACCEPTED)
    assert len(rows(engine)) == 3 * len(planned.deliveries)
    unit = settings.paths.queue / "haryana"
    assert files(unit / "rejected") == []
    assert sorted(p.name for p in unit.glob("archive/*/*.toml")) == ["a.toml", "b.toml", "c.toml"]


def look_up_of_b_runs_first(monkeypatch: pytest.MonkeyPatch, drop: Drop, statement: str) -> None:
    """Files a, b and c in one unit; the look-up of b's key runs ``statement`` first, in the
    pass's read transaction: a fault of the database's, not of the file."""
    for name in "abc":
        drop("haryana", f"{name}.toml", POST.format(extra=f'id = "{name}"'))
    find_post = queue.find_post

    def look_up(session: Session, key: str) -> Post | None:
        if key == "haryana/b":
            session.execute(text(statement))
        return find_post(session, key)

    monkeypatch.setattr(queue, "find_post", look_up)


@pytest.mark.both_stores
def test_a_look_up_the_database_fails_holds_back_none_of_the_files_taken_with_it(
    engine: Engine, drop: Drop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files of a pass are looked up in one read transaction. A look-up the database fails
    (on PostgreSQL a failed statement aborts the transaction) rejects its own file, as an
    internal error; the files after it are looked up afresh and accepted."""
    look_up_of_b_runs_first(monkeypatch, drop, "SELECT * FROM no_such_table")
    results = {r.name: r.outcome for r in engine.intake.scan()}
    assert results == {"a.toml": "accepted", "b.toml": "rejected", "c.toml": "accepted"}
    assert len({d.post_id for d in rows(engine)}) == 2


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_files_taken_when_the_database_goes_away_wait_in_the_queue_and_go_once_it_is_back(
    engine: Engine, drop: Drop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL restarts (here: the server ends the pass's own connection) in the middle of a
    pass: the file being looked up and the one already planned go back to the queue, the one
    after them is not taken, none is rejected (the officers need do nothing); the next pass
    takes all three."""
    look_up_of_b_runs_first(monkeypatch, drop, "SELECT pg_terminate_backend(pg_backend_pid())")
    results = {r.name: r.outcome for r in engine.intake.scan()}
    assert results == {"a.toml": "waiting", "b.toml": "waiting"}
    unit = engine.settings.paths.queue / "haryana"
    assert sorted(p.name for p in unit.glob("*.toml")) == ["a.toml", "b.toml", "c.toml"]
    assert list((unit / "rejected").iterdir()) == []
    assert rows(engine) == []

    monkeypatch.undo()  # the server is back
    results = {r.name: r.outcome for r in engine.intake.scan()}
    assert results == dict.fromkeys(("a.toml", "b.toml", "c.toml"), "accepted")
