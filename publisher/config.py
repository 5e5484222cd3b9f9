"""config.toml -> one typed, validated Settings object.

The daemon refuses to start on a bad config rather than guess: every problem is reported at once,
each naming its key path (``units.haryana.accounts[1].locales``) and the fix. Unknown keys are
errors, because a misspelt key silently ignored is a setting silently lost. Secrets never live here:
an account names a credential, and the token comes from elsewhere.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import tzinfo
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from publisher.errors import ConfigError, Problem
from publisher.tomlfile import load_toml, problems_from_validation

Platform = Literal["x", "facebook", "instagram", "email"]

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_UNIT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
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


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"'{value}' is not a time zone; use an IANA name such as 'Asia/Kolkata'"
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


LocaleCode = Annotated[str, AfterValidator(_known_locale)]
Handle = Annotated[str, AfterValidator(_handle)]


class Strict(BaseModel):
    """Unknown keys are errors; values are never coerced from strings ("true" is not a boolean)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


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
    credential: str | None = None  # the name of its secret (see publisher.credentials)
    recipients: list[Annotated[str, Field(pattern=EMAIL)]] = Field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.handle}"


class Unit(Strict):
    name: str
    nodal_officer: NodalOfficer
    accounts: list[Account] = Field(default_factory=list)


class Organisation(Strict):
    name: str
    directorate: str
    timezone: Annotated[str, AfterValidator(_known_zone)] = "Asia/Kolkata"
    region: str = Field(default="IN", pattern=r"^[A-Z]{2}$")


class Paths(Strict):
    """Relative paths are taken from the folder config.toml is in."""

    queue: Path = Field(default=Path("queue"), strict=False)
    state: Path = Field(default=Path("state"), strict=False)
    templates: Path = Field(default=Path("templates"), strict=False)
    evergreen: Path = Field(default=Path("schedules/evergreen"), strict=False)


class Database(Strict):
    url: str | None = None


class Intake(Strict):
    settle_seconds: float = Field(default=2.0, ge=0, le=3600)
    poll_seconds: float = Field(default=5.0, gt=0, le=3600)
    media_wait_minutes: float = Field(default=30.0, ge=0, le=7 * 24 * 60)
    max_past_hours: float = Field(default=24.0, ge=0, le=365 * 24)


class Dispatch(Strict):
    lease_seconds: float = Field(default=300.0, gt=0, le=86400)
    max_attempts: int = Field(default=8, ge=1, le=1000)
    retry_base_seconds: float = Field(default=30.0, gt=0, le=86400)
    retry_max_seconds: float = Field(default=3600.0, gt=0, le=7 * 86400)


class Freshness(Strict):
    """The 7-day guarantee (publisher.freshness): when to warn, when to publish from the pool,
    and who hears about accounts at risk."""

    max_silence_days: float = Field(default=7.0, gt=0)
    warn_after_days: float = Field(default=5.0, gt=0)
    sweep_minutes: float = Field(default=60.0, gt=0, le=24 * 60)
    alert_to: list[Annotated[str, Field(pattern=EMAIL)]] = Field(default_factory=list)
    # empty: the directorate's nodal officer gets the alerts and the daily digest
    digest_hour: int = Field(default=9, ge=0, le=23)  # local time of the daily digest
    smtp_credential: str | None = None  # the SMTP login for warnings and alerts, if any


class TagGroup(Strict):
    """Accounts every post must mention: whole units, and other handles per platform.

    ``main`` groups must be in the main post itself (X's 280 characters included); the others may
    overflow into replies or a first comment.
    """

    units: list[str] = Field(default_factory=list)
    handles: dict[Platform, list[Handle]] = Field(default_factory=dict)
    main: bool = False


class Content(Strict):
    """How the engine treats languages: translation fallbacks, and the script check."""

    fallback: dict[LocaleCode, LocaleCode] = Field(default_factory=dict)
    script_check: Literal["warn", "strict"] = "warn"

    def chain(self, locale: str) -> list[str]:
        """``mr`` -> ``["mr", "hi", "en"]`` when mr falls back to hi and hi to en."""
        out = [locale]
        while out[-1] in self.fallback and self.fallback[out[-1]] not in out:
            out.append(self.fallback[out[-1]])
        return out


class Tags(Strict):
    groups: dict[str, TagGroup] = Field(default_factory=dict)


class PlatformOptions(Strict):
    """Settings every adapter takes. ``api_base_url`` sends the client library's requests to
    another endpoint than the platform's own (an API gateway; the tests' fake servers)."""

    api_base_url: str | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)


class GraphOptions(PlatformOptions):
    graph_version: str = Field(default="v21.0", pattern=r"^v\d+\.\d+$")


class InstagramOptions(GraphOptions):
    media_base_url: str | None = None  # where the archive is served from: Instagram fetches media
    container_poll_seconds: float = Field(default=2.0, ge=0)
    container_poll_limit: int = Field(default=30, ge=1)


