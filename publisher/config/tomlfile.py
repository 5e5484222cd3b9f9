"""Reading TOML that people write by hand, and explaining its faults in their terms.

Both config.toml (written by an administrator) and post files (written by nodal officers) are TOML
validated by pydantic models. Pydantic's messages name Python types; these helpers turn them into a
key path, a line number where one can be found, what is wrong, and what to write instead.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from publisher.errors import InputError, Problem

_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")

_TYPE_FIXES = {
    "string_type": 'Put the value in double quotes, e.g. "text"',
    "int_type": "Write a whole number without quotes, e.g. 5",
    "float_type": "Write a number without quotes, e.g. 2.5",
    "bool_type": "Write true or false, without quotes",
    "list_type": 'Write a list in square brackets, e.g. ["en", "ta"]',
    "dict_type": "Write a table: a [section] heading, or { key = value } inline",
    "model_type": "Write a table: a [section] heading, or { key = value } inline",
    "missing": "Add this key",
    "literal_error": "Use one of the values listed",
    "too_short": "Add at least one entry",
    "string_pattern_mismatch": "Check how the value is written",
    "greater_than": "Use a larger number",
    "greater_than_equal": "Use a larger number",
    "less_than_equal": "Use a smaller number",
    "finite_number": "Write an ordinary number",
}


def parse_toml(text: str, path: str, error: type[InputError]) -> dict[str, Any]:
    """Parse TOML text, turning a syntax error into ``error`` with the line it occurred on."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_POSITION.search(str(exc))
        what = _TOML_POSITION.sub("", str(exc)).strip()
        raise error(
            path,
            [
                Problem(
                    where="TOML syntax",
                    what=f"the file is not valid TOML ({what})",
                    fix="Check that line: every text value needs double quotes on both sides, "
                    "every [section] may appear only once, and each key only once per section",
                    line=int(found.group(1)) if found else None,
                )
            ],
        ) from None


def load_toml(path: Path, error: type[InputError]) -> tuple[dict[str, Any], str]:
    """Read a UTF-8 TOML file; returns the data and the text (for locating problems by line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise error(
            str(path),
            [Problem("encoding", "the file is not UTF-8 text", "Save it as UTF-8 in your editor")],
        ) from None
    except OSError as exc:
        raise error(
            str(path),
            [Problem("file", f"it cannot be read ({exc.strerror})", "Check the path")],
        ) from None
    return parse_toml(text, str(path), error), text


def key_path(loc: tuple[int | str, ...]) -> str:
    """``('units', 'tn', 'accounts', 1, 'handle')`` -> ``units.tn.accounts[1].handle``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "[key]":
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """The line where a key path is written, found by following its keys down the file.

    A best effort for people, not a parser: the keys of the path are looked for in order, an index
    ``[n]`` skipping to the n-th further mention of the list's key (``[[accounts]]`` tables). For a
    key that is not there, the line of the deepest key that is.
    """
    lines = text.splitlines()

    def mention(key: str, start: int) -> int:
        pattern = re.compile(rf"(?<![\w-]){re.escape(key)}(?![\w-])")
        found = (i for i in range(start, len(lines)) if pattern.search(lines[i].split("#")[0]))
        return next(found, -1)

    at, previous = 0, ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):  # the n-th table of an array: n mentions further down
            for _ in range(part):
                further = mention(previous, at + 1)
                if further < 0:
                    break  # an inline list: the items share the line
                at = further
            continue
        found = mention(part, at)
        if found < 0:  # a key that is missing: point at the section it belongs in
            return at + 1 if previous else None
        at, previous = found, part
    return at + 1 if previous else None


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> ``X``; anything else unchanged."""
    args = [a for a in typing.get_args(annotation) if a is not types.NoneType]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return annotation


def _allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys accepted by the table holding ``loc[-1]``, found by walking the model's fields."""
    current: Any = model
    for part in loc[:-1]:
        current = _unwrap(current)
        if typing.get_origin(current) in (list, dict):
            current = typing.get_args(current)[-1]  # the index or key selects an element
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def problems_from_validation(
    exc: ValidationError, model: type[BaseModel], text: str
) -> list[Problem]:
    """One Problem per pydantic error, in the words of someone editing the file."""
    problems = []
    for err in exc.errors():
        loc = err["loc"]
        kind = err["type"]
        msg = str(err["msg"]).removeprefix("Value error, ")
        if kind == "extra_forbidden":
            allowed = _allowed_keys(model, loc)
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            what = f"'{loc[-1]}' is not a key this file knows"
            fix = f"Did you mean '{close[0]}'?" if close else "Remove it or check its spelling"
            if allowed:
                fix += f" Keys allowed here: {', '.join(allowed)}"
        elif kind == "missing":
            what, fix = "this required key is missing", _TYPE_FIXES[kind]
        elif kind == "value_error":
            what, _, fix = msg.partition("; ")
            fix = fix[:1].upper() + fix[1:]
        else:
            got = err.get("input")
            shown = f" (found {got!r})" if not isinstance(got, dict | list) else ""
            what = msg[:1].lower() + msg[1:] + shown
            fix = _TYPE_FIXES.get(kind, "Correct the value")
        problems.append(Problem(key_path(loc), what, fix, line_of(text, loc)))
    return problems
