"""Platform adapters: one module per platform, all behind the interface in base.py."""

from __future__ import annotations

from publisher.adapters.base import Adapter
from publisher.adapters.dryrun import DryRunAdapter
from publisher.clock import Clock
from publisher.errors import NoAdapterError


def load_adapters(platforms: set[str], *, dry_run: bool, clock: Clock) -> dict[str, Adapter]:
    """The adapter for each platform the configured accounts use.

    Raises:
        NoAdapterError: real publishing was asked for; only dry-run is built so far.
    """
    if not dry_run:
        msg = (
            "publishing to real platforms is not built yet (only the dry-run adapter exists); "
            "run with --dry-run to rehearse: nothing is sent and every delivery is recorded"
        )
        raise NoAdapterError(msg)
    adapter = DryRunAdapter(clock)
    return dict.fromkeys(platforms, adapter)
