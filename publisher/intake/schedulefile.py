"""Schedule file (``schedules/*.toml``) -> Rule: a recurring post, checked as strictly as config.

A schedule file is a post file with two more keys: ``unit``, the unit whose post it is (as if
dropped in that unit's folder), and ``cron``, when it fires, in the organisation's time zone. Its
post keys are the post file's own (the same model, the same checks), except ``publish_at``, which
the rule replaces; its photos lie beside it in the schedules folder. Rules are read at start-up
and on SIGHUP; a bad one stops start-up, like a bad config.toml, naming file, line, key and fix.
Each rule is also planned once when it is read, so a missing template variable or a text too long
for X is found then, not at its first firing.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from apscheduler.triggers.cron import CronTrigger
from pydantic import AfterValidator, ValidationError

from publisher.config.settings import Settings
from publisher.config.tomlfile import line_of, parse_toml, problems_from_validation
from publisher.errors import PostFileError, Problem, ScheduleError
from publisher.intake.postfile import decode, misplaced, usable_name
from publisher.planning.plan import Plan, plan
from publisher.planning.render import Renderer
from publisher.planning.request import PostFile, PostRequest
from publisher.vocabulary import Priority

logger = logging.getLogger(__name__)

CRON_EXAMPLE = "0 10 * * mon"
HORIZON = timedelta(days=400)  # how far back a rule's latest firing is looked for: a yearly rule
_DIGIT = re.compile(r"\d")

# Post-file keys a schedule file may not have, and what to do instead.
REFUSED = {
    "publish_at": (
        "a recurring post has no publish_at: each firing of its cron rule is its time",
        f'Remove publish_at and say when with cron = "{CRON_EXAMPLE}" (minute hour day month '
        "weekday, in the organisation's time zone)",
    ),
}


def _crontab(value: str) -> str:
    """A 5-field crontab rule that APScheduler reads as a person reading cron would."""
    fields = value.split()
    if len(fields) == 5 and _DIGIT.search(fields[4]):
        msg = (
            f"the day of the week '{fields[4]}' is a number, and cron programs do not agree "
            "which day a number means (0 is Sunday in cron, Monday in APScheduler); write day "
            f'names instead: mon, tue, wed, thu, fri, sat, sun, e.g. "{CRON_EXAMPLE}" or '
            '"0 10 * * mon-fri"'
        )
        raise ValueError(msg)
    try:
        CronTrigger.from_crontab(value, timezone=UTC)
    except ValueError as exc:
        why = str(exc).replace("; ", ", ")  # "; " ends what is wrong, in a ValueError's message
        msg = (
            f"'{value}' is not a cron rule this engine can read ({why}); write five fields, "
            f'minute hour day-of-month month day-of-week, e.g. "{CRON_EXAMPLE}" for every Monday '
            "at 10:00"
        )
        raise ValueError(msg) from None
    return value


class ScheduleFile(PostFile):
    """The keys a schedule file may have: a post file's, and the rule's own."""

    unit: str
    cron: Annotated[str, AfterValidator(_crontab)]


@dataclass(frozen=True)
class FiringRequest(PostRequest):
    """A rule's post for one firing. Its key names the rule and the firing time, so the ledger's
    unique post key lets each firing make one post, whichever process gets there first."""

    rule: str

    @property
    def key(self) -> str:
        # '@' cannot appear in a post file's id, so no dropped file can take this key.
        return f"{self.unit}/{self.rule}@{self.not_before.astimezone(UTC):%Y-%m-%dT%H:%MZ}"


@dataclass(frozen=True)
class Rule:
    """One recurring post: its name (the file's ``id``, else the file name), when it fires, and
    the post it makes."""

    name: str
    path: Path
    unit: str
    cron: str
    trigger: CronTrigger
    source: str
    sha256: str
    body: PostFile

    def firing(self, when: datetime) -> FiringRequest:
        """The post this rule makes for its firing at ``when``."""
        return FiringRequest(
            unit=self.unit,
            source_name=self.path.name,
            source=self.source,
            sha256=self.sha256,
            body=self.body,
            not_before=when.astimezone(UTC),
            priority=Priority.URGENT if self.body.priority == "urgent" else Priority.NORMAL,
            rule=self.name,
        )

    def firings(self, after: datetime) -> Iterator[datetime]:
        """The firings after ``after`` (exclusive), in UTC, for as long as the rule fires."""
        previous = None
        start = after + timedelta(microseconds=1)
        while (when := self.trigger.get_next_fire_time(previous, start)) is not None:
            yield when.astimezone(UTC)
            previous, start = when, when + timedelta(microseconds=1)

    def latest(self, now: datetime) -> datetime | None:
        """The most recent firing at or before ``now`` (within HORIZON), in UTC.

        APScheduler only looks forward, so this searches for the last second whose next firing is
        not after ``now``: about 25 look-ups, however often the rule fires.
        """

        def next_from(second: int) -> datetime | None:
            found = self.trigger.get_next_fire_time(None, datetime.fromtimestamp(second, UTC))
            return found if found is None or found <= now else None

        low, high = int((now - HORIZON).timestamp()), int(now.timestamp()) + 1
        if next_from(low) is None:
            return None
        while high - low > 1:  # next_from(low) is a firing <= now; next_from(high) is not
            middle = (low + high) // 2
            if next_from(middle) is None:
                high = middle
            else:
                low = middle
        found = next_from(low)
        return found.astimezone(UTC) if found else None


def parse_schedule(path: Path, settings: Settings, renderer: Renderer, now: datetime) -> Rule:
    """Read and check one schedule file, planning its next firing to find what plan would refuse.

    Raises:
        ScheduleError: listing every problem, each with its line, key and fix.
    """
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScheduleError(
            name, [Problem("file", f"it cannot be read ({exc.strerror})", "Check the path")]
        ) from None
    text = decode(raw, name, ScheduleError)
    data = parse_toml(text, name, ScheduleError)
    problems = misplaced(data, text, ScheduleFile.model_fields.keys())
    problems += _refused(data, text) + _names(data, path, settings, text)
    body: ScheduleFile | None = None
    try:
        body = ScheduleFile.model_validate(data)
    except ValidationError as exc:
        problems += problems_from_validation(exc, ScheduleFile, text)
    if body is not None:
        problems += _media(body, path.parent, text)
    if problems or body is None:
        raise ScheduleError(name, sorted(problems, key=lambda p: p.line or len(text)))
    post = PostFile.model_validate(
        {key: getattr(body, key) for key in body.model_fields_set if key in PostFile.model_fields}
    )
    rule = Rule(
        name=body.id or path.stem,
        path=path,
        unit=body.unit,
        cron=body.cron,
        trigger=CronTrigger.from_crontab(body.cron, timezone=settings.zone),
        source=text,
        sha256=hashlib.sha256(raw).hexdigest(),
        body=post,
    )
    first = next(rule.firings(now), None)
    if first is None:
        raise ScheduleError(
            name,
            [
                Problem(
                    "cron",
                    f"'{body.cron}' never fires (no such date)",
                    "Check the day and month, e.g. the 31st of a 30-day month",
                    line_of(text, ("cron",)),
                )
            ],
        )
    preview(rule, first, settings, renderer)
    return rule


def preview(rule: Rule, when: datetime, settings: Settings, renderer: Renderer) -> Plan:
    """What the rule's firing at ``when`` makes.

    Raises:
        ScheduleError: what plan refuses (a template variable missing, a text too long for X…).
    """
    try:
        return plan(rule.firing(when), settings, renderer)
    except PostFileError as exc:
        raise ScheduleError(str(rule.path), exc.problems) from None


def _refused(data: dict[str, Any], text: str) -> list[Problem]:
    """Post-file keys that make no sense in a rule: reported, and taken out so the rest is
    checked too."""
    return [
        Problem(key, what, fix, line_of(text, (key,)))
        for key, (what, fix) in REFUSED.items()
        if data.pop(key, None) is not None
    ]


def _names(data: dict[str, Any], path: Path, settings: Settings, text: str) -> list[Problem]:
    """The unit must be one of config.toml's, and the rule must have a usable name. Read from the
    raw data, so these are reported with whatever else is wrong (the model's own checks)."""
    problems = []
    unit = data.get("unit")
    if isinstance(unit, str) and unit not in settings.units:
        problems.append(
            Problem(
                "unit",
                f"'{unit}' is not a unit",
                f"Name the unit whose post this is, one of: {', '.join(settings.units)}",
                line_of(text, ("unit",)),
            )
        )
    if "id" not in data and not usable_name(path.stem):
        problems.append(
            Problem(
                "id",
                f"the file name '{path.stem}' cannot name the rule (each firing's post is "
                "named after it)",
                "Rename the file with letters, digits, '-', '_' or '.', no spaces, e.g. "
                '"weekly-scheme.toml", or add id = "weekly-scheme"',
            )
        )
    return problems


def _media(body: ScheduleFile, folder: Path, text: str) -> list[Problem]:
    """A rule's photos must be files in the schedules folder itself: each firing copies them."""
    return [
        Problem(
            f"media[{i}].file",
            f"'{item.file}' is not a file in the schedules folder {folder}",
            "Put the photo itself (not a link) beside the schedule file, and give just its name",
            line_of(text, ("media", i, "file")),
        )
        for i, item in enumerate(body.media)
        if not (folder / item.file).is_file()
        or (folder / item.file).is_symlink()
        or (folder / item.file).resolve().parent != folder.resolve()
    ]


def load_rules(settings: Settings, renderer: Renderer, now: datetime) -> list[Rule]:
    """Every ``*.toml`` directly in the schedules folder (sub-folders are not rules), by name.

    Raises:
        ScheduleError: for the first bad file, or for two files that give the same rule name.
    """
    folder = settings.paths.schedules
    if not folder.is_dir():
        logger.info("no recurring posts: %s is not a folder", folder)
        return []
    rules = [
        parse_schedule(path, settings, renderer, now)
        for path in sorted(folder.glob("*.toml"))
        if path.is_file() and not path.name.startswith(".")
    ]
    seen: dict[str, Path] = {}
    for rule in rules:
        if rule.name in seen:
            raise ScheduleError(
                str(rule.path),
                [
                    Problem(
                        "id",
                        f"the rule name '{rule.name}' is also the name of {seen[rule.name].name}",
                        "Give each rule its own id, or its own file name",
                    )
                ],
            )
        seen[rule.name] = rule.path
    logger.info("%d recurring post rule(s) from %s", len(rules), folder)
    return rules
