"""PostRequest -> deliveries: one per target account and locale, with the exact text to publish.

Rendering happens here, once per locale, and fitting once per delivery, so the parts stored on a
delivery are what goes out and what a reviewer reads. Everything a nodal officer could get wrong
about the organisation (another unit's account, a locale the account does not post in, a template
variable left out, a message too long for X) is found here and reported with its line.

A delivery in a language is written in that language, or not made. A template goes out in a
locale only where the locale's catalog translates all of it; else in the first language of the
configured fallback chain (``[content] fallback``, mr -> hi, always in the locale's script) that
translates all of it; else the locale is skipped. A literal post skips the locales it has no
text for. An account never gets two deliveries with the same text. Skipped locales are told to the
reviewer once per post (``Plan.skipped``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from publisher.config.organisation import ALL_UNITS, Account
from publisher.config.settings import Settings
from publisher.config.tomlfile import key_path, line_of
from publisher.errors import FitError, PostFileError, Problem, RenderError
from publisher.planning.bidi import isolate
from publisher.planning.fit import fit
from publisher.planning.render import Renderer
from publisher.planning.request import PostRequest
from publisher.planning.tags import mentions
from publisher.scripts import right_to_left, wrong_script
from publisher.store.records import NewDelivery, NewPost
from publisher.vocabulary import DeliveryStatus, Part

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp")


@dataclass(frozen=True)
class PlannedDelivery:
    unit: str
    account: Account
    locale: str
    parts: list[Part]  # the post, then replies or a first comment
    tags: list[str]
    notes: list[str]  # for reviewers: a fallback language, text in an unexpected script


@dataclass(frozen=True)
class Plan:
    deliveries: list[PlannedDelivery]
    skipped: list[str]  # for reviewers, once per post: which accounts get nothing in which locale


@dataclass(frozen=True)
class _Message:
    text: str  # left-to-right pieces isolated where the language is right-to-left
    language: str  # the language it is written in: its locale's, or a fallback's
    notes: list[str]


def _message(text: str, language: str, notes: list[str]) -> _Message:
    return _Message(isolate(text) if right_to_left(language) else text, language, notes)


class _Problems:
    """Collects problems with their lines, so the officer learns everything wrong in one go."""

    def __init__(self, request: PostRequest) -> None:
        self.request = request
        self.items: list[Problem] = []

    def add(self, loc: tuple[str | int, ...], what: str, fix: str) -> None:
        problem = Problem(key_path(loc), what, fix, line_of(self.request.source, loc))
        if problem not in self.items:  # the same fault found for several accounts is one fault
            self.items.append(problem)

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
    request: PostRequest, targets: list[tuple[str, Account]], out: _Problems, skips: _Skips
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
        for locale in account.locales:
            if body.text and locale not in chosen:
                skips.add(locale, f"the post has no {locale} text", account)
        if not chosen:
            out.add(
                ("text",) if body.text else ("locales",),
                f"{account.platform} account @{account.handle} posts in "
                f"{', '.join(account.locales)}, and this post has nothing in those languages",
                f"Add text in {' or '.join(account.locales)}, or leave this account out",
            )
        result[account.key] = chosen
    return result


class _Skips:
    """The locales that accounts get nothing in, and why: told to the reviewer once per post."""

    def __init__(self) -> None:
        self._accounts: dict[tuple[str, str], list[str]] = {}

    def add(self, locale: str, why: str, account: Account) -> None:
        self._accounts.setdefault((locale, why), []).append(f"{account.platform} @{account.handle}")

    def notes(self) -> list[str]:
        return [
            f"no {locale} delivery for {', '.join(accounts)}: {why}"
            for (locale, why), accounts in self._accounts.items()
        ]


def _messages(
    request: PostRequest, settings: Settings, renderer: Renderer, needed: list[str], out: _Problems
) -> tuple[dict[str, _Message], dict[str, str]]:
    """The message per locale, rendered once, with what a reviewer should know about it; and why
    each locale without one has none."""
    body = request.body
    if body.template:
        return _template_messages(request, settings, renderer, needed, out)
    messages: dict[str, _Message] = {}
    for locale in needed:
        if locale not in body.text:
            continue  # reported by _locales
        if body.text[locale].strip():
            text = body.text[locale].strip()
            notes = _script_notes(text, ("text", locale), settings, out)
            messages[locale] = _message(text, locale, notes)
        else:
            out.add(("text", locale), "the text is empty", "Write the message, or remove the line")
    return messages, {}


def _template_messages(
    request: PostRequest, settings: Settings, renderer: Renderer, needed: list[str], out: _Problems
) -> tuple[dict[str, _Message], dict[str, str]]:
    """Each locale's message in the first language of its fallback chain that translates all of
    the template (see the module's docstring)."""
    template, variables = str(request.body.template), request.body.vars
    messages: dict[str, _Message] = {}
    missing: dict[str, str] = {}
    try:
        for locale in needed:
            reasons = []
            for language in settings.content.chain(locale):  # in one script: config checks it
                coverage = renderer.catalogs.coverage(template, language)
                if not coverage.complete:
                    reasons.append(coverage.why())
                    continue
                text = renderer.render(template, language, variables)
                notes = [f"written in {language}: {reasons[0]}"] if reasons else []
                messages[locale] = _message(text, language, notes)
                break
            else:
                missing[locale] = "; ".join(reasons)
    except RenderError as exc:  # a missing template or variable: the same in every language
        out.add(("template",), exc.what, exc.fix[:1].upper() + exc.fix[1:])
    return messages, missing


def _script_notes(text: str, loc: tuple[str, ...], settings: Settings, out: _Problems) -> list[str]:
    """Text in the wrong script: a note for the reviewer, or a rejection where config is strict."""
    found = wrong_script(text, loc[-1])
    if found is None:
        return []
    if settings.content.script_check == "strict":
        out.add(
            loc, found, f"Put the {loc[-1]} text here, or move this text under its own language"
        )
        return []
    return [found]


def _check_alt_text(request: PostRequest, used: set[str], out: _Problems) -> None:
    for i, item in enumerate(request.body.media):
        if not item.file.lower().endswith(IMAGE_SUFFIXES):
            continue
        for locale in sorted(used - set(item.alt)):
            out.add(
                ("media", i, "alt"),
                f"the image {item.file} has no alt text in '{locale}'",
                f'Add {locale} = "…" to its alt, describing the picture for people who cannot '
                "see it",
            )


def _account_messages(
    request: PostRequest,
    settings: Settings,
    account: Account,
    locales: dict[str, list[str]],
    messages: dict[str, _Message],
    out: _Problems,
) -> dict[str, tuple[tuple[str, ...], _Message]]:
    """The message of each of the account's locales that has one, its platform's own text where
    the post gives one, with the key it comes from (for problems)."""
    body = request.body
    chosen: dict[str, tuple[tuple[str, ...], _Message]] = {}
    for locale in locales[account.key]:
        override = body.platform_text.get(account.platform, {}).get(locale)
        if override is not None:
            loc: tuple[str, ...] = ("platform_text", account.platform, locale)
            if not override.strip():
                out.add(loc, "the text is empty", "Write the message, or remove the line")
                continue
            notes = _script_notes(override, loc, settings, out)
            chosen[locale] = (loc, _message(override.strip(), locale, notes))
        elif locale in messages:
            loc = ("text", locale) if body.text else ("template",)
            chosen[locale] = (loc, messages[locale])
    return chosen


def plan(request: PostRequest, settings: Settings, renderer: Renderer) -> Plan:
    """Fan a checked post out to deliveries, each fitted to its platform.

    Raises:
        PostFileError: every targeting, locale, rendering, alt-text and length problem, each with
            its line and fix; or no account gets anything.
    """
    out = _Problems(request)
    skips = _Skips()
    targets = _target_accounts(request, settings, out)
    locales = _locales(request, targets, out, skips)
    needed = list(dict.fromkeys(loc for chosen in locales.values() for loc in chosen))
    messages, missing = _messages(request, settings, renderer, needed, out)
    _check_alt_text(request, set(needed), out)
    body = request.body
    planned = []
    for unit, account in targets:
        tags, required = mentions(settings, account, body.tags)
        chosen = _account_messages(request, settings, account, locales, messages, out)
        for locale, why in missing.items():
            if locale in locales[account.key] and locale not in chosen:
                skips.add(locale, why, account)
        # Never the same text twice on one account: a locale's own text wins over a fallback.
        own_first = sorted(chosen.items(), key=lambda c: c[1][1].language != c[0])
        sent: dict[str, str] = {}  # text -> locale
        for locale, (_, message) in own_first:
            if message.text in sent:
                skips.add(locale, f"its text is the same as the {sent[message.text]} one", account)
            else:
                sent[message.text] = locale
        for locale, (loc, message) in chosen.items():
            if sent.get(message.text) != locale:
                continue
            rtl = right_to_left(message.language)
            try:
                parts = fit(account.platform, message.text, tags, required, rtl=rtl)
            except FitError as exc:
                out.add(loc, f"{exc.what} ({locale})", exc.fix[:1].upper() + exc.fix[1:])
                continue
            planned.append(PlannedDelivery(unit, account, locale, parts, tags, message.notes))
    if not planned and not out.items:
        out.add(
            ("template",) if body.template else ("text",),
            "no account gets this post: " + "; ".join(skips.notes()),
            "Ask the administrator for the missing translations, or target other accounts",
        )
    out.raise_any()
    return Plan(planned, skips.notes())


def new_post(
    request: PostRequest,
    planned: Plan,
    media: Sequence[str],
    archive_path: str,
    received_at: datetime,
    status: DeliveryStatus = DeliveryStatus.PENDING,
) -> NewPost:
    """What the ledger records of a planned post. ``media`` are where the post's media files will
    be once archived (relative to the queue folder), in the post's order: each delivery carries
    them with the alt text of its locale."""
    return NewPost(
        key=request.key,
        unit=request.unit,
        source_name=request.source_name,
        sha256=request.sha256,
        priority=int(request.priority),
        not_before=request.not_before,
        received_at=received_at,
        archive_path=archive_path,
        request=request.body.model_dump(mode="json"),
        notes=planned.skipped,
        deliveries=[
            NewDelivery(
                unit=d.unit,
                account=d.account.key,
                platform=d.account.platform,
                locale=d.locale,
                parts=d.parts,
                tags=d.tags,
                notes=d.notes,
                media=[
                    {"path": path, "alt": item.alt.get(d.locale)}
                    for path, item in zip(media, request.body.media, strict=True)
                ],
            )
            for d in planned.deliveries
        ],
        status=status,
    )
