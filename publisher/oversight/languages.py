"""``publisher languages``: is every account's language translated, before a campaign finds out?

Per language: who translated its catalog and whether a native speaker reviewed it (the catalog's
header says), and per template what is translated, missing, or changed in English since it was
translated. Then the accounts that would get nothing in one of their languages, by the same
rule planning follows (``Catalogs.coverage`` along ``[content] fallback``).
"""

from __future__ import annotations

from babel import Locale

from publisher.config.settings import Settings
from publisher.planning.catalogs import SOURCE, Catalogs, Coverage

REVIEW = "# Native-speaker review:"  # the line of a catalog's header that says it


def _review(catalogs: Catalogs, language: str) -> str:
    """Who translated the catalog and who reviewed it, as its header says."""
    catalog = catalogs.catalog(language)
    if catalog is None:
        return "no catalog"
    header = " ".join(line.lstrip("# ").strip() for line in catalog.header_comment.splitlines())
    review = header.partition(REVIEW.lstrip("# "))[2].split(".")[0].strip()
    return f"{catalog.last_translator}; native-speaker review: {review or 'not recorded'}"


def _cell(coverage: Coverage) -> str:
    done = coverage.strings - len(coverage.missing) - len(coverage.fuzzy)
    changed = f" ({len(coverage.fuzzy)} changed)" if coverage.fuzzy else ""
    return f"{done}/{coverage.strings}{changed}"


def languages_text(settings: Settings, catalogs: Catalogs) -> tuple[str, bool]:
    """The report, and whether every account's every language has a full translation of every
    template (directly or through its fallback)."""
    templates = catalogs.template_names()
    spoken: dict[str, list[str]] = {}
    for _, account in settings.accounts():
        for locale in account.locales:
            spoken.setdefault(locale, []).append(f"{account.platform} @{account.handle}")
    languages = sorted(set(catalogs.languages()) | set(spoken))
    table = [["", *templates]]
    changed: list[str] = []
    for language in languages:
        coverages = [catalogs.coverage(template, language) for template in templates]
        table.append([language, *(_cell(c) for c in coverages)])
        for coverage in coverages:
            for msgid in coverage.fuzzy:
                was = catalogs.previous(language, msgid)
                before = f" (translated when it read {was!r})" if was else ""
                changed.append(f"  {language}, {coverage.template}: {msgid!r}{before}")
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = [
        f"Translations in {catalogs.folder}: strings translated of the template's",
        "",
        *(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in table
        ),
        "",
        "Who translated each catalog, as its header says:",
        *(
            f"  {language} {Locale.parse(language).english_name}: {_review(catalogs, language)}"
            for language in languages
            if language != SOURCE
        ),
    ]
    gaps = []
    for language, accounts in spoken.items():
        chain = settings.content.chain(language)
        lacking = [
            template
            for template in templates
            if not any(catalogs.coverage(template, other).complete for other in chain)
        ]
        if lacking:
            gaps.append(
                f"  {language}, for {', '.join(accounts)}: {', '.join(lacking)} would not go out "
                f"in {language}"
            )
    if changed:
        lines += ["", "Changed in English since translated (the translation is not used):"]
        lines += changed
    if gaps:
        lines += ["", "Accounts that would get nothing in one of their languages:", *gaps]
    else:
        lines += ["", "Every account's every language has a full translation of every template."]
    return "\n".join(lines) + "\n", not gaps
