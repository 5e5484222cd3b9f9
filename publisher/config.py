"""config.toml -> one typed, validated Settings object.

The daemon refuses to start on a bad config rather than guess: every problem is reported at once,
each naming its key path (``units.haryana.accounts[1].locales``) and the fix. Unknown keys are
errors, because a misspelt key silently ignored is a setting silently lost. Secrets never live here:
an account names a credential, and the token comes from elsewhere.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from publisher.errors import ConfigError, Problem
from publisher.plugins import platform_names
from publisher.tomlfile import load_toml, problems_from_validation

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


def _installed_platform(value: str) -> str:
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


def _said(value: str) -> str:
    if not value.strip():
        msg = "it is blank; say why, in words the operators and the audit log will keep"
        raise ValueError(msg)
    return value


LocaleCode = Annotated[str, AfterValidator(_known_locale)]
Handle = Annotated[str, AfterValidator(_handle)]
Platform = Annotated[str, AfterValidator(_installed_platform)]
"""x, facebook, instagram, email, or a platform a third-party package registers (README)."""
LocalTime = Annotated[datetime, BeforeValidator(_local_time)]


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


class Paths(Strict):
    """Relative paths are taken from the folder config.toml is in."""

    queue: Path = Field(default=Path("queue"), strict=False)
    state: Path = Field(default=Path("state"), strict=False)
    templates: Path = Field(default=Path("templates"), strict=False)
    schedules: Path = Field(default=Path("schedules"), strict=False)  # recurring posts: *.toml
    evergreen: Path = Field(default=Path("schedules/evergreen"), strict=False)


class Database(Strict):
    url: str | None = None


class Intake(Strict):
    settle_seconds: float = Field(default=2.0, ge=0, le=3600)
    poll_seconds: float = Field(default=5.0, gt=0, le=3600)
    media_wait_minutes: float = Field(default=30.0, ge=0, le=7 * 24 * 60)
    max_past_hours: float = Field(default=24.0, ge=0, le=365 * 24)


class Dispatch(Strict):
    lease_seconds: float = Field(default=60.0, gt=0, le=86400)
    max_attempts: int = Field(default=8, ge=1, le=1000)
    retry_base_seconds: float = Field(default=30.0, gt=0, le=86400)
    retry_max_seconds: float = Field(default=3600.0, gt=0, le=7 * 86400)
    # A delivery (or a recurring post's firing) whose time passed more than this before the engine
    # could take it, because it was down, is not sent but marked late and reported: a day-old
    # "today at the GPO" misleads. 24 hours matches intake.max_past_hours, the oldest publish_at a
    # post file may ask for, so "how late is too late" means the same everywhere.
    late_after_hours: float = Field(default=24.0, gt=0, le=365 * 24)
    stop_seconds: float = Field(default=30.0, gt=0, le=3600)
    """On SIGTERM, how long calls already made may take to finish before the daemon exits."""


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


ALL_UNITS = "all"
AMPLIFY_KINDS: dict[str, str] = {"x": "retweet", "facebook": "share"}
"""How each platform amplifies another account's post; the others cannot."""


class AmplifyRule(Strict):
    """``[[amplify]]``: the target units' accounts retweet or share what the source units' own
    accounts publish, on the same platform. ``"all"`` names every unit; a unit never amplifies
    itself. ``counts_for_freshness``: whether an amplification keeps its account fresh."""

    sources: list[str] = Field(min_length=1)
    targets: list[str] = Field(min_length=1)
    platforms: list[Platform] = Field(min_length=1)
    counts_for_freshness: bool = False


class Quota(Strict):
    """At most ``posts`` posts in any ``minutes`` (a sliding window), counted per account or
    per app (all the accounts that post through one developer app)."""

    per: Literal["account", "app"]
    posts: int = Field(ge=1, le=1_000_000)
    minutes: float = Field(gt=0, le=7 * 24 * 60)


class PlatformOptions(Strict):
    """Settings every adapter takes. ``api_base_url`` sends the client library's requests to
    another endpoint than the platform's own (an API gateway; the tests' fake servers).
    ``quotas`` space the platform's deliveries so that a burst never draws a rate limit."""

    api_base_url: str | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    quotas: list[Quota] = Field(default_factory=list)


# Defaults below the platforms' published limits; sources in config.toml and the README.
X_QUOTAS = [
    Quota(per="account", posts=100, minutes=1440),
    Quota(per="app", posts=1667, minutes=1440),
]
FACEBOOK_QUOTAS = [Quota(per="account", posts=100, minutes=1440)]
INSTAGRAM_QUOTAS = [Quota(per="account", posts=50, minutes=1440)]


class XOptions(PlatformOptions):
    quotas: list[Quota] = Field(default_factory=lambda: list(X_QUOTAS))


class GraphOptions(PlatformOptions):
    graph_version: str = Field(default="v21.0", pattern=r"^v\d+\.\d+$")


class FacebookOptions(GraphOptions):
    quotas: list[Quota] = Field(default_factory=lambda: list(FACEBOOK_QUOTAS))


