"""Evergreen pools: ready-made, approved posts per unit, published when an account falls silent.

``schedules/evergreen/<unit>/*.toml`` (``[paths] evergreen``): each file is a post file, with the
same keys and the same checks (publisher.intake.postfile, publisher.planning.plan), less what only a
dropped post can have: no ``id`` (the file's name is the item's name), no ``publish_at`` (the sweep
decides when) and no ``units`` (a pool serves its own unit). Photos lie beside the item; each use
copies them into the unit's archive in the queue folder, where every post's photos are published
from. Every item is planned for every account it targets when the pool is loaded, so a bad item
stops start-up with the file, the key and the fix, instead of failing at a deadline.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from publisher.adapters.registry import adapter_class
from publisher.config.organisation import Account
from publisher.config.settings import Settings
from publisher.config.tomlfile import line_of
from publisher.errors import ConfigError, PostFileError, Problem
from publisher.intake.postfile import parse_post
from publisher.planning.plan import plan
from publisher.planning.render import Renderer
from publisher.planning.request import PostRequest

NOT_IN_POOL = {
    "id": "the file's name is the item's name",
    "publish_at": "the engine publishes an item when an account needs it",
    "units": "a pool serves its own unit: put the file in that unit's folder",
}


class PoolError(ConfigError):
    """An evergreen item is wrong: like a bad config, it stops start-up with every problem."""


@dataclass(frozen=True)
class Item:
    """One evergreen post, checked, with the accounts it can go to."""

    unit: str
    name: str  # the file's name, e.g. "savings-habit.toml"
    request: PostRequest
    accounts: frozenset[str]  # account keys it was planned for
    media: tuple[Path, ...] = ()  # its photos, beside the file, in the item's order

    def copy_media(self, queue_root: Path, folder: str) -> list[str]:
        """Copy the item's photos into ``folder`` (relative to the queue folder), where the
        dispatcher, and Instagram through the public media URL, find a post's photos; returns
        their paths relative to the queue folder."""
        if not self.media:
            return []
        (queue_root / folder).mkdir(parents=True, exist_ok=True)
        for photo in self.media:
            shutil.copyfile(photo, queue_root / folder / photo.name)
        return [f"{folder}/{photo.name}" for photo in self.media]

    def for_account(self, account: Account, key: str, when: datetime) -> PostRequest:
        """This item as a post for one account only, under ``key`` (unique per account and
        deadline), to be published at ``when``."""
        body = self.request.body.model_copy(
            update={"id": key, "accounts": [account.handle], "platforms": [account.platform]}
        )
        return dataclasses.replace(self.request, body=body, not_before=when)


def load_pools(settings: Settings, renderer: Renderer, now: datetime) -> dict[str, list[Item]]:
    """Every unit's pool, in file-name order; a unit with no folder has an empty pool.

    Raises:
        PoolError: listing every problem in every file, each as ``<unit>/<file>: key``.
    """
    root = settings.paths.evergreen
    pools: dict[str, list[Item]] = {unit: [] for unit in settings.units}
    problems: list[Problem] = []
    if not root.is_dir():
        return pools
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if folder.name not in settings.units:
            problems.append(
                Problem(
                    folder.name,
                    "this folder is not named after a unit",
                    f"Rename it to one of: {', '.join(settings.units)}",
                )
            )
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                pools[folder.name].append(_item(settings, renderer, folder.name, path, now))
            except PostFileError as exc:
                problems += [
                    dataclasses.replace(p, where=f"{folder.name}/{path.name}: {p.where}")
                    for p in exc.problems
                ]
    if problems:
        raise PoolError(str(root), problems)
    return pools


def _item(settings: Settings, renderer: Renderer, unit: str, path: Path, now: datetime) -> Item:
    request = parse_post(
        path.read_bytes(), unit, path.name, settings.zone, now, timedelta(days=365 * 100)
    )
    data = request.body.model_dump(exclude_defaults=True)
    problems = [
        Problem(
            key,
            f"'{key}' has no place in an evergreen item: {why}",
            f"Remove the {key} line" if key != "media" else "Remove the [[media]] section",
            line_of(request.source, (key,)),
        )
        for key, why in NOT_IN_POOL.items()
        if key in data
    ]
    media = []
    for i, medium in enumerate(request.body.media):
        photo = path.parent / medium.file
        if (
            photo.is_file()
            and not photo.is_symlink()
            and photo.resolve().parent == path.parent.resolve()
        ):
            media.append(photo)
            continue
        problems.append(
            Problem(
                f"media[{i}].file",
                f"'{medium.file}' is not a file beside this item",
                f"Put the photo in schedules/evergreen/{unit}/ with the item, under that name",
                line_of(request.source, ("media", i, "file")),
            )
        )
    if problems:
        raise PostFileError(path.name, problems)
    planned = plan(request, settings, renderer).deliveries
    # A platform that publishes nothing without a photo (its adapter's rules say): a text-only
    # item is not for its accounts.
    fitting = {
        d.account.key
        for d in planned
        if media or not adapter_class(d.account.platform).rules.media_required
    }
    return Item(unit, path.name, request, frozenset(fitting), tuple(media))


def least_recently_used(items: list[Item], account: str, uses: dict[str, datetime]) -> list[Item]:
    """The items that can go to ``account``, the one it used least recently first: never used
    before used, then oldest use first, then by name (a stable order for the same history)."""
    fitting = [item for item in items if account in item.accounts]
    return sorted(fitting, key=lambda item: (item.name in uses, uses.get(item.name), item.name))
