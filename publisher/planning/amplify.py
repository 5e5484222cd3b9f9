"""Amplification: which accounts retweet or share what another account publishes.

The ``[[amplify]]`` rules of config.toml are turned once into a plan: for each source account, the
accounts on the same platform that amplify what it publishes, how (a retweet on X, a share on
Facebook) and whether that counts for their freshness. The ledger reads the plan when it records a
source delivery as sent (``ledger.record_amplifications``), so the amplifications are recorded in
the same transaction as the proof they need (the source's remote id and URL), and only then.
"""

from __future__ import annotations

from collections.abc import Mapping

from publisher.adapters.registry import adapter_class
from publisher.config.organisation import ALL_UNITS
from publisher.config.settings import Settings
from publisher.vocabulary import Amplifier

AmplifyPlan = Mapping[str, tuple[Amplifier, ...]]
"""Source account key (``x:IndiaPostOffice``) -> the accounts that amplify it, in config order."""


def amplify_plan(settings: Settings) -> dict[str, tuple[Amplifier, ...]]:
    """The plan of every ``[[amplify]]`` rule together.

    A unit never amplifies itself, nor an account its own posts. Rules that overlap make one
    amplification, which counts for freshness if any of them says so.
    """
    every = list(settings.units)
    accounts = settings.accounts()
    plan: dict[str, dict[str, Amplifier]] = {}
    for rule in settings.amplify:
        sources = every if ALL_UNITS in rule.sources else rule.sources
        targets = every if ALL_UNITS in rule.targets else rule.targets
        for source_unit, source in accounts:
            if source_unit not in sources or source.platform not in rule.platforms:
                continue
            kind = adapter_class(source.platform).rules.amplify
            if kind is None:  # config.toml's check refuses such a rule (registry.load_config)
                continue
            chosen = plan.setdefault(source.key, {})
            same_platform = [(u, a) for u, a in accounts if a.platform == source.platform]
            for unit, account in same_platform:
                if unit not in targets or unit == source_unit:
                    continue
                earlier = chosen.get(account.key)
                counts = rule.counts_for_freshness or bool(earlier and earlier.counts_for_freshness)
                chosen[account.key] = Amplifier(unit, account.key, account.platform, kind, counts)
    return {key: tuple(targets.values()) for key, targets in plan.items() if targets}
