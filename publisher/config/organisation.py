"""The organisation config.toml describes: its units, their nodal officers and accounts, and the
rules that bind units together (the tags every post must carry, who amplifies whom).

Most of the engine needs only an account (``platform:handle``) and its unit; these models are that
vocabulary, apart from the engine's own settings in config.py.
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field

from publisher.config.fields import EMAIL, Handle, LocaleCode, Platform, Strict


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"'{value}' is not a time zone; use an IANA name such as 'Asia/Kolkata'"
        raise ValueError(msg) from None
    return value


class NodalOfficer(Strict):
    name: str
    designation: str
    email: str = Field(pattern=EMAIL)
    phone: str


class Account(Strict):
    """One presence on one platform. ``key`` (platform:handle) names it everywhere else."""

    platform: Platform
    handle: Handle
    locales: list[LocaleCode] = Field(min_length=1)
    platform_id: str | None = None  # page id, Instagram user id, user id on X
    credential: str | None = None  # the name of its secret (see publisher.config.credentials)
    app: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    """The developer app it posts through, for per-app quotas; by default what its credentials
    say (on X, the consumer key), else one app for the whole platform."""
    recipients: list[Annotated[str, Field(pattern=EMAIL)]] = Field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.handle}"


class Unit(Strict):
    name: str
    nodal_officer: NodalOfficer
    accounts: list[Account] = Field(default_factory=list)
    approval: bool = False  # its new posts wait for `publisher approve` (see controls.py)


class Organisation(Strict):
    name: str
    directorate: str
    timezone: Annotated[str, AfterValidator(_known_zone)] = "Asia/Kolkata"
    region: str = Field(default="IN", pattern=r"^[A-Z]{2}$")


class TagGroup(Strict):
    """Accounts every post must mention: whole units, and other handles per platform.

    ``main`` groups must be in the main post itself (X's 280 characters included); the others may
    overflow into replies or a first comment.
    """

    units: list[str] = Field(default_factory=list)
    handles: dict[Platform, list[Handle]] = Field(default_factory=dict)
    main: bool = False


class Tags(Strict):
    groups: dict[str, TagGroup] = Field(default_factory=dict)


ALL_UNITS = "all"


class AmplifyRule(Strict):
    """``[[amplify]]``: the target units' accounts retweet or share what the source units' own
    accounts publish, on the same platform. ``"all"`` names every unit; a unit never amplifies
    itself. ``counts_for_freshness``: whether an amplification keeps its account fresh."""

    sources: list[str] = Field(min_length=1)
    targets: list[str] = Field(min_length=1)
    platforms: list[Platform] = Field(min_length=1)
    counts_for_freshness: bool = False
