"""The ``publisher`` command and the running daemon as real subprocesses, for the command-line
and end-to-end tests."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest


def wait_for_line(process: subprocess.Popen[str], text: str, seconds: float = 60) -> None:
    """Read the process's stderr until a line contains ``text``. A daemon that stays silent
    would block the read for ever: past ``seconds`` it is killed, which ends the read, and the
    test fails with what it said."""
    assert process.stderr is not None
    seen: list[str] = []
    deadline = threading.Timer(seconds, process.kill)
    deadline.start()
    try:
        while line := process.stderr.readline():
            if text in line:
                return
            seen.append(line)
    finally:
        deadline.cancel()
    said = "".join(seen[-20:]) or "nothing\n"
    pytest.fail(f"the daemon never logged {text!r} (exit code {process.poll()}); it said:\n{said}")


@contextmanager
def running(
    config: Path,
    *,
    dry_run: bool = True,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
) -> Iterator[subprocess.Popen[str]]:
    """``publisher run`` (``--dry-run`` unless told otherwise, then ``args``) as a service, ready
    once it logs that it is watching. On leaving, SIGTERM, and it must stop cleanly; one the
    test stopped or killed itself must have ended that way, not by failing."""
    daemon = subprocess.Popen(
        [sys.executable, "-m", "publisher", "--config", str(config), "run"]
        + (["--dry-run"] if dry_run else [])
        + list(args),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    rest: str | None = None
    try:
        wait_for_line(daemon, "watching")
        yield daemon
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            _, rest = daemon.communicate(timeout=30)
    if rest is None:
        assert daemon.returncode in (0, -signal.SIGKILL)
        return
    assert daemon.returncode == 0, rest
    assert "received SIGTERM, stopping" in rest


def publisher(
    *args: str, config: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "publisher", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
