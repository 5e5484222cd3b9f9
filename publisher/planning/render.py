"""Templates -> text in one locale: Jinja2's sandbox, gettext catalogs and Babel formatting.

Templates come from the organisation's own folder, but their variables come from post files, so
rendering is sandboxed and strict: a missing variable is an error naming it, never a blank in a
government post. Catalogs (``templates/locale/<lang>/LC_MESSAGES/messages.po``) are compiled into
the state folder whenever the .po file is newer, so translators never handle .mo files.

Templates and catalogs are read once per renderer: a template edited while the daemon runs is used
after SIGHUP (``systemctl reload publisher``), which builds a new engine and renderer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from functools import cache
from gettext import NullTranslations
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_compact_decimal, format_currency, format_decimal
from babel.support import Translations
from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    Undefined,
    UndefinedError,
)
from jinja2.sandbox import SandboxedEnvironment

from publisher.config.settings import Settings
from publisher.errors import RenderError

logger = logging.getLogger(__name__)

DOMAIN = "messages"


SOURCE = "en"  # the language the templates are written in


@dataclass(frozen=True)
class Rendered:
    text: str
    fallbacks: list[str]  # one sentence per string that had no translation in the locale


_Env = tuple[SandboxedEnvironment, list[tuple[str, str]], bool]


class _Miss(NullTranslations):
    """A link in the fallback chain: a message reaching it was not found in the links before."""

    def __init__(self, code: str, log: list[tuple[str, str]]) -> None:
        super().__init__()
        self._code = code
        self._log = log

    def gettext(self, message: str) -> str:
        self._log.append((message, self._code))
        return super().gettext(message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        self._log.append((msgid1, self._code))
        return super().ngettext(msgid1, msgid2, n)


def _short(text: str, width: int = 48) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def compile_catalogs(source: Path, target: Path) -> None:
    """Compile each ``<lang>/LC_MESSAGES/messages.po`` under source whose .mo is missing or old."""
    for po_path in sorted(source.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo_path = target / po_path.relative_to(source).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime_ns > po_path.stat().st_mtime_ns:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as po:
            catalog = read_po(po, locale=po_path.parts[-3])
        tmp = mo_path.with_suffix(".mo.tmp")
        with tmp.open("wb") as mo:
            write_mo(mo, catalog)
        tmp.replace(mo_path)
        logger.info("compiled catalog %s", po_path)


@cache
def babel_locale(code: str, region: str) -> Locale:
    """``ta`` in India formats as ``ta_IN``: Indian grouping (2,10,000), the rupee, local dates."""
    try:
        return Locale.parse(f"{code}_{region}")
    except (UnknownLocaleError, ValueError):
        return Locale.parse(code)


class Renderer:
    """Renders message templates per locale; one sandboxed environment per locale, built once."""

    def __init__(
        self,
        templates: Path,
        catalogs: Path,
        zone: tzinfo,
        region: str,
        fallback: Callable[[str], list[str]] = lambda locale: [locale],
    ) -> None:
        self._templates = templates
        self._catalogs = catalogs
        self._zone = zone
        self._region = region
        self._fallback = fallback
        self._envs: dict[str, _Env] = {}
        compile_catalogs(templates / "locale", catalogs)

    @classmethod
    def from_settings(cls, settings: Settings) -> Renderer:
        """Templates from the configured folder; compiled catalogs kept in the state folder."""
        return cls(
            settings.paths.templates,
            settings.paths.state / "locale",
            settings.zone,
            settings.organisation.region,
            settings.content.chain,
        )

    def template_names(self) -> list[str]:
        return sorted(p.stem for p in self._templates.glob("*.j2"))

    def render(self, template: str, locale: str, variables: dict[str, Any]) -> Rendered:
        """The message for one locale, and the strings that fell back to another language.

        Not thread-safe: the fallback log of a locale is shared by its renders.

        Raises:
            RenderError: the template does not exist, or needs a variable the post did not give.
        """
        env, log, source = self._env(locale)
        log.clear()
        try:
            text = env.get_template(f"{template}.j2").render(variables).strip()
        except TemplateNotFound:
            names = ", ".join(self.template_names()) or "(none)"
            what = f"there is no template named '{template}'"
            raise RenderError(what, f"use one of: {names}") from None
        except UndefinedError as exc:
            what = (
                f"template '{template}' ({locale}) needs a value that the post does not give "
                f"({exc.message})"
            )
            raise RenderError(what, "add it under [vars]") from None
        except (TypeError, ValueError) as exc:
            what = f"template '{template}' ({locale}) cannot use a value: {exc}"
            raise RenderError(what, "correct it in [vars]") from None
        found = dict(log)  # the last link a message reached is where it was found
        notes = [
            f"'{_short(msgid)}' is not translated into {locale}: "
            + ("the English source text is used" if used == SOURCE else f"the {used} text is used")
            for msgid, used in found.items()
        ]
        return Rendered(text, [] if source else notes)

    def _env(self, locale: str) -> _Env:
        """The locale's environment (built at its first render), its fallback log, and whether
        it is the templates' own language (which has nothing to fall back from)."""
        if locale not in self._envs:
            env = SandboxedEnvironment(
                extensions=["jinja2.ext.i18n"],
                loader=FileSystemLoader(self._templates),
                undefined=StrictUndefined,
                autoescape=False,
                keep_trailing_newline=False,
                auto_reload=False,  # compiled once; see the module's docstring
            )
            log: list[tuple[str, str]] = []
            chain = Translations.load(str(self._catalogs), [locale], DOMAIN)
            for code in [*self._fallback(locale)[1:], SOURCE]:
                chain.add_fallback(_Miss(code, log))
                if code != SOURCE:
                    chain.add_fallback(Translations.load(str(self._catalogs), [code], DOMAIN))
            env.install_gettext_translations(chain, newstyle=True)  # type: ignore[attr-defined]
            env.filters.update(self._filters(babel_locale(locale, self._region)))
            self._envs[locale] = (env, log, Locale.parse(locale).language == SOURCE)
        return self._envs[locale]

    def _filters(self, loc: Locale) -> dict[str, Any]:
        zone = self._zone

        def as_date(value: object) -> str:
            if not isinstance(value, date):
                raise TypeError(_want(value, "a date", "2026-12-01"))
            return format_date(value, format="long", locale=loc)

        def as_time(value: object) -> str:
            if isinstance(value, datetime) and value.tzinfo:
                value = value.astimezone(zone)
            if not isinstance(value, time | datetime):
                raise TypeError(_want(value, "a time", "09:30:00"))
            return format_time(value, format="short", locale=loc)

        def number(value: object) -> str:
            return format_decimal(_number(value), locale=loc)

        def compact(value: object) -> str:
            return format_compact_decimal(_number(value), locale=loc, fraction_digits=1)

        def inr(value: object) -> str:
            amount = _number(value)
            if float(amount).is_integer():  # ₹250, not ₹250.00
                return format_currency(
                    amount, "INR", locale=loc, format="¤#,##,##0", currency_digits=False
                )
            return format_currency(amount, "INR", locale=loc)

        def percent(value: object) -> str:
            return format_decimal(_number(value), format="#,##0.##", locale=loc) + "%"

        return {
            "date": as_date,
            "time": as_time,
            "number": number,
            "compact": compact,
            "inr": inr,
            "percent": percent,
        }


def _want(value: object, kind: str, example: str) -> str:
    if isinstance(value, Undefined):
        str(value)  # a StrictUndefined raises UndefinedError here, naming the missing variable
    return f"{value!r} is not {kind}; write it without quotes, e.g. {example}"


def _number(value: object) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError(_want(value, "a number", "2.5"))
    return value
