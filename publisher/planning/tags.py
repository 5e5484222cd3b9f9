"""The tag policy: which accounts every post must mention, in each platform's own syntax.

The circulars require every post to tag the directorate, all circles and other important accounts.
Groups marked ``main`` (the directorate) must be in the main post; fit.py decides where the others
go on each platform.
"""

from __future__ import annotations

from collections.abc import Sequence

from publisher.adapters.registry import adapter_class
from publisher.config.fields import Platform
from publisher.config.organisation import Account
from publisher.config.settings import Settings


def mentions(
    settings: Settings, account: Account, extra: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """Handles a delivery from ``account`` must mention, and those of them that must be in the
    main post. The ``main`` groups come first, then the others in config order, then the post's
    own extra tags; never the posting account itself, never the same handle twice."""
    if not adapter_class(account.platform).rules.mentions:  # e-mail carries no tags
        return [], []
    policy_tags, required, handles = _account_policy(settings, account)
    tags, seen = list(policy_tags), set(handles)  # copies: the caller owns its lists
    for handle in extra:
        if handle.lower() not in seen:
            seen.add(handle.lower())
            tags.append(handle)
    return tags, list(required)


Policy = dict[Platform, list[tuple[str, bool]]]
AccountPolicy = tuple[list[str], list[str], frozenset[str]]
_POLICIES: dict[int, tuple[Settings, Policy, dict[str, AccountPolicy]]] = {}


def _account_policy(settings: Settings, account: Account) -> AccountPolicy:
    """The policy's tags for a delivery from ``account``, those of them required in the main
    post, and every handle they hold in lower case with the account's own: worked out at the
    account's first post (a post asks once per target account)."""
    policy, accounts = _policy(settings)
    if account.key not in accounts:
        seen = {account.handle.lower()}
        tags, required = [], []
        for handle, main in policy[account.platform]:
            if handle.lower() not in seen:
                seen.add(handle.lower())
                tags.append(handle)
                if main:
                    required.append(handle)
        accounts[account.key] = (tags, required, frozenset(seen))
    return accounts[account.key]


def _policy(settings: Settings) -> tuple[Policy, dict[str, AccountPolicy]]:
    """The policy's handles per platform, in order, each with whether it must be in the main
    post: worked out once per configuration; with the accounts' own lists, by account key."""
    cached = _POLICIES.get(id(settings))
    if cached is None or cached[0] is not settings:
        groups = sorted(settings.tags.groups.values(), key=lambda g: not g.main)  # stable
        policy: Policy = {
            platform: [
                (handle, group.main)
                for group in groups
                for handle in [
                    *(
                        a.handle
                        for unit_id in group.units
                        for a in settings.units[unit_id].accounts
                        if a.platform == platform
                    ),
                    *group.handles.get(platform, []),
                ]
            ]
            for platform in {a.platform for _, a in settings.accounts()}
            if adapter_class(platform).rules.mentions
        }
        cached = _POLICIES[id(settings)] = (settings, policy, {})  # holds settings: no id reuse
    return cached[1], cached[2]