class EmailOptions(PlatformOptions):
    host: str = "localhost"
    port: int = Field(default=587, gt=0)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    sender: str = Field(default="publisher@localhost", pattern=EMAIL)
    ca_file: Path | None = Field(default=None, strict=False)  # to trust a private CA's certificate


class Platforms(Strict):
    x: PlatformOptions = PlatformOptions()
    facebook: GraphOptions = GraphOptions()
    instagram: InstagramOptions = InstagramOptions()
    email: EmailOptions = EmailOptions()


class CredentialsFile(Strict):
    file: Path | None = Field(
        default=None, strict=False
    )  # the secrets file: mode 600, service user


class Settings(Strict):
    organisation: Organisation
    units: dict[str, Unit] = Field(min_length=1)
    paths: Paths = Paths()
    database: Database = Database()
    intake: Intake = Intake()
    dispatch: Dispatch = Dispatch()
    freshness: Freshness = Freshness()
    tags: Tags = Tags()
    content: Content = Content()
    platforms: Platforms = Platforms()
    credentials: CredentialsFile = CredentialsFile()

    def accounts(self) -> list[tuple[str, Account]]:
        """Every account with the id of its unit, in config order."""
        return [(uid, a) for uid, unit in self.units.items() for a in unit.accounts]

    @property
    def zone(self) -> tzinfo:
        return ZoneInfo(self.organisation.timezone)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.paths.state / 'publisher.db'}"


def _cross_references(settings: Settings) -> list[Problem]:
    """What pydantic cannot see field by field: names that must point at each other."""
    units = sorted(settings.units)
    problems = [
        Problem(
            f"units.{uid}",
            "a unit id names its queue folder and may hold only lower-case letters, digits and '-'",
            "Rename it, e.g. 'tamil-nadu'",
        )
        for uid in settings.units
        if not _UNIT_ID.match(uid)
    ]
    if settings.organisation.directorate not in settings.units:
        problems.append(
            Problem(
                "organisation.directorate",
                f"'{settings.organisation.directorate}' is not a unit",
                f"Name one of: {', '.join(units)}",
            )
        )
    seen = Counter(a.key.lower() for _, a in settings.accounts())
    for uid, account in settings.accounts():
        if seen.pop(account.key.lower(), 0) > 1:
            problems.append(
                Problem(
                    f"units.{uid}.accounts",
                    f"the {account.platform} handle '{account.handle}' is listed more than once",
                    "Each account belongs to exactly one unit: remove the duplicate",
                )
            )
    problems.extend(
        Problem(
            f"tags.groups.{name}.units",
            f"'{u}' is not a unit",
            f"Name one of: {', '.join(units)}",
        )
        for name, group in settings.tags.groups.items()
        for u in group.units
        if u not in settings.units
    )
    for locale, target in settings.content.fallback.items():
        if locale in settings.content.chain(target):
            problems.append(
                Problem(
                    f"content.fallback.{locale}",
                    f"falling back from '{locale}' to '{target}' leads back to '{locale}'",
                    "Make the chain end, e.g. at 'en', which falls back to nothing",
                )
            )
    problems.extend(
        Problem(
            f"units.{uid}.accounts",
            f"the e-mail account '{account.handle}' has no recipients",
            'Add recipients = ["name@example.gov.in"] to it',
        )
        for uid, account in settings.accounts()
        if account.platform == "email" and not account.recipients
    )
    freshness = settings.freshness
    if freshness.sweep_minutes * 2 / (24 * 60) >= freshness.max_silence_days:
        problems.append(
            Problem(
                "freshness.sweep_minutes",
                "two sweeps take longer than max_silence_days, so a deadline could pass unseen",
                "Sweep more often: the default, 60, is right for a deadline of days",
            )
        )
    if settings.freshness.warn_after_days >= settings.freshness.max_silence_days:
        problems.append(
            Problem(
                "freshness.warn_after_days",
                "it is not less than max_silence_days, so the warning would come too late",
                "Make it smaller than max_silence_days",
            )
        )
    return problems


def load_settings(path: Path) -> Settings:
    """Read and validate config.toml; relative paths are taken from the config file's folder.

    Raises:
        ConfigError: listing every problem, each with its key path and fix.
    """
    data, text = load_toml(path, ConfigError)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(str(path), problems_from_validation(exc, Settings, text)) from None
    problems = _cross_references(settings)
    if problems:
        raise ConfigError(str(path), problems)
    base = path.resolve().parent
    paths = Paths(**{k: base / v for k, v in settings.paths.model_dump().items()})
    secrets = settings.credentials.file
    credentials = CredentialsFile(file=base / secrets if secrets else None)
    email = settings.platforms.email
    if email.ca_file is not None:
        email = email.model_copy(update={"ca_file": base / email.ca_file})
    platforms = settings.platforms.model_copy(update={"email": email})
    return settings.model_copy(
        update={"paths": paths, "credentials": credentials, "platforms": platforms}
    )