class InstagramOptions(GraphOptions):
    quotas: list[Quota] = Field(default_factory=lambda: list(INSTAGRAM_QUOTAS))
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
    """Options per platform; a platform added by another package takes the common options."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, PlatformOptions] = Field(init=False)

    x: XOptions = XOptions()
    facebook: FacebookOptions = FacebookOptions()
    instagram: InstagramOptions = InstagramOptions()
    email: EmailOptions = EmailOptions()

    @model_validator(mode="after")
    def _installed(self) -> Platforms:
        for name in self.__pydantic_extra__:
            _installed_platform(name)
        return self

    def options(self, platform: str) -> PlatformOptions:
        """The options of ``platform``; the common defaults for one not configured here."""
        found = getattr(self, platform, None)
        return found if isinstance(found, PlatformOptions) else PlatformOptions()


class Blackout(Strict):
    """A window in which nothing matching goes out (an election's silent period, a day of
    mourning): deliveries due in it wait until it ends. Times are the organisation's local time
    unless written with an offset; no ``units`` or ``platforms`` means all of them."""

    start: LocalTime
    end: LocalTime
    reason: Annotated[str, AfterValidator(_said)]
    units: list[str] = Field(default_factory=list)
    platforms: list[Platform] = Field(default_factory=list)


class MetricsPolicy(Strict):
    """How long after publication a post's likes, shares and comments are still collected, and
    how often: most engagement comes in the first days, and every collection spends API calls."""

    window_days: float = Field(default=14.0, gt=0, le=365)
    interval_minutes: float = Field(default=60.0, ge=1, le=7 * 24 * 60)


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class WeeklyReport(Strict):
    """The compliance report e-mailed to the directorate's cell every week, at ``day`` and
    ``time`` (the organisation's local time), covering the seven days before that day. It goes
    through ``[platforms.email]``; ``credential`` names the SMTP login, if the server wants one."""

    day: Weekday
    time: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    to: list[Annotated[str, Field(pattern=EMAIL)]] = Field(min_length=1)
    credential: str | None = None


class Reports(Strict):
    weekly: WeeklyReport | None = None


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
    amplify: list[AmplifyRule] = Field(default_factory=list)
    blackouts: list[Blackout] = Field(default_factory=list)
    metrics: MetricsPolicy = MetricsPolicy()
    reports: Reports = Reports()

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
    problems.extend(_amplify_problems(settings))
    problems.extend(_quota_problems(settings))
    problems.extend(_blackout_problems(settings))
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


def _amplify_problems(settings: Settings) -> list[Problem]:
    units = [*settings.units, ALL_UNITS]
    problems = [
        Problem(
            f"amplify[{n}].{key}",
            f"'{u}' is not a unit",
            f"Name units from: {', '.join(units)}",
        )
        for n, rule in enumerate(settings.amplify)
        for key, names in (("sources", rule.sources), ("targets", rule.targets))
        for u in names
        if u not in units
    ]
    problems.extend(
        Problem(
            f"amplify[{n}].platforms",
            f"{platform} posts cannot be retweeted or shared by another account",
            f"Remove '{platform}': amplification works on "
            + ", ".join(f"{p} ({kind})" for p, kind in AMPLIFY_KINDS.items()),
        )
        for n, rule in enumerate(settings.amplify)
        for platform in rule.platforms
        if platform not in AMPLIFY_KINDS
    )
    return problems


def _quota_problems(settings: Settings) -> list[Problem]:
    """Two quotas of one scope over one window: which one was meant cannot be guessed."""
    problems: list[Problem] = []
    for name in Platforms.model_fields:
        options: PlatformOptions = getattr(settings.platforms, name)
        seen = Counter((q.per, q.minutes) for q in options.quotas)
        problems.extend(
            Problem(
                f"platforms.{name}.quotas",
                f"two quotas per {per} over {minutes:g} minutes",
                "Keep one of them: the smaller number of posts is the safe one",
            )
            for (per, minutes), count in seen.items()
            if count > 1
        )
    return problems


def _blackout_problems(settings: Settings) -> list[Problem]:
    units, problems = sorted(settings.units), []
    for n, window in enumerate(settings.blackouts):
        start, end = (_zoned(t, settings.zone) for t in (window.start, window.end))
        if end <= start:
            problems.append(
                Problem(
                    f"blackouts[{n}].end",
                    f"the window ends ({window.end}) before it starts ({window.start})",
                    "Give an end later than the start",
                )
            )
        problems.extend(
            Problem(
                f"blackouts[{n}].units", f"'{u}' is not a unit", f"Name one of: {', '.join(units)}"
            )
            for u in window.units
            if u not in settings.units
        )
    return problems


def _zoned(when: datetime, zone: tzinfo) -> datetime:
    """A local time in ``zone``; a time written with its own offset keeps it."""
    return when if when.tzinfo else when.replace(tzinfo=zone)


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
    blackouts = [
        b.model_copy(
            update={"start": _zoned(b.start, settings.zone), "end": _zoned(b.end, settings.zone)}
        )
        for b in settings.blackouts
    ]
    return settings.model_copy(
        update={
            "paths": paths,
            "credentials": credentials,
            "platforms": platforms,
            "blackouts": blackouts,
        }
    )
