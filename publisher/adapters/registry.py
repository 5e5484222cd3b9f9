"""Platform adapters: one module per platform, all behind the interface in base.py.

Adapters are found through the ``publisher.adapters`` entry-point group (name = platform), so a
third party adds a platform with one module and one line in its own pyproject.toml.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from publisher.adapters.base import Adapter
from publisher.adapters.dryrun import DryRunAdapter
from publisher.clock import Clock
from publisher.config.credentials import Credentials
from publisher.config.organisation import Account
from publisher.config.plugins import GROUP
from publisher.config.settings import Settings
from publisher.errors import NoAdapterError


def adapter_classes() -> dict[str, type[Adapter[Any]]]:
    """Installed adapters by platform name."""
    found: dict[str, type[Adapter[Any]]] = {}
    for point in entry_points(group=GROUP):
        cls = point.load()
        if not (isinstance(cls, type) and issubclass(cls, Adapter)):
            msg = f"entry point {point.name} = {point.value} in {GROUP} is not an Adapter class"
            raise NoAdapterError(msg)
        found[point.name] = cls
    return found


def load_adapters(
    settings: Settings, credentials: Credentials, *, dry_run: bool, clock: Clock
) -> dict[str, Adapter[Any]]:
    """One adapter per configured account, by account key (``x:IndiaPostOffice``).

    Raises:
        NoAdapterError: a platform in config.toml has no installed adapter.
        CredentialError: an account's credential is missing or stored unsafely.
    """
    classes = adapter_classes()
    missing = sorted({a.platform for _, a in settings.accounts()} - set(classes))
    if missing and not dry_run:
        msg = (
            f"no adapter is installed for {', '.join(missing)}, so nothing can be published "
            "there; run with --dry-run to rehearse: nothing is sent and every delivery is recorded"
        )
        raise NoAdapterError(msg)
    return {
        account.key: build(account, settings, credentials, classes, dry_run=dry_run, clock=clock)
        for _, account in settings.accounts()
    }


def build(
    account: Account,
    settings: Settings,
    credentials: Credentials,
    classes: dict[str, type[Adapter[Any]]],
    *,
    dry_run: bool,
    clock: Clock,
) -> Adapter[Any]:
    """The adapter of one account, with its platform's options and its secrets."""
    options = settings.platforms.options(account.platform)
    if dry_run:
        return DryRunAdapter(account, {}, options, clock)
    secrets = credentials.get(account.credential) if account.credential else {}
    return classes[account.platform](account, secrets, options, clock)
