"""Templates -> text in one language: Jinja2's sandbox, gettext catalogs and Babel formatting.

Templates come from the organisation's own folder, but their variables come from post files, so
rendering is sandboxed and strict: a missing variable is an error naming it, never a blank in a
government post. Whether a template may be rendered in a language at all (its catalog translates
every string) is planning's question to ``catalogs.py``; a message is rendered whole in one
language, its dates and numbers formatted in that language.

Templates and catalogs are read once per renderer: a template edited while the daemon runs is used
after SIGHUP (``systemctl reload publisher``), which builds a new engine and renderer.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, tzinfo
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.numbers import format_compact_decimal, format_currency, format_decimal
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
from publisher.planning.catalogs import Catalogs


@cache
def babel_locale(code: str, region: str) -> Locale:
    """``ta`` in India formats as ``ta_IN``: Indian grouping (2,10,000), the rupee, local dates."""
    try:
        return Locale.parse(f"{code}_{region}")
    except (UnknownLocaleError, ValueError):
        return Locale.parse(code)


class Renderer:
    """Renders message templates per language; one sandboxed environment per language, built
    once."""

    def __init__(self, templates: Path, zone: tzinfo, region: str) -> None:
        self.catalogs = Catalogs(templates)
        self._templates = templates
        self._zone = zone
        self._region = region
        self._envs: dict[str, SandboxedEnvironment] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Renderer:
        return cls(settings.paths.templates, settings.zone, settings.organisation.region)

    def render(self, template: str, language: str, variables: dict[str, Any]) -> str:
        """The message in one language, from that language's catalog (a string it lacks stays
        in English: planning renders only where ``catalogs.coverage`` is complete).

        Raises:
            RenderError: the template does not exist, or needs a variable the post did not give.
        """
        try:
            return self._env(language).get_template(f"{template}.j2").render(variables).strip()
        except TemplateNotFound:
            raise self.catalogs.unknown(template) from None
        except UndefinedError as exc:
            what = (
                f"template '{template}' needs a value that the post does not give ({exc.message})"
            )
            raise RenderError(what, "add it under [vars]") from None
        except (TypeError, ValueError) as exc:
            what = f"template '{template}' cannot use a value: {exc}"
            raise RenderError(what, "correct it in [vars]") from None

    def _env(self, language: str) -> SandboxedEnvironment:
        """The language's environment, built at its first render."""
        if language not in self._envs:
            env = SandboxedEnvironment(
                extensions=["jinja2.ext.i18n"],
                loader=FileSystemLoader(self._templates),
                undefined=StrictUndefined,
                autoescape=False,
                keep_trailing_newline=False,
                auto_reload=False,  # compiled once; see the module's docstring
            )
            env.policies["ext.i18n.trimmed"] = True  # as catalogs.EXTRACT_OPTIONS reads them
            translations = self.catalogs.translations(language)
            env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
            env.filters.update(self._filters(babel_locale(language, self._region)))
            self._envs[language] = env
        return self._envs[language]

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
