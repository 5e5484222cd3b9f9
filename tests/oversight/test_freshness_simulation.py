"""A year of days, simulated: the real sweep and the real dispatcher on a real SQLite ledger, with
an injected clock, 40 accounts, officers posting at random gaps, platform outages lasting days, and
pauses. No account that is active, unpaused and healthy at its deadline ever goes more than 7 days
without content, and every account that does was the subject of an alert saying why.

Seeded: the same year every run. Time moves an hour a step; each step the officers post what they
post, the dispatcher sends what is due, and the sweep (``sweep_minutes`` = 60) runs where it is
needed: after anything happened, and when one of its own thresholds falls due.
"""

from __future__ import annotations

import itertools
import random
import tempfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from publisher.adapters.base import Outgoing
from publisher.adapters.stub import StubAdapter
from publisher.config.credentials import Credentials
from publisher.config.organisation import Account
from publisher.config.platforms import PlatformOptions
from publisher.config.settings import Settings, load_settings
from publisher.dispatch.dispatcher import Dispatcher
from publisher.errors import TransientError
from publisher.intake.evergreen import load_pools
from publisher.intake.postfile import parse_post
from publisher.oversight.freshness import RETRY_FAILED_EVERGREEN, Freshness, mailer
from publisher.planning.plan import new_post, plan
from publisher.planning.render import Renderer
from publisher.store.db import open_ledger
from publisher.store.models import AccountActivity, Delivery
from publisher.store.posts import record_post
from publisher.vocabulary import DeliveryStatus, Receipt
from tests.fakes.smtp import FakeSMTP
from tests.support.files import REPO

SEED = 20260101
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 365
UNITS = 8  # the directorate and seven circles, five accounts each
EMPTY_POOL_UNIT = "circle-7"
LANGUAGES = ["en", "hi", "ta", "bn"]
TEXTS = {
    "en": "Visit your nearest post office for savings schemes, Speed Post and more.",
    "hi": "बचत योजनाओं, स्पीड पोस्ट और अन्य सेवाओं के लिए अपने नज़दीकी डाकघर आएँ।",
    "ta": "சேமிப்புத் திட்டங்கள், ஸ்பீட் போஸ்ட் மற்றும் பலவற்றுக்கு உங்கள் அருகிலுள்ள அஞ்சலகத்தை அணுகுங்கள்.",
    "bn": "সঞ্চয় প্রকল্প, স্পিড পোস্ট ও আরও অনেক কিছুর জন্য আপনার নিকটতম ডাকঘরে আসুন।",
}
WINDOW = timedelta(hours=2)  # the deadline's last two sweeps: where an exception must fall


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


Window = tuple[datetime, datetime]


def ceil_hour(when: datetime) -> datetime:
    hour = when.replace(minute=0, second=0, microsecond=0)
    return hour if hour == when else hour + timedelta(hours=1)


def overlaps(windows: Sequence[Window], start: datetime, end: datetime) -> bool:
    return any(a <= end and start <= b for a, b in windows)


@dataclass
class World:
    """What happens to each account during the year, drawn once from the seed."""

    rng: random.Random
    outages: dict[str, list[Window]] = field(default_factory=lambda: defaultdict(list))
    pauses: dict[str, list[Window]] = field(default_factory=lambda: defaultdict(list))
    next_post: dict[str, datetime] = field(default_factory=dict)

    def draw(self, accounts: Sequence[str]) -> None:
        for key in accounts:
            for _ in range(self.rng.randint(0, 3)):
                self.outages[key].append(self._window(0.5, 5))
            for _ in range(self.rng.randint(0, 2)):
                self.pauses[key].append(self._window(2, 20))
            self.next_post[key] = START + self._gap()

    def _window(self, shortest: float, longest: float) -> Window:
        start = START + timedelta(hours=self.rng.randrange(DAYS * 24))
        return start, start + timedelta(days=self.rng.uniform(shortest, longest))

    def _gap(self) -> timedelta:
        """Most officers post every few days; one gap in six is a long silence."""
        days = self.rng.uniform(8, 25) if self.rng.random() < 1 / 6 else self.rng.expovariate(1 / 3)
        return timedelta(hours=max(1, round(days * 24)))

    def boundaries(self) -> Iterator[datetime]:
        for windows in [*self.outages.values(), *self.pauses.values()]:
            for start, end in windows:
                yield start
                yield end

    def down(self, account: str, when: datetime) -> bool:
        return overlaps(self.outages[account], when, when)

    def paused(self, account: str, when: datetime) -> bool:
        return overlaps(self.pauses[account], when, when)

    def posts_due(self, when: datetime) -> Iterator[str]:
        for key, due in self.next_post.items():
            if due <= when:
                self.next_post[key] = when + self._gap()
                if not self.paused(key, when):  # an officer does not post to a paused account
                    yield key


class Platform(StubAdapter):
    """The package's stub platform, down while the world says so."""

    def __init__(self, world: World, account: Account, clock: Clock) -> None:
        super().__init__(account, {}, PlatformOptions(), clock)
        self.world = world
        self.refused_at: datetime | None = None

    def publish(self, delivery: Outgoing) -> Receipt:
        down = self.world.down(self.account.key, self.clock())
        self.refuse = TransientError("503 Service Unavailable: over capacity") if down else None
        if down:
            self.refused_at = self.clock()
        return super().publish(delivery)


