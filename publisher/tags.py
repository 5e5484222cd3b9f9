"""The tag policy: which accounts every post must mention, in each platform's own syntax.

The circulars require every post to tag the directorate, all circles and other important accounts.
The policy's groups are kept in config order (the directorate first), so when a later issue has to
split tags over a thread, the most important ones stay in the main post.
"""

from __future__ import annotations

from collections.abc import Sequence

from publisher.config import Account, Settings

MENTIONS = {"x": "@", "facebook": "@", "instagram": "@"}
"""The mention prefix per platform; platforms not listed (e-mail) carry no tags."""


def mentions(settings: Settings, account: Account, extra: Sequence[str] = ()) -> list[str]:
    """Handles a delivery from ``account`` must mention: the policy's groups in order, then the
    post's own extra tags; never the posting account itself, never the same handle twice."""
    if account.platform not in MENTIONS:
        return []
    wanted: list[str] = []
    for group in settings.tags.groups.values():
        for unit_id in group.units:
            wanted.extend(
                a.handle for a in settings.units[unit_id].accounts if a.platform == account.platform
            )
        wanted.extend(group.handles.get(account.platform, []))
    wanted.extend(extra)
    seen = {account.handle.lower()}
    out = []
    for handle in wanted:
        if handle.lower() not in seen:
            seen.add(handle.lower())
            out.append(handle)
    return out


def with_tags(message: str, platform: str, handles: Sequence[str]) -> str:
    """The message followed by a blank line and the mentions, as they are published."""
    if not handles:
        return message
    prefix = MENTIONS[platform]
    return message + "\n\n" + " ".join(prefix + h for h in handles)
