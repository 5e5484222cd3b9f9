"""A real Chromium for what a person looks at in a browser: headless, driven over the DevTools
protocol on a pipe, without network."""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def require_chromium(*fonts: str) -> None:
    """Skip the test where Chromium (or one of the fonts it must draw with) is missing; fail it
    where CI says they must be there."""
    families = ""
    if fonts and shutil.which("fc-list"):
        families = subprocess.run(
            ["fc-list", ":", "family"], capture_output=True, text=True, check=False
        ).stdout
    missing = [str(CHROMIUM)] if not CHROMIUM.exists() else []
    missing += [font for font in fonts if font not in families]
    if missing:
        if os.environ.get("PUBLISHER_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"{', '.join(missing)} missing and PUBLISHER_REQUIRE_CHROMIUM=1")
        install = "apt-get install chromium fonts-noto-core"
        pytest.skip(
            f"{', '.join(missing)} not installed ({install}); set PUBLISHER_REQUIRE_CHROMIUM=1 "
            "to make this a failure"
        )


ANSWER_SECONDS = 60  # a hung browser fails the test instead of hanging it
ON_3_AND_4 = """
import os, sys
os.dup2(int(sys.argv[1]), 3)
os.dup2(int(sys.argv[2]), 4)
os.close(int(sys.argv[1]))
os.close(int(sys.argv[2]))
os.execv(sys.argv[3], sys.argv[3:])
"""  # Chromium's end of each pipe moved to where it looks for it, then Chromium itself


def _high_pipe() -> tuple[int, int]:
    """A pipe on descriptors 10 or above, so that moving Chromium's ends onto 3 and 4 clobbers
    neither pipe."""
    read, write = os.pipe()
    copies = (fcntl.fcntl(read, fcntl.F_DUPFD, 10), fcntl.fcntl(write, fcntl.F_DUPFD, 10))
    os.close(read)
    os.close(write)
    return copies


class DevTools:
    """Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON
    messages ending in NUL on file descriptors 3 and 4), to click as a person would."""

    def __init__(self, profile: Path) -> None:
        read_end, self._out = _high_pipe()
        self._in, write_end = _high_pipe()
        command = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe"]
        self.process = subprocess.Popen(
            [sys.executable, "-c", ON_3_AND_4, str(read_end), str(write_end), *command],
            pass_fds=(read_end, write_end),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(read_end)
        os.close(write_end)
        self._buffer = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._id:
                assert "error" not in answer, answer
                result: dict[str, Any] = answer["result"]
                return result
            self.events.append(answer)

    def wait_for(self, method: str) -> None:
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read())

    def evaluate(self, expression: str) -> Any:
        return self.send("Runtime.evaluate", expression=expression, returnByValue=True)["result"][
            "value"
        ]

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.send("Page.enable")
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def click(self, selector: str) -> None:
        """A left click in the middle of the element, as the mouse gives it."""
        box = json.loads(
            self.evaluate(
                f"var e = document.querySelector({json.dumps(selector)}); e.scrollIntoView();"
                " JSON.stringify(e.getBoundingClientRect())"
            )
        )
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def close(self) -> None:
        self.session = None
        try:
            self.send("Browser.close")
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:  # it did not close: it must not outlive the test
                self.process.kill()
                self.process.wait()
            os.close(self._in)
            os.close(self._out)

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._in], [], [], ANSWER_SECONDS)
            assert ready, f"Chromium said nothing for {ANSWER_SECONDS} seconds"
            chunk = os.read(self._in, 65536)
            assert chunk, "Chromium closed the pipe"
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message
