"""The example organisation publishing for real, against the fake X and Graph servers: every
account has a working credential, the engine runs with real adapters over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from publisher.config import Settings, load_settings
from publisher.engine import Engine
from tests.conftest import FakeClock
from tests.fakes.graph_api import FakeGraph
from tests.fakes.x_api import FakeX


@dataclass
class Live:
    engine: Engine
    x: FakeX
    graph: FakeGraph
    settings: Settings


@contextmanager
def live(config_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    with FakeX(clock) as x, FakeGraph(clock) as graph:
        config_path.write_text(
            config_path.read_text(encoding="utf-8")
            + f'\n[platforms.x]\napi_base_url = "{x.url}"\ntimeout_seconds = 5\n'
            + f'[platforms.facebook]\napi_base_url = "{graph.url}"\ntimeout_seconds = 5\n'
            + f'[platforms.instagram]\napi_base_url = "{graph.url}"\ntimeout_seconds = 5\n'
            + 'media_base_url = "https://media.example"\ncontainer_poll_seconds = 0\n',
            encoding="utf-8",
        )
        settings = load_settings(config_path)
        for n, (_, account) in enumerate(settings.accounts()):
            assert account.credential is not None
            token = f"{3000 + n}-token"
            if account.platform == "x":
                secrets = {
                    "consumer_key": "app",
                    "consumer_secret": "app-secret",
                    "access_token": token,
                    "access_token_secret": f"{token}-secret",
                }
                x.add_user(str(3000 + n), account.handle, *secrets.values())
            elif account.platform == "facebook":
                assert account.platform_id is not None
                secrets = {"page_access_token": token}
                graph.add_page(account.platform_id, account.handle, token)
            else:
                assert account.platform_id is not None
                secrets = {"access_token": token}
                graph.add_instagram(account.platform_id, account.handle, token)
            name = "PUBLISHER_CREDENTIAL_" + account.credential.upper().replace("-", "_")
            monkeypatch.setenv(name, json.dumps(secrets))
        yield Live(Engine(settings, dry_run=False, clock=clock), x, graph, settings)
