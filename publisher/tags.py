"""The tag policy: which accounts every post must mention, in each platform's own syntax.

The circulars require every post to tag the directorate, all circles and other important accounts.
Groups marked ``main`` (the directorate) must be in the main post; fit.py decides where the others
go on each platform.
"""

from __future__ import annotations

from collections.abc import Sequence

from publisher.config import Account, Settings

MENTIONS = ("x", "facebook", "instagram")
"""Platforms whose posts mention accounts (as ``@handle``); e-mail carries no tags."""


def mentions(
    settings: Settings, account: Account, extra: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """Handles a delivery from ``account`` must mention, and those of them that must be in the
    main post. The ``main`` groups come first, then the others in config order, then the post's
    own extra tags; never the posting account itself, never the same handle twice."""
    if account.platform not in MENTIONS:
        return [], []
    groups = sorted(settings.tags.groups.values(), key=lambda g: not g.main)  # stable
    ordered: list[tuple[str, bool]] = []
    for group in groups:
        ordered.extend(
            (a.handle, group.main)
            for unit_id in group.units
            for a in settings.units[unit_id].accounts
            if a.platform == account.platform
        )
        ordered.extend((h, group.main) for h in group.handles.get(account.platform, []))
    ordered.extend((h, False) for h in extra)
    seen = {account.handle.lower()}
    tags, required = [], []
    for handle, main in ordered:
        if handle.lower() not in seen:
            seen.add(handle.lower())
            tags.append(handle)
            if main:
                required.append(handle)
    return tags, required
