"""The ``publisher`` command as a person runs it: real subprocesses, real files, real SQLite."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from publisher.config.settings import load_settings
from tests.fakes.x_api import FakeX
from tests.support.files import REPO
from tests.support.processes import publisher, running, wait_for_line

PONGAL = '[text]\nta = "பொங்கல் நல்வாழ்த்துகள்!"\nen = "Happy Pongal!"\n'


@pytest.fixture
def example(config_path: Path) -> Path:
    """The example config and the example queue, as the README's quick start sets them up."""
    shutil.copytree(REPO / "examples" / "queue", config_path.parent / "var" / "queue")
    return config_path


def test_quick_start_shows_what_would_go_out(example: Path) -> None:
    run = publisher("run", "--dry-run", "--once", config=example)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert out.startswith("5 post file(s) taken; 30 deliveries recorded as dry-run")
    assert "== Tamil Nadu Postal Circle (tamil-nadu) ==" in out
    assert "பொங்கல் சிறப்பு அஞ்சல் உறை" in out  # the Tamil text, exactly
    assert "URGENT" in out  # the fake-news clarification
    assert "alt: Special postal cover showing a decorated Pongal pot" in out
    assert "deliveries scheduled for later" in out
    assert "Traceback" not in run.stderr
    # The example files are archived, none rejected.
    queue = example.parent / "var" / "queue"
    assert not list(queue.glob("*/rejected/*"))
    assert len(list(queue.glob("*/archive/*/*.receipt.txt"))) == 5
    # a unit whose only post is scheduled for later still sees it in its status file
    assert "mahapex.toml" in (queue / "maharashtra" / "STATUS.txt").read_text(encoding="utf-8")


def test_review_and_status_read_the_ledger(example: Path) -> None:
    publisher("run", "--dry-run", "--once", config=example)
    review = publisher("review", config=example)
    assert review.returncode == 0
    assert "MAHAPEX 2030" in review.stdout  # scheduled, not yet sent
    assert "pending" in review.stdout
    status = publisher("status", config=example)
    assert status.returncode == 0
    assert "x:TNPostalCircle" in status.stdout
    assert "5 posts in the ledger." in status.stdout


def test_real_publishing_without_credentials_stops_naming_the_missing_one(example: Path) -> None:
    run = publisher("run", "--once", config=example)
    assert run.returncode == 1
    assert "credential 'x-directorate' is not set" in run.stderr
    assert "$PUBLISHER_CREDENTIAL_X_DIRECTORATE" in run.stderr
    assert "Traceback" not in run.stderr
    queue = example.parent / "var" / "queue"
    assert (queue / "haryana" / "sukanya.toml").exists()  # nothing was taken


def test_bad_config_stops_start_up_naming_key_and_fix(config_path: Path) -> None:
    text = config_path.read_text(encoding="utf-8").replace(
        'timezone = "Asia/Kolkata"', 'timezone = "IST"'
    )
    config_path.write_text(text, encoding="utf-8")
    run = publisher("run", "--dry-run", "--once", config=config_path)
    assert run.returncode == 1
    assert "organisation.timezone: 'IST' is not a time zone" in run.stderr
    assert "Asia/Kolkata" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (config_path.parent / "var" / "state" / "publisher.db").exists()