def write_config(root: Path, smtp_port: int) -> Settings:
    units = []
    for u in range(UNITS):
        uid = "hq" if u == 0 else f"circle-{u}"
        language = LANGUAGES[u % len(LANGUAGES)]
        accounts = "".join(
            f'[[units.{uid}.accounts]]\nplatform = "{platform}"\nhandle = "U{u}{platform}{n}"\n'
            f'locales = ["{language}"]\n'
            for platform, n in [("x", 0), ("x", 1), ("x", 2), ("facebook", 0), ("facebook", 1)]
        )
        units.append(
            f'[units.{uid}]\nname = "Unit {u}"\n[units.{uid}.nodal_officer]\nname = "Officer {u}"\n'
            f'designation = "Nodal officer"\nemail = "officer{u}@example.gov.in"\n'
            f'phone = "+91-11-0000-000{u}"\n{accounts}'
        )
        pool = root / "evergreen" / uid
        pool.mkdir(parents=True)
        if uid != EMPTY_POOL_UNIT:
            for n in range(3):
                text = f"{TEXTS[language]} ({n + 1})"
                (pool / f"item-{n}.toml").write_text(f'[text]\n{language} = "{text}"\n', "utf-8")
    config = f"""\
[organisation]
name = "Simulated Posts"
directorate = "hq"
[paths]
queue = "queue"
state = "state"
templates = "{REPO / "templates"}"
evergreen = "evergreen"
[freshness]
alert_to = ["cell@example.gov.in"]
[platforms.email]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
sender = "publisher@example.gov.in"
{"".join(units)}"""
    path = root / "config.toml"
    path.write_text(config, encoding="utf-8")
    return load_settings(path)


@dataclass
class Year:
    settings: Settings
    world: World
    content: dict[str, list[datetime]]  # sent deliveries' times, by account
    activity: dict[str, datetime | None]
    mails: list[tuple[datetime, str, list[str], str]]  # date, subject, to, message id


@pytest.fixture(scope="module")
def year() -> Iterator[Year]:
    # A real SQLite file, in memory-backed /dev/shm where there is one: a year is ~10,000
    # commits, and on a disk each waits for its fsync (synchronous=FULL).
    shm = Path("/dev/shm")  # noqa: S108 - a private temporary folder is made inside
    with (
        tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as tmp,
        FakeSMTP() as smtp,
    ):
        root = Path(tmp)
        settings = write_config(root, smtp.port)
        clock = Clock()
        world = World(random.Random(SEED))
        keys = [a.key for _, a in settings.accounts()]
        world.draw(keys)
        ledger = open_ledger(settings.database_url)
        renderer = Renderer.from_settings(settings)
        freshness = Freshness(
            settings,
            renderer,
            ledger,
            clock,
            load_pools(settings, renderer, clock()),
            mailer(settings, Credentials(None), clock),
            dry_run=False,
            paused=lambda key: world.paused(key, clock()),
        )
        adapters = {a.key: Platform(world, a, clock) for _, a in settings.accounts()}
        dispatcher = Dispatcher(
            ledger,
            adapters,
            clock,
            settings.dispatch,
            settings.paths.queue,
            rand=random.Random(SEED).random,
        )
        accounts = {a.key: (unit, a) for unit, a in settings.accounts()}
        interval = timedelta(minutes=settings.freshness.sweep_minutes)
        next_due = START
        timers: dict[str, datetime] = {}  # the sweep's own next threshold, per account
        wake = {ceil_hour(t) for t in world.boundaries()}  # pauses and outages begin or end
        for hour in range(DAYS * 24):
            clock.now = START + timedelta(hours=hour)
            needed = clock.now in wake or clock.now.astimezone(settings.zone).hour == 9
            for key in world.posts_due(clock.now):
                next_due, needed = clock.now, True
                unit, account = accounts[key]
                source = (
                    f'id = "p{hour}-{account.handle}"\naccounts = ["{account.handle}"]\n'
                    f'[text]\n{account.locales[0]} = "{TEXTS[account.locales[0]]}"\n'
                )
                request = parse_post(
                    source.encode(), unit, "post.toml", settings.zone, clock(), timedelta(0)
                )
                with ledger.begin() as session:
                    planned = plan(request, settings, renderer)
                    record_post(session, new_post(request, planned, [], "", clock()))
            if next_due <= clock.now:  # the dispatcher's ticks between are passes with nothing due
                needed = bool(dispatcher.run_due()) or needed
                for adapter in adapters.values():  # the sweep's timer after a failed evergreen
                    if adapter.refused_at == clock.now:
                        wake.add(ceil_hour(clock.now + RETRY_FAILED_EVERGREEN))
            # Hourly sweeps where needed: where something happened, or a threshold of the
            # sweep's own (a warning, a deadline's window, the digest, a retry) falls due. In
            # the other hours a sweep finds what the last one found.
            if not (needed or any(t <= clock.now for t in timers.values())):
                continue
            swept = freshness.sweep()
            timers = {s.account.key: min(
                (t for t in (s.warn_at, s.deadline - 2 * interval, s.deadline) if t > clock.now),
                default=clock.now + timedelta(days=DAYS),  # past its deadline: events decide
            ) for s in swept.standings}  # fmt: skip
            next_due = min(
                (s.next_scheduled for s in swept.standings if s.next_scheduled),
                default=clock.now + timedelta(days=DAYS),
            )
            if swept.evergreen:  # recorded after the sweep read what is scheduled
                next_due = clock.now
        with ledger() as session:
            content: dict[str, list[datetime]] = defaultdict(list)
            for account, finished in session.execute(
                select(Delivery.account, Delivery.finished_at)
                .where(Delivery.status == DeliveryStatus.SENT)
                .order_by(Delivery.finished_at)
            ):
                assert finished is not None
                content[account].append(finished)
            activity = {
                row.account: row.last_sent_at for row in session.scalars(select(AccountActivity))
            }
        mails = [
            (
                parsedate_to_datetime(m.message["Date"]),
                str(m.message["Subject"]),
                m.rcpt_tos,
                str(m.message["Message-ID"]),
            )
            for m in smtp.messages
        ]
        yield Year(settings, world, content, activity, mails)


