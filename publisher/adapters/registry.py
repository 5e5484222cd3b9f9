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

from pydantic import ValidationError, create_model

from publisher.adapters.base import Adapter, Options
from publisher.adapters.dryrun import DryRunAdapter
from publisher.clock import Clock
from publisher.config.credentials import Credentials
from publisher.config.organisation import Account
from publisher.config.platforms import PlatformOptions
from publisher.config.plugins import GROUP
from publisher.config.settings import Settings, load_settings
from publisher.config.tomlfile import problems_from_validation
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


def read_options(model: type[Options], settings: Settings, platform: str) -> Options:
    """``[platforms.<platform>]`` read by ``model``; a relative path in it is taken from the
    folder config.toml is in.

    Raises:
        ValidationError: the table does not fit the model (``load_config`` reports it by key).
    """
    options = model.model_validate(settings.platforms.table(platform))
    relative = {
        name: settings.folder / value
        for name, value in options
        if isinstance(value, Path) and not value.is_absolute()
    }
    return options.model_copy(update=relative) if relative else options


def options(settings: Settings, platform: str) -> PlatformOptions:
    """The options of ``platform``, as its adapter's own model reads them."""
    return read_options(adapter_class(platform).options_model, settings, platform)


def load_config(path: Path) -> Settings:
    """config.toml read and checked whole: its own sections (publisher.config.settings), then
    what only each platform's adapter can tell: its ``[platforms.<name>]`` options, an account
    missing what its platform needs, an ``[[amplify]]`` rule on a platform that cannot amplify.

    Raises:
        ConfigError: listing every problem, each with its key path and fix.
    """
    settings = load_settings(path)
    problems = _option_problems(settings, path)
    problems += [
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


def _option_problems(settings: Settings, path: Path) -> list[Problem]:
    """Each ``[platforms.<name>]`` table read by its adapter's options model, the problems found
    placed in config.toml (key path and line) as its own sections' are."""
    tables = settings.platforms.model_extra or {}
    models: dict[str, Any] = {name: (adapter_class(name).options_model, ...) for name in tables}
    section = create_model("PlatformsSection", **models)
    whole = create_model("ConfigWithPlatforms", platforms=(section, ...))
    try:
        whole.model_validate({"platforms": tables})
    except ValidationError as exc:
        return problems_from_validation(exc, whole, path.read_text(encoding="utf-8"))
    return []


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
    read = options(settings, account.platform)
    if dry_run:
        return DryRunAdapter(account, {}, read, clock)
    secrets = credentials.get(account.credential) if account.credential else {}
    return cls(account, secrets, read, clock)
