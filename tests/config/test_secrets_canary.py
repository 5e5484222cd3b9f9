"""A canary planted in every credential never shows up anywhere a person or a log reader could see
it: not in the daemon's log (urllib3 debug logging on), not in receipts, status files or rejection
notes, not in the ledger's error records, whatever goes wrong on every platform."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from publisher.config.settings import load_settings
from tests.fakes.graph_api import FakeGraph
from tests.fakes.x_api import FakeX
from tests.support.files import REPO

CANARY = "CANARY0c4n4ry"

FIELDS = {
    "x": ["consumer_key", "consumer_secret", "access_token", "access_token_secret"],
    "facebook": ["page_access_token"],
    "instagram": ["access_token"],
}


def test_canary_never_leaves(config_path: Path) -> None:
    settings = load_settings(config_path)
    secrets = config_path.parent / "secrets.toml"
    secrets.write_text(
        "\n".join(
            f"[{account.credential}]\n"
            + "\n".join(f'{field} = "{n}-{CANARY}-{field}"' for field in FIELDS[account.platform])
            for n, (_, account) in enumerate(settings.accounts())
        ),
        encoding="utf-8",
    )
    secrets.chmod(0o600)
    queue = config_path.parent / "var" / "queue"
    shutil.copytree(REPO / "examples" / "queue", queue)
    with FakeX() as x, FakeGraph() as graph:  # neither knows these tokens: every call is refused
        graph.fail_next("drop_after_store", path_contains="/feed")
        config_path.write_text(
            config_path.read_text(encoding="utf-8")
            + f'\n[credentials]\nfile = "{secrets}"\n'
            + f'[platforms.x]\napi_base_url = "{x.url}"\n'
            + f'[platforms.facebook]\napi_base_url = "{graph.url}"\n'
            + f'[platforms.instagram]\napi_base_url = "{graph.url}"\n'
            + 'media_base_url = "https://media.example"\n',
            encoding="utf-8",
        )
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "publisher",
                "--config",
                str(config_path),
                "-v",
                "run",
                "--once",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert run.returncode == 0, run.stderr
    assert "urllib3.connectionpool" in run.stderr  # the debug logging really was on
    assert "failed" in run.stderr  # and the platforms really refused
    assert CANARY not in run.stdout + run.stderr

    for path in queue.rglob("*"):
        if path.is_file() and path.suffix in (".txt", ".toml"):
            assert CANARY not in path.read_text(encoding="utf-8"), path

    ledger = sqlite3.connect(config_path.parent / "var" / "state" / "publisher.db")
    dump = "\n".join(ledger.iterdump())
    errors = [e for (e,) in ledger.execute("SELECT last_error FROM deliveries") if e]
    ledger.close()
    assert any("Graph API error 190" in e for e in errors)  # the refusals were recorded
    assert any("refused the credentials" in e for e in errors)
    assert CANARY not in dump
