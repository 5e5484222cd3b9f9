"""A good systemd citizen: the unit file verifies, and the daemon speaks the notify protocol over a
real AF_UNIX datagram socket (READY, WATCHDOG with STATUS, STOPPING)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.files import REPO


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_the_unit_file_verifies(tmp_path: Path) -> None:
    unit = (REPO / "deploy" / "publisher.service").read_text(encoding="utf-8")
    # verify checks that ExecStart exists: point it at this checkout's installed command
    here = Path(sys.executable).parent / "publisher"
    (tmp_path / "publisher.service").write_text(
        unit.replace("/opt/publisher/.venv/bin/publisher", str(here)), encoding="utf-8"
    )
    run = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "publisher.service")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    wanted = [
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "LoadCredential=",
        "User=publisher",
    ]
    assert [s for s in wanted if s not in unit] == []


def messages(sock: socket.socket, enough: Callable[[list[str]], bool], seconds: float) -> list[str]:
    """Datagrams received until ``enough`` says so, or ``seconds`` have passed."""
    out: list[str] = []
    until = time.monotonic() + seconds
    while time.monotonic() < until and not enough(out):
        try:
            out.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
    return out


def pings_after_ready(received: list[str]) -> list[str]:
    ready = [i for i, m in enumerate(received) if "READY=1" in m]
    return [m for m in received[ready[0] + 1 :] if "WATCHDOG=1" in m] if ready else []


def test_daemon_notifies_ready_watchdog_status_and_stopping(
    config_path: Path, tmp_path: Path
) -> None:
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(0.2)
        env = {**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"}
        env.pop("WATCHDOG_PID", None)
        daemon = subprocess.Popen(
            [sys.executable, "-m", "publisher", "--config", str(config_path), "run", "--dry-run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            started = messages(sock, lambda got: len(pings_after_ready(got)) >= 3, 30)
            pings = pings_after_ready(started)
            assert len(pings) >= 3, started  # ticks at least twice a second with WatchdogSec=1
            assert all("STATUS=last pass:" in m for m in pings)
        finally:
            daemon.send_signal(signal.SIGTERM)
            stopping = messages(sock, lambda got: any("STOPPING=1" in m for m in got), 10)
            daemon.communicate(timeout=30)
    assert any("STOPPING=1" in m for m in stopping)
    assert daemon.returncode == 0