def test_config_comes_from_the_environment_variable(example: Path) -> None:
    env = {**os.environ, "PUBLISHER_CONFIG": str(example)}
    run = subprocess.run(
        [sys.executable, "-m", "publisher", "status"],
        capture_output=True,
        text=True,
        env=env,
        cwd=example.parent.parent,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "x:IndiaPostOffice" in run.stdout


def test_validate_checks_without_changing_anything(example: Path, tmp_path: Path) -> None:
    good = example.parent / "var" / "queue" / "haryana" / "sukanya.toml"
    bad = tmp_path / "bad.toml"
    bad.write_text('template = "savings-scheme"\n', encoding="utf-8")

    ok = publisher("validate", str(good), str(example), config=example)
    assert ok.returncode == 0, ok.stdout
    assert "valid, 5 deliveries for unit haryana" in ok.stdout
    assert "सुकन्या" in ok.stdout or "Sukanya" in ok.stdout
    assert f"{example}: a valid config" in ok.stdout
    assert good.exists()  # still in the queue
    assert not (example.parent / "var" / "state" / "publisher.db").exists()

    failed = publisher("validate", "--unit", "haryana", str(bad), config=example)
    assert failed.returncode == 1
    assert "is undefined). Add it under [vars]" in failed.stdout


def test_an_unusable_state_folder_is_one_sentence_not_a_traceback(config_path: Path) -> None:
    text = config_path.read_text(encoding="utf-8").replace(
        "[database]\n", '[database]\nurl = "sqlite:////dev/null/ledger.db"\n'
    )
    config_path.write_text(text, encoding="utf-8")
    run = publisher("status", config=config_path)
    assert run.returncode == 1
    assert run.stderr.strip() == "publisher: /dev/null: File exists"  # mkdir of the state folder


def test_accounts_check_asks_each_platform_and_never_prints_a_secret(config_path: Path) -> None:
    secrets = {
        "consumer_key": "app-key",
        "consumer_secret": "app-secret",
        "access_token": "1001-CANARY-token",
        "access_token_secret": "CANARY-secret",
    }
    text = config_path.read_text(encoding="utf-8")
    with FakeX() as fake:
        fake.add_user("1001", "HaryanaPostal", *secrets.values())
        config_path.write_text(
            text + f'\n[platforms.x]\napi_base_url = "{fake.url}"\ntimeout_seconds = 5\n',
            encoding="utf-8",
        )
        env = {
            **os.environ,
            "PUBLISHER_CREDENTIAL_X_HARYANA": json.dumps(secrets),
            "PUBLISHER_CREDENTIAL_X_TAMIL_NADU": json.dumps({**secrets, "access_token": "1001-x"}),
        }
        run = publisher("accounts", "check", config=config_path, env=env)
    assert run.returncode == 1  # some accounts have no working credential
    rows = {line.split()[0]: line for line in run.stdout.splitlines()[2:]}
    assert rows["x:HaryanaPostal"].split()[1] == "yes"
    assert "signed in as @HaryanaPostal" in rows["x:HaryanaPostal"]
    assert rows["x:TNPostalCircle"].split()[1] == "NO"  # a token X does not accept
    assert "credential 'x-directorate' is not set" in rows["x:IndiaPostOffice"]
    assert "CANARY" not in run.stdout + run.stderr


def test_resolve_records_a_persons_decision_with_who_and_why(
    config_path: Path, engine, drop
) -> None:
    from datetime import timedelta

    from sqlalchemy import select, update

    from publisher.store.ledger import claim_due
    from publisher.store.models import Attempt, Delivery

    drop("haryana", "p.toml", '[text]\nhi = "नमस्ते"\nen = "Hello"\n')
    engine.intake.scan()
    with engine.ledger.begin() as session:  # sent, and the answers lost: a person must decide
        first, second = session.scalars(select(Delivery.id).order_by(Delivery.id).limit(2)).all()
        claim_due(session, engine.clock(), timedelta(minutes=1), 10)
        session.execute(update(Delivery).values(status="uncertain"))

    reason = "seen on the page by the nodal officer"
    sent = publisher("resolve", str(first), "--as", "sent", "--remote-id", "1234",
                     "--reason", reason, config=config_path)  # fmt: skip
    unsent = publisher("resolve", str(second), "--as", "unsent", "--reason", "not on the page",
                       config=config_path)  # fmt: skip
    again = publisher("resolve", str(first), "--as", "unsent", "--reason", "x", config=config_path)

    assert sent.returncode == 0, sent.stderr
    assert "is now sent" in sent.stdout
    assert unsent.returncode == 0, unsent.stderr
    assert again.returncode == 1
    assert f"delivery {first} cannot be resolved: it is sent" in again.stderr
    with engine.ledger() as session:
        one, two = session.get_one(Delivery, first), session.get_one(Delivery, second)
        assert (one.status, one.remote_id) == ("sent", "1234")
        assert two.status == "pending"
        notes = session.scalars(select(Attempt.error).where(Attempt.delivery_id == first)).all()
        outcomes = {
            delivery: session.scalars(
                select(Attempt.outcome).where(Attempt.delivery_id == delivery).order_by(Attempt.id)
            ).all()
            for delivery in (first, second)
        }
    assert any(n and n.endswith(": seen on the page by the nodal officer") for n in notes)
    # The call the person found on the page counts against the quotas; the one never made, not.
    assert outcomes == {first: [None, "resolved:sent"], second: ["lost", "resolved:pending"]}


@pytest.mark.parametrize("how", ["rename", "write"])
def test_daemon_takes_a_dropped_file_at_once_on_its_folder_event(
    config_path: Path, how: str
) -> None:
    """Scans every minute and a minute's settle interval: only the folder event (a rename into
    place, or the writer closing the file) can explain the file going out within seconds."""
    text = config_path.read_text(encoding="utf-8")
    text = text.replace("settle_seconds = 2 ", "settle_seconds = 60 ").replace(
        "poll_seconds = 5 ", "poll_seconds = 60 "
    )
    config_path.write_text(text, encoding="utf-8")
    folder = config_path.parent / "var" / "queue" / "tamil-nadu"
    with running(config_path):
        if how == "rename":  # how a careful writer drops a file
            (folder / ".p.toml.part").write_text(PONGAL, encoding="utf-8")
            (folder / ".p.toml.part").rename(folder / "p.toml")
        else:
            with (folder / "p.toml").open("w", encoding="utf-8") as f:
                f.write(PONGAL)
        dropped = time.monotonic()
        status = folder / "STATUS.txt"
        while time.monotonic() - dropped < 10:
            if status.exists() and "5 dry_run" in status.read_text(encoding="utf-8"):
                break
            time.sleep(0.02)
        assert "5 dry_run" in status.read_text(encoding="utf-8")


def test_sighup_reloads_a_good_config_and_keeps_running_on_a_bad_one(config_path: Path) -> None:
    good = config_path.read_text(encoding="utf-8")
    with running(config_path) as daemon:
        config_path.write_text(good.replace('timezone = "Asia/Kolkata"', 'timezone = "IST"'))
        daemon.send_signal(signal.SIGHUP)
        wait_for_line(daemon, "config.toml was not reloaded; the running configuration stays")
        assert daemon.poll() is None
        config_path.write_text(good.replace("poll_seconds = 5 ", "poll_seconds = 4 "))
        daemon.send_signal(signal.SIGHUP)
        wait_for_line(daemon, "config.toml reloaded")
        assert daemon.poll() is None


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux's /proc")
def test_twenty_reloads_leave_no_connection_of_an_old_configuration_open(config_path: Path) -> None:
    """Each SIGHUP builds the engine afresh from config.toml; the one it replaces is closed, its
    pool of ledger connections with it, once the passes still running on it end. Counted as the
    daemon's open files on the ledger (before: 13 after the first reload, 79 after the 20th)."""
    ledger = load_settings(config_path).paths.state.resolve() / "publisher.db"

    def ledger_files(pid: int) -> int:
        opened = []
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(FileNotFoundError):  # a file closed while we look
                opened.append(str(fd.readlink()))
        return sum(1 for target in opened if target.startswith(str(ledger)))

    with running(config_path) as daemon:
        counts = []
        for _ in range(20):
            daemon.send_signal(signal.SIGHUP)
            wait_for_line(daemon, "config.toml reloaded")
            counts.append(ledger_files(daemon.pid))
        assert daemon.poll() is None
    # The count moves with the work in flight (a pass holds a connection, 3 files with WAL).
    # A connection left open by each reload would add 10 x 10 x 3 = 300 over the last ten
    # counts; the first ten and the last ten differ by far less than 30 when none is left.
    assert min(counts) > 0, counts
    assert sum(counts[10:]) < sum(counts[:10]) + 30, counts


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_a_signal_that_lands_on_another_thread_is_obeyed(
    config_path: Path, sig: signal.Signals
) -> None:
    """The kernel may hand a signal sent to the daemon to any of its threads, and Python runs the
    handler only when the main thread next runs. Killing one thread's id makes Linux deliver the
    signal to that thread, so this is the case a daemon blocked for ever on its main thread
    never notices (it happened to about one SIGHUP in twenty sent right after start-up)."""
    with running(config_path) as daemon:
        threads = [int(t.name) for t in Path(f"/proc/{daemon.pid}/task").iterdir()]
        os.kill(next(t for t in threads if t != daemon.pid), sig)  # the main thread's is the pid
        if sig == signal.SIGHUP:
            wait_for_line(daemon, "config.toml reloaded", seconds=10)
        else:
            assert daemon.wait(timeout=10) == 0


def test_a_second_run_on_the_same_state_folder_is_refused(config_path: Path) -> None:
    with running(config_path):
        second = publisher("run", "--dry-run", "--once", config=config_path)
        assert second.returncode == 1
        assert "another 'publisher run' is already using" in second.stderr
