"""The package's stub platform (publisher.adapters.stub) as the dispatch tests use it: Haryana's X
account, answering with the outcomes a test scripts."""

from __future__ import annotations

from collections.abc import Sequence

from publisher.adapters.stub import Outcome, StubAdapter
from publisher.clock import Clock
from publisher.config.organisation import Account
from publisher.config.platforms import PlatformOptions
from publisher.errors import AdapterError
from publisher.vocabulary import Receipt

HARYANA_X = Account(platform="x", handle="HaryanaPostal", locales=["hi", "en"])


def scripted(
    clock: Clock,
    outcomes: Sequence[Outcome],
    found: Receipt | AdapterError | None = None,
    account: Account = HARYANA_X,
) -> StubAdapter:
    """A stub that answers its publish calls with ``outcomes`` (then takes each), and whose
    ``find_existing`` answers ``found``: by default, that the platform has nothing."""
    adapter = StubAdapter(account, {}, PlatformOptions(), clock, outcomes)
    adapter.found = found
    return adapter
