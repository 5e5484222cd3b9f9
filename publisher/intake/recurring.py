"""Recurring posts: each firing of a rule becomes a post through plan -> ledger, once.

APScheduler's cron jobs only bring a firing forward to its minute; the ledger decides what exists.
At start and on every tick each rule's most recent firing at or before now is looked up: if it has
no post and is not older than ``dispatch.late_after_hours`` it is created now (a firing missed
while the engine was down happens once, late); past that it is reported, never created. The post
key names the rule and the firing time, so the ledger's unique key lets one firing make one post
even when two processes race for it.
"""

from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from publisher.clock import Clock, local
from publisher.config.settings import Settings
from publisher.errors import PublisherError
from publisher.intake.officer_files import write_atomic
from publisher.intake.schedulefile import FiringRequest, Rule, load_rules
from publisher.intake.unitfolder import ARCHIVE
from publisher.planning.plan import new_post, plan
from publisher.planning.render import Renderer
from publisher.store.posts import find_post, record_post

logger = logging.getLogger(__name__)

NEVER = datetime.max.replace(tzinfo=UTC)  # the next firing of a rule that fires no more


class State(StrEnum):
    CREATED = "created"  # by this call
    POSTED = "posted"  # it had its post already (this process, another one, or an earlier run)
    MISSED = "missed"  # past the late cut-off with no post: reported, not created
    FAILED = "failed"  # planning or recording failed: logged for the administrator


@dataclass(frozen=True)
class Firing:
    rule: str
    when: datetime  # UTC
    state: State
    post_id: int | None = None


class Recurring:
    """The rules of ``schedules/*.toml`` and their firings.

    In the daemon a rule's cron job and the tick run in threads of their own: one lock lets one
    of them settle a firing and the other find it settled. Between processes, the ledger's unique
    post key decides: both may plan a firing, one insert wins, the other finds the post.
    """

    def __init__(
        self, settings: Settings, renderer: Renderer, ledger: sessionmaker[Session], clock: Clock
    ) -> None:
        self.settings = settings
        self.renderer = renderer
        self.ledger = ledger
        self.clock = clock
        self.rules = {rule.name: rule for rule in load_rules(settings, renderer, clock())}
        self._lock = threading.Lock()  # guards the two below, and settling a firing
        self._upcoming: dict[str, datetime] = {}  # rule -> its next firing, once one is settled
        self._created: list[int] = []  # posts created since the last catch-up returned them

    @property
    def cutoff(self) -> timedelta:
        return timedelta(hours=self.settings.dispatch.late_after_hours)

    def catch_up(self) -> list[int]:
        """Settle every rule's most recent firing; returns the posts created since the last call
        (by this call or by ``fire``), whose receipts and status files need writing."""
        for name in self.rules:
            self.fire(name)
        with self._lock:
            created, self._created = self._created, []
        return created

    def fire(self, name: str) -> Firing | None:
        """Settle the most recent firing of rule ``name`` at or before now: create its post if it
        has none and is within the late cut-off. None if the rule has not fired yet, or if this
        process has settled its latest firing already."""
        rule = self.rules[name]
        with self._lock:
            now = self.clock()
            if now < self._upcoming.get(name, now):
                return None  # settled already, and not due again: no search, no query each tick
            when = rule.latest(now)
            firing = self._settle(rule, when, now) if when is not None else None
            self._upcoming[name] = next(rule.firings(now), NEVER)
            if firing is not None and firing.state is State.CREATED and firing.post_id is not None:
                self._created.append(firing.post_id)
            return firing

    def _settle(self, rule: Rule, when: datetime, now: datetime) -> Firing:
        request = rule.firing(when)
        with self.ledger() as session:
            existing = find_post(session, request.key)
        if existing is not None:
            return Firing(rule.name, when, State.POSTED, existing.id)
        zone = self.settings.zone
        if now - when > self.cutoff:
            logger.warning(
                "recurring post %s: its firing at %s has no post and is more than %g hours past "
                "(dispatch.late_after_hours), so it is not created; the engine was down then, or "
                "the rule is new. Next firing: %s",
                rule.name,
                local(when, zone),
                self.settings.dispatch.late_after_hours,
                _next(rule, now, zone),
            )
            return Firing(rule.name, when, State.MISSED)
        try:
            post_id = self._record(rule, request, now)
        except PublisherError as exc:
            logger.error("recurring post %s at %s was not created: %s", rule.name, when, exc)
            return Firing(rule.name, when, State.FAILED)
        if post_id is None:
            return Firing(rule.name, when, State.POSTED)
        logger.info(
            "recurring post %s for its firing at %s: created post %d%s",
            rule.name,
            local(when, zone),
            post_id,
            " (late: the engine was down then)" if now - when > timedelta(minutes=1) else "",
        )
        return Firing(rule.name, when, State.CREATED, post_id)

    def _record(self, rule: Rule, request: FiringRequest, now: datetime) -> int | None:
        """Plan and record the firing's post, exactly as a dropped file's; None if another process
        recorded it first (the unique post key decides, and losing is not an error)."""
        planned = plan(request, self.settings, self.renderer)
        local_when = request.not_before.astimezone(self.settings.zone)
        folder = f"{rule.unit}/{ARCHIVE}/{local_when:%Y-%m-%d_%H%M}_{rule.name}"
        target = self.settings.paths.queue / folder
        target.mkdir(parents=True, exist_ok=True)
        write_atomic(target / rule.path.name, rule.source)  # the rule as it was when it fired
        media = []
        for item in rule.body.media:  # copies: the rule's photos serve every firing
            name = Path(item.file).name
            shutil.copyfile(rule.path.parent / item.file, target / f".{name}.tmp")
            (target / f".{name}.tmp").replace(target / name)
            media.append(f"{folder}/{name}")
        try:
            with self.ledger.begin() as session:
                return record_post(session, new_post(request, planned, media, folder, now)).id
        except IntegrityError:
            logger.info("recurring post %s at %s: created by another process", rule.name, folder)
            return None

    def status_lines(self, session: Session, now: datetime) -> list[str]:
        """Each rule's latest firing and what became of it, and its next firing, for
        ``publisher status``."""
        zone = self.settings.zone
        lines = []
        for rule in self.rules.values():
            when = rule.latest(now)
            if when is None:
                state = "has not fired yet"
            else:
                post = find_post(session, rule.firing(when).key)
                if post is not None:
                    state = f"post {post.id}"
                elif now - when > self.cutoff:
                    state = "MISSED: no post, past dispatch.late_after_hours"
                else:
                    state = "no post yet: created at the next pass"
                state = f"last {local(when, zone)}: {state}"
            lines.append(
                f"  {rule.name} ({rule.unit}, cron '{rule.cron}'): {state}; "
                f"next {_next(rule, now, zone)}"
            )
        return lines


def _next(rule: Rule, now: datetime, zone: tzinfo) -> str:
    upcoming = next(rule.firings(now), None)
    return local(upcoming, zone) if upcoming else "never"
