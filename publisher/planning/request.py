"""What a post asks for, whatever its source: the keys of a post file (``PostFile``) and the
checked request (``PostRequest``) that planning turns into deliveries.

The queue folder's files, the recurring schedules and the evergreen pools all read into these
(publisher.intake), so a post means the same wherever it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from publisher.config.fields import Handle, LocaleCode, Platform, Strict
from publisher.vocabulary import Priority

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


MEDIA_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".mp4", ".mov")


def _relative_media(value: str) -> str:
    if not value.lower().endswith(MEDIA_SUFFIXES):
        msg = (
            f"'{value}' is not a photo or video; name a file ending in {', '.join(MEDIA_SUFFIXES)}"
        )
        raise ValueError(msg)
    parts = value.replace("\\", "/").split("/")
    if value.startswith(("/", "\\")) or (len(value) > 1 and value[1] == ":") or ".." in parts:
        msg = (
            f"'{value}' points outside the post's folder; put the file in the same folder as the "
            'post file and give just its name, e.g. "photo.jpg"'
        )
        raise ValueError(msg)
    return value


def _name(what: str, example: str) -> AfterValidator:
    def check(value: str) -> str:
        if not NAME.match(value):
            msg = (
                f"'{value}' is not a usable {what}; use letters, digits, '-', '_' or '.', no "
                f'spaces, starting with a letter or digit, e.g. "{example}"'
            )
            raise ValueError(msg)
        return value

    return AfterValidator(check)


class MediaItem(Strict):
    file: Annotated[str, AfterValidator(_relative_media)]
    alt: dict[LocaleCode, str] = Field(default_factory=dict)


class PostFile(Strict):
    """The keys a post file may have. See the README's "Post files" section for examples."""

    id: Annotated[str, _name("id", "pongal-2026")] | None = None
    text: dict[LocaleCode, str] = Field(default_factory=dict)
    platform_text: dict[Platform, dict[LocaleCode, str]] = Field(default_factory=dict)
    template: Annotated[str, _name("template name", "savings-scheme")] | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    locales: list[LocaleCode] | None = None
    units: list[str] | None = None
    platforms: list[Platform] | None = None
    accounts: list[Handle] | None = None
    publish_at: datetime | date | str | None = None
    priority: Literal["normal", "urgent"] = "normal"
    tags: list[Handle] = Field(default_factory=list)
    media: list[MediaItem] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_message(self) -> PostFile:
        if bool(self.text) == bool(self.template):
            msg = (
                "a post needs its message either as text or as a template, not both and not "
                'neither; add a [text] section with one line per language (en = "…") or a '
                'line template = "name" with its [vars]'
            )
            raise ValueError(msg)
        files = [m.file.casefold() for m in self.media]
        if len(files) != len(set(files)):
            msg = "the same file is listed twice under [[media]]; list each photo once"
            raise ValueError(msg)
        if self.vars and not self.template:
            msg = '[vars] only makes sense with a template; remove [vars] or add template = "name"'
            raise ValueError(msg)
        return self


@dataclass(frozen=True)
class PostRequest:
    """A checked post file: what the officer asked for, before it is planned onto accounts."""

    unit: str
    source_name: str
    source: str  # the file's text, to point at the line of a problem found later
    sha256: str
    body: PostFile
    not_before: datetime  # aware UTC
    priority: Priority

    @property
    def key(self) -> str:
        """The post's identity: its id if the file gives one, else its content."""
        return f"{self.unit}/{self.body.id or 'sha256:' + self.sha256[:32]}"
