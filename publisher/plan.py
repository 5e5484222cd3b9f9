"""PostRequest -> deliveries: one per target account and locale, with the exact text to publish.

Rendering happens here, once, so the text stored on a delivery is the text that goes out and the
text a reviewer reads. Everything a nodal officer could get wrong about the organisation (another
unit's account, a locale the account does not post in, a template variable left out) is found here
and reported with the line it is on.
"""

from __future__ import annotations

from dataclasses import dataclass

from publisher.config import Account, Settings
from publisher.errors import PostFileError, Problem
from publisher.postfile import PostRequest
from publisher.render import Renderer, RenderError
from publisher.tags import mentions, with_tags
from publisher.tomlfile import line_of

ALL_UNITS = "all"


@dataclass(frozen=True)
class PlannedDelivery:
    unit: str
    account: Account
    locale: str
    text: str
    tags: list[str]


class _Problems:
    """Collects problems with their lines, so the officer learns everything wrong in one go."""

    def __init__(self, request: PostRequest) -> None:
        self.request = request
        self.items: list[Problem] = []

    def add(self, loc: tuple[str | int, ...], what: str, fix: str) -> None:
        where = ".".join(str(p) for p in loc)
        self.items.append(Problem(where, what, fix, line_of(self.request.source, loc)))

    def raise_any(self) -> None:
        if self.items:
            raise PostFileError(self.request.source_name, self.items)


def _target_units(request: PostRequest, settings: Settings, out: _Problems) -> list[str]:
    units = request.body.units
    if units is None:
        return [request.unit]
    if request.unit != settings.organisation.directorate:
        out.add(
            ("units",),
            f"only the directorate's folder may post for other units; this file is in "
            f"the '{request.unit}' folder",
            "Remove the units line: a post here goes to this unit's own accounts",
        )
        return [request.unit]
    if ALL_UNITS in units:
        return list(settings.units)
    unknown = [u for u in units if u not in settings.units]
    if unknown:
        out.add(
            ("units",),
            f"{', '.join(unknown)} is not a unit",
            f'Use "all" or unit names from: {", ".join(settings.units)}',
        )
    return [u for u in units if u in settings.units]


def _target_accounts(
    request: PostRequest, settings: Settings, out: _Problems
) -> list[tuple[str, Account]]:
    body = request.body
    units = _target_units(request, settings, out)
    pool = [(u, a) for u, a in settings.accounts() if u in units]
    for platform in body.platforms or []:
        if not any(a.platform == platform for _, a in pool):
            out.add(
                ("platforms",),
                f"{', '.join(units)} has no {platform} account",
                "Remove it from platforms, or ask the administrator to add the account",
            )
    if body.platforms is not None:
        pool = [(u, a) for u, a in pool if a.platform in body.platforms]
    if body.accounts is not None:
        ours = {a.handle.lower() for _, a in pool}
        owners = {a.handle.lower(): u for u, a in settings.accounts()}
        for handle in body.accounts:
            owner = owners.get(handle.lower())
            if handle.lower() in ours:
                continue
            if owner is None:
                what = f"@{handle} is not an account of this unit"
            elif request.unit == settings.organisation.directorate:
                what = f"@{handle} is not among the targeted units and platforms"
            else:
                what = (
                    f"@{handle} belongs to '{owner}'; a file in the '{request.unit}' folder may "
                    "only post to that unit's own accounts"
                )
            handles = ", ".join(sorted({"@" + a.handle for _, a in pool}))
            out.add(("accounts",), what, f"Use handles from: {handles}")
        wanted = {h.lower() for h in body.accounts}
        pool = [(u, a) for u, a in pool if a.handle.lower() in wanted]
    if not pool and not out.items:
        out.add(("accounts",), "this post targets no account", "Check platforms and accounts")
    return pool


def _locales(
    request: PostRequest, targets: list[tuple[str, Account]], out: _Problems
) -> dict[str, list[str]]:
    """The locales each target account gets, by account key."""
    body = request.body
    offered = body.locales or (list(body.text) if body.text else None)
    if body.locales and body.text:
        for locale in body.locales:
            if locale not in body.text:
                out.add(
                    ("text", locale),
                    f"the post lists locale '{locale}' but has no text for it",
                    f"Add a line {locale} = \"…\" under [text], or remove '{locale}' from locales",
                )
    if body.locales:
        spoken = {loc for _, a in targets for loc in a.locales}
        for locale in body.locales:
            if locale not in spoken:
                out.add(
                    ("locales",),
                    f"none of the targeted accounts posts in '{locale}'",
                    f"Use the accounts' locales: {', '.join(sorted(spoken))}",
                )
    result = {}
    for _, account in targets:
        chosen = [loc for loc in account.locales if offered is None or loc in offered]
        if not chosen:
            out.add(
                ("text",) if body.text else ("locales",),
                f"{account.platform} account @{account.handle} posts in "
                f"{', '.join(account.locales)}, and this post has nothing in those languages",
                f"Add text in {' or '.join(account.locales)}, or leave this account out",
            )
        result[account.key] = chosen
    return result


def plan(request: PostRequest, settings: Settings, renderer: Renderer) -> list[PlannedDelivery]:
    """Fan a checked post out to deliveries.

    Raises:
        PostFileError: every targeting, locale and rendering problem, each with line and fix.
    """
    out = _Problems(request)
    targets = _target_accounts(request, settings, out)
    locales = _locales(request, targets, out)
    body = request.body
    messages: dict[str, str] = {}
    for locale in dict.fromkeys(loc for chosen in locales.values() for loc in chosen):
        if body.template:
            try:
                messages[locale] = renderer.render(body.template, locale, body.vars)
            except RenderError as exc:
                what, _, fix = str(exc).partition("; ")
                out.add(("template",), what, fix[:1].upper() + fix[1:])
        elif locale not in body.text:
            continue  # reported by _locales
        elif body.text[locale].strip():
            messages[locale] = body.text[locale].strip()
        else:
            out.add(("text", locale), "the text is empty", "Write the message, or remove the line")
    out.raise_any()
    return [
        PlannedDelivery(
            unit=unit,
            account=account,
            locale=locale,
            text=with_tags(messages[locale], account.platform, tags),
            tags=tags,
        )
        for unit, account in targets
        for tags in [mentions(settings, account, body.tags)]
        for locale in locales[account.key]
    ]
