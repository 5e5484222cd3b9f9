"""The 7-day guarantee: no account goes longer than ``max_silence_days`` without content.

A sweep (at start, then every ``sweep_minutes``) looks at every account's last content, kept in
``account_activity`` as deliveries succeed, and at what is scheduled for it. An account silent for
``warn_after_days`` with nothing scheduled before its deadline is at risk: its unit's nodal officer
gets one warning per silence episode. Two sweeps before the deadline, the engine records a post
from the unit's evergreen pool for that account alone (the item it used least recently), due one
sweep before the deadline, through the normal path: plan (its languages, the mandatory tags), the
ledger, the dispatcher. Where the engine cannot help (the account is paused, the pool has nothing
for it, or its platform refused its latest attempt) the directorate's cell gets an alert, and a
daily digest lists every account at risk. Warnings, alerts and digests go by e-mail and to the log.

What "paused" means is not decided here: the sweep takes a predicate (account key -> paused?).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from publisher.adapters.email import Mail, send_mail, server_options
from publisher.clock import Clock, local
from publisher.config.credentials import Credentials
from publisher.config.settings import Settings
from publisher.errors import AdapterError, PostFileError
from publisher.intake.evergreen import Item, least_recently_used
from publisher.oversight.notices import (
    Reason,
    Standing,
    alert,
    alert_key,
    digest,
    digest_key,
    local_day,
    warning,
    warning_key,
)
from publisher.planning.plan import new_post, plan
from publisher.planning.render import Renderer
from publisher.store import activity as store
from publisher.store.models import Notice
from publisher.store.posts import record_post
from publisher.vocabulary import DeliveryStatus

logger = logging.getLogger(__name__)

Paused = Callable[[str], bool]
"""Whether an account (by key, ``x:TNPostalCircle``) is paused: nothing may be published to it."""
Send = Callable[[Mail], None]
"""E-mails a notice; raises AdapterError when the mail server does not take it."""

RETRY_FAILED_EVERGREEN = timedelta(hours=6)
"""After an evergreen post failed, how long before another is tried for the same silence: the
platform may be down for days, and each try leaves a failed delivery for a person to read."""


def never_paused(account: str) -> bool:
    return False


def mailer(settings: Settings, credentials: Credentials, clock: Clock) -> Send:
    """Notices go through ``[platforms.email]``'s server, logged in with ``[freshness]
    smtp_credential`` when one is named.

    Raises:
        CredentialError: the named credential is missing: start-up stops, saying where to put it.
    """
    name = settings.freshness.smtp_credential
    secrets = credentials.get(name) if name else {}
    options = server_options(settings)
    return lambda mail: send_mail(options, secrets, mail, clock())


@dataclass
class Sweep:
    """What one sweep did, for the log and for tests."""

    warned: list[str] = field(default_factory=list)  # account keys
    alerted: list[tuple[str, Reason]] = field(default_factory=list)
    evergreen: list[int] = field(default_factory=list)  # post ids
    at_risk: list[tuple[Standing, str]] = field(default_factory=list)
    digest: bool = False
    standings: list[Standing] = field(default_factory=list)  # every account, as the sweep found it


def account_standings(
    session: Session, settings: Settings, now: datetime, *, dry_run: bool
) -> list[Standing]:
    """Every configured account's silence and deadline, in config order. Accounts never seen
    before are added to the session, counted from ``now``: commit it to start counting. In
    dry-run, dry-run deliveries count as content (a rehearsal keeps its own accounts fresh);
    live, only sent ones do."""
    accounts = settings.accounts()
    rows = store.activity(session, [a.key for _, a in accounts], now)
    scheduled = store.next_scheduled(session)
    policy = settings.freshness
    out = []
    for unit, account in accounts:
        row = rows[account.key]
        last = row.last_sent_at
        if dry_run and row.last_dry_run_at and (not last or row.last_dry_run_at > last):
            last = row.last_dry_run_at
        since = last or row.tracked_since
        out.append(
            Standing(
                unit=unit,
                account=account,
                since=since,
                last_content=last,
                warn_at=since + timedelta(days=policy.warn_after_days),
                deadline=since + timedelta(days=policy.max_silence_days),
                next_scheduled=scheduled.get(account.key),
                failing=row.last_error if row.failing_since else None,
            )
        )
    return out


def standings_text(standings: list[Standing], settings: Settings, now: datetime) -> str:
    """``publisher freshness``: per account, days since its last content and its deadline."""
    zone = settings.zone
    header = (
        f"{'unit':<14} {'account':<34} {'last content':<22} {'days':>5} {'deadline':<22} "
        "next scheduled"
    )
    lines = [f"Freshness at {local(now, zone)}", header, "-" * len(header)]
    for s in standings:
        last = local(s.last_content, zone) if s.last_content else "never"
        after = local(s.next_scheduled, zone) if s.next_scheduled else "-"
        flag = "  FAILING" if s.failing else ""
        late = "  LATE" if now >= s.deadline else ""
        lines.append(
            f"{s.unit:<14} {s.account.key:<34} {last:<22} {s.days_silent(now):>5.1f} "
            f"{local(s.deadline, zone):<22} {after}{late}{flag}"
        )
    return "\n".join(lines) + "\n"


def _on_its_way(earlier: list[tuple[str, str, datetime | None]], now: datetime) -> str | None:
    """Why no new evergreen post is made for this silence yet, given the deliveries of the ones
    made before (post key, status, finished): one still on its way, or one that failed lately."""
    statuses = {status for _, status, _ in earlier}
    if DeliveryStatus.UNCERTAIN in statuses:
        return "its evergreen post is uncertain: resolve it (publisher review)"
    if statuses & {DeliveryStatus.PENDING, DeliveryStatus.SENDING}:
        return "its evergreen post is waiting to be retried"
    failed_at = max((f for _, _, f in earlier if f is not None), default=None)
    if failed_at is not None and now - failed_at < RETRY_FAILED_EVERGREEN:
        return f"its evergreen post failed; another after {failed_at + RETRY_FAILED_EVERGREEN}"
    return None


class Freshness:
    def __init__(
        self,
        settings: Settings,
        renderer: Renderer,
        ledger: sessionmaker[Session],
        clock: Clock,
        pools: dict[str, list[Item]],
        send: Send,
        *,
        dry_run: bool,
        paused: Paused = never_paused,
    ) -> None:
        self.settings = settings
        self.renderer = renderer
        self.ledger = ledger
        self.clock = clock
        self.pools = pools
        self.send = send
        self.dry_run = dry_run
        self.paused = paused
        self.interval = timedelta(minutes=settings.freshness.sweep_minutes)
        self._sent: set[str] = set()  # notice keys already sent, read at each sweep

    def sweep(self) -> Sweep:
        now = self.clock()
        result = Sweep()
        with self.ledger.begin() as session:
            standings = account_standings(session, self.settings, now, dry_run=self.dry_run)
            result.standings = standings
            due = [s for s in standings if now >= s.warn_at]
            candidates = [digest_key(local_day(now, self.settings.zone))]
            for s in due:
                candidates += [warning_key(s)] + [alert_key(s, r) for r in Reason]
            self._sent = store.notice_keys(session, candidates)
        for standing in due:
            self._account(standing, now, result)
        self._digest(result, now)
        if result.warned or result.alerted or result.evergreen:
            logger.info(
                "freshness sweep: %d warned, %d alerts, %d evergreen posts, %d at risk",
                len(result.warned),
                len(result.alerted),
                len(result.evergreen),
                len(result.at_risk),
            )
        return result

    def _account(self, s: Standing, now: datetime, result: Sweep) -> None:
        key = s.account.key
        near = now >= s.deadline - 2 * self.interval
        covered_until = max(s.deadline, now + self.interval)
        covered = s.next_scheduled is not None and s.next_scheduled <= covered_until
        if s.failing is not None and near:
            self._alert(s, Reason.FAILING, now, result, s.failing)
            result.at_risk.append((s, f"failing: {s.failing}"))
        if covered:
            return
        paused = self.paused(key)
        if (
            not paused
            and warning_key(s) not in self._sent
            and self._notify(warning(self.settings, s, now), "warning", s, None, now)
        ):
            result.warned.append(key)
        if not near:
            result.at_risk.append((s, "paused" if paused else "nothing scheduled"))
            return
        if paused:
            self._alert(s, Reason.PAUSED, now, result)
            result.at_risk.append((s, "paused: nothing may be published"))
            return
        made = self._evergreen(s, now, result)
        if made is not None:
            result.at_risk.append((s, made))

    def _alert(
        self, s: Standing, reason: Reason, now: datetime, result: Sweep, error: str = ""
    ) -> None:
        if alert_key(s, reason) in self._sent:
            return
        if self._notify(alert(self.settings, s, reason, now, error), "alert", s, reason, now):
            result.alerted.append((s.account.key, reason))

    def _evergreen(self, s: Standing, now: datetime, result: Sweep) -> str | None:
        """Record an evergreen post for the account, unless one of this silence is still on its
        way, or failed too recently to try again; returns what the digest should say."""
        pool = [item for item in self.pools.get(s.unit, []) if s.account.key in item.accounts]
        if not pool:
            self._alert(s, Reason.EMPTY_POOL, now, result)
            return "the evergreen pool has nothing for it"
        prefix = f"{s.unit}/evergreen/{s.account.key}/{s.deadline:%Y-%m-%dT%H:%MZ}/"
        with self.ledger() as session:
            earlier = store.evergreen_posts(session, prefix)
            waiting = _on_its_way(earlier, now)
            if waiting:
                return waiting
            uses = store.last_uses(session, s.account.key)
        items = least_recently_used(pool, s.account.key, uses)
        when = max(now, s.deadline - self.interval)
        post_key = f"{prefix.partition('/')[2]}{len({k for k, _, _ in earlier})}"
        for item in items:
            request = item.for_account(s.account, post_key, when)
            try:
                planned = plan(request, self.settings, self.renderer)
            except PostFileError as exc:
                logger.error(
                    "evergreen item %s/%s cannot go to %s: %s",
                    s.unit,
                    item.name,
                    s.account.key,
                    exc,
                )
                continue
            folder = f"{s.unit}/archive/{post_key.replace(':', '_').replace('/', '_')}"
            try:
                media = item.copy_media(self.settings.paths.queue, folder)
                with self.ledger.begin() as session:
                    archive = folder if media else ""
                    post_id = record_post(
                        session, new_post(request, planned, media, archive, now)
                    ).id
                    store.note_use(session, s.account.key, item.name, post_id, now)
            except IntegrityError:
                logger.info("evergreen post %s was recorded by another sweep", request.key)
                return None
            except OSError as exc:
                logger.error(
                    "evergreen item %s/%s: its photos cannot be copied: %s", s.unit, item.name, exc
                )
                continue
            logger.warning(
                "%s silent since %s: evergreen item %s/%s recorded as post %d, due %s",
                s.account.key, s.since.isoformat(), s.unit, item.name, post_id, when.isoformat(),
            )  # fmt: skip
            result.evergreen.append(post_id)
            return None
        self._alert(s, Reason.EMPTY_POOL, now, result)
        return "no evergreen item could be planned for it (see the log)"

    def _notify(
        self, mail: Mail, kind: str, s: Standing | None, reason: Reason | None, now: datetime
    ) -> bool:
        """E-mail (in dry-run: only log) a notice and keep it; False if the mail server did not
        take it (the next sweep tries again)."""
        logger.warning("%s to %s: %s", kind, ", ".join(mail.to), mail.subject)
        if not self.dry_run:
            try:
                self.send(mail)
            except AdapterError as exc:
                logger.error(
                    "the %s '%s' could not be e-mailed, trying again at the next sweep: %s",
                    kind,
                    mail.subject,
                    exc,
                )
                return False
        notice = Notice(
            key=mail.key,
            kind=kind,
            account=s.account.key if s else None,
            reason=reason.value if reason else None,
            sent_at=now,
            recipients=mail.to,
            subject=mail.subject,
            emailed=not self.dry_run,
        )
        with self.ledger.begin() as session:
            store.record_notice(session, notice)
        self._sent.add(mail.key)
        return True

    def _digest(self, result: Sweep, now: datetime) -> None:
        local_now = now.astimezone(self.settings.zone)
        day = local_day(now, self.settings.zone)
        if local_now.hour < self.settings.freshness.digest_hour or not result.at_risk:
            return
        if digest_key(day) in self._sent:
            return
        result.digest = self._notify(
            digest(self.settings, result.at_risk, now, day), "digest", None, None, now
        )