def silences(year: Year, key: str) -> list[Window]:
    """The account's stretches without content longer than 7 days, up to the year's end."""
    end = START + timedelta(days=DAYS) - timedelta(hours=1)
    times = [START, *year.content[key], end]
    return [(a, b) for a, b in itertools.pairwise(times) if b - a > timedelta(days=7)]


def test_no_healthy_unpaused_account_goes_more_than_seven_days_without_content(
    year: Year,
) -> None:
    excused = 0
    for unit, account in year.settings.accounts():
        for start, end in silences(year, account.key):
            deadline = start + timedelta(days=7)
            paused = overlaps(year.world.pauses[account.key], deadline - WINDOW, deadline)
            down = overlaps(year.world.outages[account.key], deadline - WINDOW, deadline)
            assert paused or down or unit == EMPTY_POOL_UNIT, (
                f"{account.key} went from {start} to {end} without content, and at its deadline "
                "it was active, unpaused and healthy"
            )
            excused += 1
    assert excused > 10  # the year did test the exceptions: pauses, outages, the empty pool


def test_every_account_silent_past_its_deadline_was_alerted_with_the_reason(year: Year) -> None:
    for unit, account in year.settings.accounts():
        for start, end in silences(year, account.key):
            deadline = start + timedelta(days=7)
            reasons = set()
            if overlaps(year.world.pauses[account.key], deadline - WINDOW, deadline):
                reasons.add("is paused")
            if overlaps(year.world.outages[account.key], deadline - WINDOW, deadline):
                reasons.add("is failing on its platform")
            if unit == EMPTY_POOL_UNIT:
                reasons.add("has no evergreen item")
            alerts = [
                subject
                for when, subject, to, _ in year.mails
                if subject.startswith(f"Freshness alert: @{account.handle} ")
                and to == ["cell@example.gov.in"]
                and start <= when <= end
            ]
            assert any(reason in a for a in alerts for reason in reasons), (
                f"{account.key}, silent {start} to {end} ({', '.join(reasons)}), got {alerts}"
            )


def test_alerts_name_only_real_exceptions(year: Year) -> None:
    handles = {a.handle: (u, a.key) for u, a in year.settings.accounts()}
    for when, subject, _, _ in year.mails:
        if not subject.startswith("Freshness alert: @"):
            continue
        unit, key = handles[subject.removeprefix("Freshness alert: @").split(" ")[0]]
        if "is paused" in subject:
            assert year.world.paused(key, when), subject
        elif "has no evergreen item" in subject:
            assert unit == EMPTY_POOL_UNIT, subject
        else:
            assert "is failing on its platform" in subject
            assert any(a <= when for a, _ in year.world.outages[key]), subject


def test_warnings_go_to_the_units_officer_once_per_silence(year: Year) -> None:
    warnings = [m for m in year.mails if m[1].startswith("Silent for ")]
    assert len(warnings) > 20
    officers = {
        a.handle: [year.settings.units[u].nodal_officer.email] for u, a in year.settings.accounts()
    }
    for _, subject, to, _ in warnings:
        assert to == officers[subject.split("@")[1].split(" ")[0]]
    ids = [message_id for *_, message_id in year.mails]
    assert len(ids) == len(set(ids))  # no warning, alert or digest was sent twice


def test_a_digest_at_most_once_a_day(year: Year) -> None:
    digests = [m for m in year.mails if m[1].startswith("Freshness digest ")]
    days = [subject.split()[2] for _, subject, _, _ in digests]
    assert len(days) == len(set(days)) > 100
    assert all(to == ["cell@example.gov.in"] for _, _, to, _ in digests)


def test_last_content_is_kept_as_deliveries_succeed(year: Year) -> None:
    for key, times in year.content.items():
        assert year.activity[key] == times[-1]
