"""What the freshness sweep tells people, in words: the nodal officer's warning, the directorate's
alerts, and the directorate's daily digest of accounts at risk.

Plain text for people who are not programmers: which account, how long it has been silent, when
its deadline is, and what to do. Each ``Mail`` carries a key naming what it is about, so the
sweep sends it once per silence episode (publisher.oversight.freshness).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum

from publisher.adapters.email import Mail
from publisher.clock import local
from publisher.config.organisation import Account
from publisher.config.settings import Settings


class Reason(StrEnum):
    """Why the engine cannot keep an account fresh by itself: the directorate must act."""

    PAUSED = "paused"
    EMPTY_POOL = "empty-pool"
    FAILING = "failing"


WHAT_TO_DO = {
    Reason.PAUSED: "The account is paused, so nothing is published to it, evergreen posts "
    "included. Resume it when the pause is over, or accept the silence.",
    Reason.EMPTY_POOL: "The unit's evergreen pool has no item for this account. Add ready-made "
    "posts in its languages to schedules/evergreen/{unit}/ (see the README, 'The 7-day "
    "guarantee'), or ask the nodal officer to post.",
    Reason.FAILING: "The platform refused the account's latest attempt: {error}. Check the "
    "account's credentials with 'publisher accounts check' and its deliveries with "
    "'publisher review'.",
}


@dataclass(frozen=True)
class Standing:
    """One account as the sweep sees it: since when it has been silent, and its deadline."""

    unit: str
    account: Account
    since: datetime  # its last content, or when the engine started counting
    last_content: datetime | None
    warn_at: datetime
    deadline: datetime
    next_scheduled: datetime | None
    failing: str | None = None  # its platform's latest refusal, while nothing has gone out since

    def days_silent(self, now: datetime) -> float:
        return (now - self.since).total_seconds() / 86400

    @property
    def episode(self) -> str:
        """Names this silence: it ends when content goes out and ``since`` moves."""
        return f"{self.account.key}|{self.since:%Y-%m-%dT%H:%M:%SZ}"


def warning_key(standing: Standing) -> str:
    return f"warning|{standing.episode}"


def alert_key(standing: Standing, reason: Reason) -> str:
    return f"alert|{reason}|{standing.episode}"


def digest_key(day: str) -> str:
    return f"digest|{day}"


def recipients(settings: Settings) -> list[str]:
    """The directorate's cell: ``[freshness] alert_to``, else the directorate's nodal officer."""
    directorate = settings.units[settings.organisation.directorate]
    return list(settings.freshness.alert_to) or [directorate.nodal_officer.email]


def warning(settings: Settings, standing: Standing, now: datetime) -> Mail:
    zone = settings.zone
    unit = settings.units[standing.unit]
    account = standing.account
    last = local(standing.last_content, zone) if standing.last_content else "never"
    body = f"""\
Dear {unit.nodal_officer.name},

The {account.platform} account @{account.handle} of {unit.name} has published nothing for \
{standing.days_silent(now):.0f} days (last content: {last}), and nothing is scheduled for it.

Its deadline is {local(standing.deadline, zone)}. If nothing is scheduled by then, the engine \
will publish an item from the unit's evergreen pool to this account.

To post something of your own, drop a post file into the "{standing.unit}" folder of the queue \
before the deadline.
"""
    return Mail(
        key=warning_key(standing),
        to=[unit.nodal_officer.email],
        subject=f"Silent for {standing.days_silent(now):.0f} days: @{account.handle} "
        f"({account.platform}), deadline {local(standing.deadline, zone)}",
        body=body,
    )


def alert(
    settings: Settings, standing: Standing, reason: Reason, now: datetime, error: str = ""
) -> Mail:
    zone = settings.zone
    unit = settings.units[standing.unit]
    account = standing.account
    last = local(standing.last_content, zone) if standing.last_content else "never"
    titles = {
        Reason.PAUSED: "is paused",
        Reason.EMPTY_POOL: "has no evergreen item",
        Reason.FAILING: "is failing on its platform",
    }
    body = f"""\
The {account.platform} account @{account.handle} of {unit.name} ({standing.unit}) \
{titles[reason]}, and the engine cannot keep it from falling silent.

Silent for {standing.days_silent(now):.1f} days (last content: {last}); deadline \
{local(standing.deadline, zone)}.
Nodal officer: {unit.nodal_officer.name}, {unit.nodal_officer.designation}, \
{unit.nodal_officer.email}, {unit.nodal_officer.phone}.

What to do: {WHAT_TO_DO[reason].format(unit=standing.unit, error=error or "no detail")}
"""
    return Mail(
        key=alert_key(standing, reason),
        to=recipients(settings),
        subject=f"Freshness alert: @{account.handle} ({account.platform}) {titles[reason]}",
        body=body,
    )


def digest(
    settings: Settings, at_risk: Sequence[tuple[Standing, str]], now: datetime, day: str
) -> Mail:
    """One line per account at risk: unit, account, days silent, deadline, what is happening."""
    zone = settings.zone
    lines = [
        f"Accounts at risk of falling silent, {local(now, zone)}.",
        f"An account is at risk after {settings.freshness.warn_after_days:g} days without content "
        f"and nothing scheduled; its deadline is {settings.freshness.max_silence_days:g} days.",
        "",
    ]
    states: dict[str, tuple[Standing, list[str]]] = {}
    for standing, state in at_risk:  # an account failing and unscheduled is one line
        states.setdefault(standing.account.key, (standing, []))[1].append(state)
    for standing, said in states.values():
        lines.append(
            f"- {standing.unit}: {standing.account.key}, silent "
            f"{standing.days_silent(now):.1f} days, deadline {local(standing.deadline, zone)}: "
            f"{'; '.join(said)}"
        )
    return Mail(
        key=digest_key(day),
        to=recipients(settings),
        subject=f"Freshness digest {day}: {len(states)} account(s) at risk",
        body="\n".join(lines) + "\n",
    )


def local_day(when: datetime, zone: tzinfo) -> str:
    return when.astimezone(zone).strftime("%Y-%m-%d")
