"""config.toml -> one typed, validated Settings object.

The daemon refuses to start on a bad config rather than guess: every problem is reported at once,
each naming its key path (``units.haryana.accounts[1].locales``) and the fix. Unknown keys are
errors, because a misspelt key silently ignored is a setting silently lost. Secrets never live here:
an account names a credential, and the token comes from elsewhere.

This module holds the engine's own sections and the Settings that gathers them. The units and
their accounts are in organisation.py, each platform's options in platform_options.py, the value
types shared with post files in fields.py, and the checks that span sections in config_checks.py.
"""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field, PrivateAttr, ValidationError, field_validator

from publisher.config.checks import cross_references
from publisher.config.fields import EMAIL, LocaleCode, LocalTime, Platform, Strict, zoned
from publisher.config.organisation import Account, AmplifyRule, Organisation, Tags, Unit
from publisher.config.platforms import Platforms
from publisher.config.tomlfile import load_toml, problems_from_validation
from publisher.errors import ConfigError
from publisher.scripts import expected_script, script_name


def _said(value: str) -> str:
    if not value.strip():
        msg = "it is blank; say why, in words the operators and the audit log will keep"
        raise ValueError(msg)
    return value


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
    """The 7-day guarantee (publisher.oversight.freshness): when to warn, when to publish from
    the pool, and who hears about accounts at risk."""

    max_silence_days: float = Field(default=7.0, gt=0)
    warn_after_days: float = Field(default=5.0, gt=0)
    sweep_minutes: float = Field(default=60.0, gt=0, le=24 * 60)
    alert_to: list[Annotated[str, Field(pattern=EMAIL)]] = Field(default_factory=list)
    # empty: the directorate's nodal officer gets the alerts and the daily digest
    digest_hour: int = Field(default=9, ge=0, le=23)  # local time of the daily digest
    smtp_credential: str | None = None  # the SMTP login for warnings and alerts, if any


class Content(Strict):
    """How the engine treats languages: translation fallbacks, and the script check."""

    fallback: dict[LocaleCode, LocaleCode] = Field(default_factory=dict)
    script_check: Literal["warn", "strict"] = "warn"

    @field_validator("fallback")
    @classmethod
    def _same_script(cls, fallback: dict[str, str]) -> dict[str, str]:
        """A fallback in another script would publish, say, English under the Hindi name."""
        for language, other in fallback.items():
            ours, theirs = expected_script(language), expected_script(other)
            if ours != theirs:
                msg = (
                    f'{language} = "{other}": {other} is written in '
                    f"{script_name(theirs or '?')} script, {language} in "
                    f"{script_name(ours or '?')}, so its text is not {language}; remove it (a "
                    f"{language} message with no {language} translation is then not sent)"
                )
                raise ValueError(msg)
        return fallback

    def chain(self, locale: str) -> list[str]:
        """``mr`` -> ``["mr", "hi", "en"]`` when mr falls back to hi and hi to en."""
        out = [locale]
        while out[-1] in self.fallback and self.fallback[out[-1]] not in out:
            out.append(self.fallback[out[-1]])
        return out


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

    _folder: Path = PrivateAttr(default_factory=Path.cwd)

    @property
    def folder(self) -> Path:
        """The folder config.toml is in: relative paths written in it are taken from there."""
        return self._folder

    def accounts(self) -> list[tuple[str, Account]]:
        """Every account with the id of its unit, in config order."""
        return [(uid, a) for uid, unit in self.units.items() for a in unit.accounts]

    @property
    def zone(self) -> tzinfo:
        return ZoneInfo(self.organisation.timezone)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.paths.state / 'publisher.db'}"


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
    problems = cross_references(settings)
    if problems:
        raise ConfigError(str(path), problems)
    base = path.resolve().parent
    paths = Paths(**{k: base / v for k, v in settings.paths.model_dump().items()})
    secrets = settings.credentials.file
    credentials = CredentialsFile(file=base / secrets if secrets else None)
    blackouts = [
        b.model_copy(
            update={"start": zoned(b.start, settings.zone), "end": zoned(b.end, settings.zone)}
        )
        for b in settings.blackouts
    ]
    loaded = settings.model_copy(
        update={"paths": paths, "credentials": credentials, "blackouts": blackouts}
    )
    loaded._folder = base
    return loaded
