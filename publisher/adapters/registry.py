"""The installed adapters, found through the ``publisher.adapters`` entry-point group (name =
platform), so a third party adds a platform with one module and one line in its own
pyproject.toml, and gets what this project's own platforms get.

Only the platforms asked for are loaded (as APScheduler loads its plugins by alias), each once and
checked to be an ``Adapter``: an installed plugin the config does not use, even a broken one,
costs nothing and stops nothing.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from publisher.adapters.base import Adapter
from publisher.adapters.dryrun import DryRunAdapter
from publisher.clock import Clock
from publisher.config.credentials import Credentials
from publisher.config.organisation import Account
from publisher.config.plugins import GROUP
from publisher.config.settings import Settings, load_settings
from publisher.errors import ConfigError, NoAdapterError, Problem


@cache
def adapter_class(platform: str) -> type[Adapter[Any]]:
    """The adapter class of ``platform``, loaded at its first use.

    Raises:
        NoAdapterError: no installed package provides it, or what it provides is not an Adapter.
    """
    found = entry_points(group=GROUP, name=platform)
    if not found:
        msg = f"no adapter is installed for {platform}"
        raise NoAdapterError(msg)
    point = next(iter(found))
    cls = point.load()
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        msg = f"entry point {point.name} = {point.value} in {GROUP} is not an Adapter class"
        raise NoAdapterError(msg)
    return cls


def load_config(path: Path) -> Settings:
    """config.toml read and checked whole: its own sections (publisher.config.settings), then
    what only each platform's adapter can tell: an account missing what its platform needs, an
    ``[[amplify]]`` rule on a platform that cannot amplify.

    Raises:
        ConfigError: listing every problem, each with its key path and fix.
    """
    settings = load_settings(path)
    problems = [
        Problem(f"units.{unit}.accounts", *problem)
        for unit, account in settings.accounts()
        if (problem := adapter_class(account.platform).account_problem(account))
    ]
    used = dict.fromkeys(account.platform for _, account in settings.accounts())  # in order
    amplifying = [f"{p} ({adapter_class(p).rules.amplify})" for p in used if amplifies(p)]
    problems += [
        Problem(
            f"amplify[{n}].platforms",
            f"{platform} posts cannot be retweeted or shared by another account",
            f"Remove '{platform}': amplification works on {', '.join(amplifying)}",
        )
        for n, rule in enumerate(settings.amplify)
        for platform in rule.platforms
        if not amplifies(platform)
    ]
    if problems:
        raise ConfigError(str(path), problems)
    return settings


def amplifies(platform: str) -> bool:
    """Whether one account on ``platform`` can amplify another's post (a retweet, a share)."""
    return adapter_class(platform).rules.amplify is not None


def load_adapters(
    settings: Settings, credentials: Credentials, *, dry_run: bool, clock: Clock
) -> dict[str, Adapter[Any]]:
    """One adapter per configured account, by account key (``x:IndiaPostOffice``).

    Raises:
        NoAdapterError: a platform in config.toml has no usable adapter.
        CredentialError: an account's credential is missing or stored unsafely.
    """
    return {
        account.key: build(account, settings, credentials, dry_run=dry_run, clock=clock)
        for _, account in settings.accounts()
    }


def build(
    account: Account,
    settings: Settings,
    credentials: Credentials,
    *,
    dry_run: bool,
    clock: Clock,
) -> Adapter[Any]:
    """The adapter of one account, with its platform's options and its secrets; in a dry run,
    one that records instead (its platform's rules still apply: planning and pacing read them
    from the platform's class)."""
    cls = adapter_class(account.platform)
    options = settings.platforms.options(account.platform)
    if dry_run:
        return DryRunAdapter(account, {}, options, clock)
    secrets = credentials.get(account.credential) if account.credential else {}
    return cls(account, secrets, options, clock)
