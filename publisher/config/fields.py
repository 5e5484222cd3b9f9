"""The checked value types config.toml and post files share, and the strict model both build on.

A value is refused with the fix in the message (a locale Babel knows, a handle as the platform
shows it, a platform with an installed adapter), so a nodal officer and an administrator read the
same words for the same mistake wherever they wrote it.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from typing import Annotated

from babel import Locale, UnknownLocaleError
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from publisher.config.plugins import platform_names

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_HANDLE = re.compile(r"^[A-Za-z0-9_.@+-]{1,100}$")


def _known_locale(value: str) -> str:
    try:
        Locale.parse(value)
    except (UnknownLocaleError, ValueError):
        msg = (
            f"'{value}' is not a locale Babel knows; use a language code such as "
            "'en', 'hi', 'ta', 'bn' or 'mr'"
        )
        raise ValueError(msg) from None
    return value


def _handle(value: str) -> str:
    value = value.removeprefix("@")
    if not _HANDLE.match(value):
        msg = (
            f"'{value}' is not a valid handle; write it as it appears on the platform, "
            "e.g. 'IndiaPostOffice'"
        )
        raise ValueError(msg)
    return value


def installed_platform(value: str) -> str:
    if value not in platform_names():
        msg = (
            f"'{value}' is not a platform with an installed adapter; use one of: "
            f"{', '.join(sorted(platform_names()))} (or install the package that adds it)"
        )
        raise ValueError(msg)
    return value


def _local_time(value: object) -> object:
    """A quoted "2026-12-01 10:00", as in post files; TOML's own date-times pass through."""
    if not isinstance(value, str):
        return value
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M")  # noqa: DTZ007 - zoned later
    except ValueError:
        msg = (
            f"'{value}' is not a date and time this engine can read; write it as "
            '"2026-12-01 10:00" (year-month-day hour:minute, the organisation\'s local time)'
        )
        raise ValueError(msg) from None


LocaleCode = Annotated[str, AfterValidator(_known_locale)]
Handle = Annotated[str, AfterValidator(_handle)]
Platform = Annotated[str, AfterValidator(installed_platform)]
"""x, facebook, instagram, email, or a platform a third-party package registers (README)."""
LocalTime = Annotated[datetime, BeforeValidator(_local_time)]


class Strict(BaseModel):
    """Unknown keys are errors; values are never coerced from strings ("true" is not a boolean)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def zoned(when: datetime, zone: tzinfo) -> datetime:
    """A local time in ``zone``; a time written with its own offset keeps it."""
    return when if when.tzinfo else when.replace(tzinfo=zone)
