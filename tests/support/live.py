"""The example organisation publishing for real, against the fake X and Graph servers: every
account has a working credential, the engine runs with real adapters over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from publisher.config.settings import Settings, load_settings
from publisher.reports.metrics import collect
from publisher.service.engine import Engine
from publisher.store.models import Delivery
from tests.fakes.graph_api import FakeGraph
from tests.fakes.x_api import FakeX
from tests.support.clock import FakeClock


@dataclass
class Live:
    engine: Engine
    x: FakeX
    graph: FakeGraph
    settings: Settings


@contextmanager
def live(
    config_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, x_options: str = ""
) -> Iterator[Live]:
    """``x_options``: more lines for [platforms.x] (quotas)."""
    with FakeX(clock) as x, FakeGraph(clock) as graph:
        config_path.write_text(
            config_path.read_text(encoding="utf-8")
            + f'\n[platforms.x]\napi_base_url = "{x.url}"\ntimeout_seconds = 5\n{x_options}\n'
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
        yield Live(Engine(settings, dry_run=False, clock=clock).start(), x, graph, settings)


LONG = "हरियाणा डाक परिमंडल " * 13  # long enough that X's overflow tags go into a reply


def publish_scenario(h: Live, drop: Callable[..., Path]) -> None:
    """A small real history, through the engine and the fakes, with known figures:

    - haryana: post a on X (with its overflow reply) and Facebook; post b on X, whose reply X
      refuses as a duplicate of a's (the same tags), so b lacks the reply's tags;
    - tamil-nadu: post c on Facebook, refused by Graph (368); post d on X;
    - engagement: a's tweet 5 likes, b's 7 likes and 100 views, a on Facebook 4 reactions and
      2 shares, d 1 like and 1 retweet; then one metrics collection.
    """
    drop(
        "haryana",
        "a.toml",
        f'id = "a"\nplatforms = ["x", "facebook"]\nlocales = ["hi"]\n[text]\nhi = "{LONG} a"\n',
    )
    drop(
        "haryana",
        "b.toml",
        f'id = "b"\nplatforms = ["x"]\nlocales = ["hi"]\n[text]\nhi = "{LONG} b"\n',
    )
    h.engine.tick()
    h.graph.fail_next(368, path_contains="/feed")
    drop(
        "tamil-nadu",
        "c.toml",
        'id = "c"\nplatforms = ["facebook"]\nlocales = ["ta"]\n[text]\nta = "அஞ்சல் c"\n',
    )
    drop(
        "tamil-nadu",
        "d.toml",
        'id = "d"\nplatforms = ["x"]\nlocales = ["ta"]\n[text]\nta = "அஞ்சல் d"\n',
    )
    h.engine.tick()
    with h.engine.ledger() as session:
        ids = {
            (d.post.key, d.platform): d.remote_id
            for d in session.scalars(select(Delivery).options(selectinload(Delivery.post)))
        }
    h.x.set_metrics(ids["haryana/a", "x"], like_count=5)
    h.x.set_metrics(ids["haryana/b", "x"], like_count=7, impression_count=100)
    h.graph.set_metrics(ids["haryana/a", "facebook"], reactions=4, shares=2)
    h.x.set_metrics(ids["tamil-nadu/d", "x"], like_count=1, retweet_count=1)
    collect(h.engine.ledger, h.engine.dispatcher.adapters.get, h.settings.metrics, h.engine.clock)
