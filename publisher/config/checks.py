"""The checks of config.toml that span sections, run once every section has parsed on its own.

Pydantic checks a field by itself; whether a name points at something that exists (a unit, a
fallback locale) or two settings contradict each other (two quotas over one window, a warning
after its deadline) can only be seen across the whole Settings. Each problem names its key path and
the fix, like pydantic's, so load_settings reports them all in one ConfigError.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from publisher.config.fields import zoned
from publisher.config.organisation import ALL_UNITS
from publisher.errors import Problem

if TYPE_CHECKING:
    from publisher.config.settings import Settings

_UNIT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def cross_references(settings: Settings) -> list[Problem]:
    """What pydantic cannot see field by field: names that must point at each other."""
    units = sorted(settings.units)
    problems = [
        Problem(
            f"units.{uid}",
            "a unit id names its queue folder and may hold only lower-case letters, digits and '-'",
            "Rename it, e.g. 'tamil-nadu'",
        )
        for uid in settings.units
        if not _UNIT_ID.match(uid)
    ]
    if settings.organisation.directorate not in settings.units:
        problems.append(
            Problem(
                "organisation.directorate",
                f"'{settings.organisation.directorate}' is not a unit",
                f"Name one of: {', '.join(units)}",
            )
        )
    seen = Counter(a.key.lower() for _, a in settings.accounts())
    for uid, account in settings.accounts():
        if seen.pop(account.key.lower(), 0) > 1:
            problems.append(
                Problem(
                    f"units.{uid}.accounts",
                    f"the {account.platform} handle '{account.handle}' is listed more than once",
                    "Each account belongs to exactly one unit: remove the duplicate",
                )
            )
    problems.extend(
        Problem(
            f"tags.groups.{name}.units",
            f"'{u}' is not a unit",
            f"Name one of: {', '.join(units)}",
        )
        for name, group in settings.tags.groups.items()
        for u in group.units
        if u not in settings.units
    )
    for locale, target in settings.content.fallback.items():
        if locale in settings.content.chain(target):
            problems.append(
                Problem(
                    f"content.fallback.{locale}",
                    f"falling back from '{locale}' to '{target}' leads back to '{locale}'",
                    "Make the chain end, e.g. at 'en', which falls back to nothing",
                )
            )
    problems.extend(_amplify_problems(settings))
    problems.extend(_blackout_problems(settings))
    freshness = settings.freshness
    if freshness.sweep_minutes * 2 / (24 * 60) >= freshness.max_silence_days:
        problems.append(
            Problem(
                "freshness.sweep_minutes",
                "two sweeps take longer than max_silence_days, so a deadline could pass unseen",
                "Sweep more often: the default, 60, is right for a deadline of days",
            )
        )
    if settings.freshness.warn_after_days >= settings.freshness.max_silence_days:
        problems.append(
            Problem(
                "freshness.warn_after_days",
                "it is not less than max_silence_days, so the warning would come too late",
                "Make it smaller than max_silence_days",
            )
        )
    return problems


def _amplify_problems(settings: Settings) -> list[Problem]:
    units = [*settings.units, ALL_UNITS]
    return [
        Problem(
            f"amplify[{n}].{key}",
            f"'{u}' is not a unit",
            f"Name units from: {', '.join(units)}",
        )
        for n, rule in enumerate(settings.amplify)
        for key, names in (("sources", rule.sources), ("targets", rule.targets))
        for u in names
        if u not in units
    ]


def _blackout_problems(settings: Settings) -> list[Problem]:
    units, problems = sorted(settings.units), []
    for n, window in enumerate(settings.blackouts):
        start, end = (zoned(t, settings.zone) for t in (window.start, window.end))
        if end <= start:
            problems.append(
                Problem(
                    f"blackouts[{n}].end",
                    f"the window ends ({window.end}) before it starts ({window.start})",
                    "Give an end later than the start",
                )
            )
        problems.extend(
            Problem(
                f"blackouts[{n}].units", f"'{u}' is not a unit", f"Name one of: {', '.join(units)}"
            )
            for u in window.units
            if u not in settings.units
        )
    return problems
