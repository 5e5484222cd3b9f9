"""The translations of the templates, read straight from the translators' ``.po`` files.

A message goes out in a language only where that language's catalog translates every string of
its template (``Coverage.complete``): never half in one language and half in another, and never
the English source under another language's name. Planning and ``publisher languages`` both ask
here, so what the command reports is what planning will do.

Catalogs are compiled in memory when read, so there is no ``.mo`` file that could be older than
its source, or outlive it.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, unescape
from babel.support import Translations

from publisher.errors import RenderError

DOMAIN = "messages"
SOURCE = "en"  # the language the templates are written in
# How the engine's Jinja environment reads {% trans %} blocks; extraction must read them the same
# way, or the strings it finds would not be the ones looked up (babel.cfg says the same).
EXTRACT_OPTIONS = {"extensions": "jinja2.ext.i18n", "trimmed": "true"}


@dataclass(frozen=True)
class Coverage:
    """How far one language's catalog translates one template."""

    template: str
    language: str
    strings: int  # how many the template has
    missing: tuple[str, ...]  # no translation, or no catalog for the language at all
    fuzzy: tuple[str, ...]  # translated before the English changed: ``pybabel update`` marks them

    @property
    def complete(self) -> bool:
        return not self.missing and not self.fuzzy

    def why(self) -> str:
        """Why the template cannot go out in this language, said for a reviewer."""
        gaps = []
        if self.missing:
            gaps.append(f"{len(self.missing)} not translated")
        if self.fuzzy:
            gaps.append(f"{len(self.fuzzy)} changed in English since translated")
        return (
            f"'{self.template}' is not fully translated into {self.language} "
            f"({', '.join(gaps)} of {self.strings} strings)"
        )


class Catalogs:
    """The ``<templates>/locale/<lang>/LC_MESSAGES/messages.po`` catalogs and the templates'
    strings, each read once: a reload (SIGHUP) builds a new one."""

    def __init__(self, templates: Path) -> None:
        self.templates = templates
        self.folder = templates / "locale"
        self._catalogs: dict[str, Catalog | None] = {}
        self._strings: dict[str, tuple[str, ...]] = {}

    def languages(self) -> list[str]:
        """The languages with a catalog, and the templates' own."""
        found = {p.parts[-3] for p in self.folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
        return sorted(found | {SOURCE})

    def template_names(self) -> list[str]:
        return sorted(p.stem for p in self.templates.glob("*.j2"))

    def path(self, language: str) -> Path:
        return self.folder / language / "LC_MESSAGES" / f"{DOMAIN}.po"

    def catalog(self, language: str) -> Catalog | None:
        """The language's catalog, or None where it has none."""
        if language not in self._catalogs:
            try:
                with self.path(language).open("rb") as po:
                    self._catalogs[language] = read_po(po, locale=language, domain=DOMAIN)
            except FileNotFoundError:
                self._catalogs[language] = None
        return self._catalogs[language]

    def unknown(self, template: str) -> RenderError:
        names = ", ".join(self.template_names()) or "(none)"
        return RenderError(f"there is no template named '{template}'", f"use one of: {names}")

    def strings(self, template: str) -> tuple[str, ...]:
        """The template's translatable strings (the msgids), in order.

        Raises:
            RenderError: there is no such template.
        """
        if template not in self._strings:
            path = self.templates / f"{template}.j2"
            if not path.is_file():
                raise self.unknown(template)
            found = extract_from_file("jinja2", path, options=EXTRACT_OPTIONS)
            ids = (m if isinstance(m, str) else m[0] for _, m, _, _ in found)
            self._strings[template] = tuple(dict.fromkeys(ids))
        return self._strings[template]

    def coverage(self, template: str, language: str) -> Coverage:
        """What the language's catalog translates of the template; the source is always whole."""
        strings = self.strings(template)
        if language == SOURCE:
            return Coverage(template, language, len(strings), (), ())
        catalog = self.catalog(language)
        missing, fuzzy = [], []
        for msgid in strings:
            message = catalog.get(msgid) if catalog is not None else None
            string = message.string if message is not None else None
            if not string or not all(string):  # a plural needs each of its forms
                missing.append(msgid)
            elif message is not None and message.fuzzy:
                fuzzy.append(msgid)
        return Coverage(template, language, len(strings), tuple(missing), tuple(fuzzy))

    def previous(self, language: str, msgid: str) -> str | None:
        """What a string changed in English read when it was translated: ``pybabel update
        --previous`` keeps it as a ``#| msgid`` comment, which Babel's reader leaves among the
        translator's comments."""
        catalog = self.catalog(language)
        message = catalog.get(msgid) if catalog is not None else None
        if message is None:
            return None
        pieces = [
            comment[1:].strip().removeprefix("msgid").strip()
            for comment in message.user_comments
            if comment.startswith(("| msgid ", '| "'))
        ]
        return "".join(unescape(piece) for piece in pieces) or None

    def translations(self, language: str) -> Translations:
        """The language's catalog compiled for gettext (fuzzy entries left out, as msgfmt does);
        an empty one where it has none, so that the source text is used."""
        catalog = self.catalog(language)
        if catalog is None:
            return Translations()
        compiled = BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        return Translations(compiled, domain=DOMAIN)
