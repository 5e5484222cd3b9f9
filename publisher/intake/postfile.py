"""Post file -> PostRequest, or a PostFileError a nodal officer can act on.

A post file is TOML a nodal officer writes in a text editor. Everything in it is untrusted: it is
checked here field by field, and every fault found is reported at once with its line and the fix.
What the file means for the organisation's accounts (targets, locales, rendering) is planning's job;
the post a file asks for (PostFile, PostRequest) is publisher.planning.request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from pydantic import ValidationError

from publisher.config.tomlfile import line_of, parse_toml, problems_from_validation
from publisher.errors import InputError, PostFileError, Problem
from publisher.planning.request import NAME, PostFile, PostRequest
from publisher.vocabulary import Priority

TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")
TIME_EXAMPLE = "2026-12-01 10:00"


def _parse_local(text: str) -> datetime:
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt)  # noqa: DTZ007 - local, zoned by caller
        except ValueError:
            continue
    msg = (
        f"'{text}' is not a date and time this engine can read (or the date does not "
        f'exist); write it as "{TIME_EXAMPLE}" (year-month-day hour:minute, 24-hour clock)'
    )
    raise ValueError(msg)


def publish_time(value: object, zone: tzinfo, now: datetime, max_past: timedelta) -> datetime:
    """When to publish, as aware UTC. Local times are in the organisation's zone.

    Raises:
        ValueError: with the fix, for an unreadable, impossible or long-past time.
    """
    if value is None:
        return now
    if isinstance(value, str):
        value = _parse_local(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        msg = f'{value} has no time of day; write the time too, e.g. "{value} 10:00"'
        raise ValueError(msg)
    if not isinstance(value, datetime):
        msg = f'{value!r} is not a date and time; write it as "{TIME_EXAMPLE}"'
        raise ValueError(msg)
    try:
        when = (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(UTC)
    except (OverflowError, ValueError):
        msg = f'{value} is not a date this engine can use; write it as "{TIME_EXAMPLE}"'
        raise ValueError(msg) from None
    if when < now - max_past:
        local = when.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        msg = (
            f"{local} is in the past; check the year and date, or remove publish_at to "
            "publish as soon as possible"
        )
        raise ValueError(msg)
    return max(when, now)


def decode(raw: bytes, source_name: str, error: type[InputError]) -> str:
    """A hand-written file's bytes as text: UTF-8, with or without a byte-order mark.

    Raises:
        error: for UTF-16 (as some Windows editors save "Unicode" text) or any other encoding.
    """
    try:
        text = raw.decode("utf-8-sig")
        if "\0" in text:
            raise UnicodeDecodeError("utf-8", raw, 0, 1, "NUL bytes")
    except UnicodeDecodeError:
        problem = Problem(
            "encoding", "the file is not UTF-8 text", "Save it as UTF-8 in your editor"
        )
        raise error(source_name, [problem]) from None
    return text


def usable_name(value: str) -> bool:
    """Whether ``value`` may name a post (its ``id``): letters, digits, ``-``, ``_``, ``.``."""
    return bool(NAME.match(value))


def misplaced(
    data: dict[str, Any], text: str, keys: Collection[str] = PostFile.model_fields.keys()
) -> list[Problem]:
    """Settings (``keys``) written below a [text] or [vars] heading, which TOML files under that
    section.

    Left alone, ``platforms = ["x"]`` under [vars] would be a template variable and the post would
    go to every platform; so it is taken out and reported as what it is.
    """
    problems = []
    for section in ("text", "vars"):
        table = data.get(section)
        if not isinstance(table, dict):
            continue
        for key in [k for k in table if k in keys]:
            del table[key]
            problems.append(
                Problem(
                    f"{section}.{key}",
                    f"'{key}' is inside the [{section}] section, where it does not belong",
                    f"Move the line above the [{section}] section: in TOML, every line after a "
                    "[section] heading belongs to that section",
                    line_of(text, (section, key)),
                )
            )
    return problems


def parse_post(
    raw: bytes, unit: str, source_name: str, zone: tzinfo, now: datetime, max_past: timedelta
) -> PostRequest:
    """Check a post file's bytes.

    Raises:
        PostFileError: listing every problem found, each with line, field and fix.
    """
    text = decode(raw, source_name, PostFileError)
    data = parse_toml(text, source_name, PostFileError)
    problems = misplaced(data, text)
    try:
        not_before = publish_time(data.get("publish_at"), zone, now, max_past)
    except (ValueError, TypeError) as exc:
        what, _, fix = str(exc).partition("; ")
        line = line_of(text, ("publish_at",))
        problems.append(Problem("publish_at", what, fix[:1].upper() + fix[1:], line))
    try:
        body = PostFile.model_validate(data)
    except ValidationError as exc:
        found = problems_from_validation(exc, PostFile, text)
        problems = [p for p in found if p.where != "publish_at" or not problems] + problems
    if problems:
        raise PostFileError(source_name, sorted(problems, key=lambda p: p.line or len(text)))
    return PostRequest(
        unit=unit,
        source_name=source_name,
        source=text,
        sha256=hashlib.sha256(raw).hexdigest(),
        body=body,
        not_before=not_before,
        priority=Priority.URGENT if body.priority == "urgent" else Priority.NORMAL,
    )
