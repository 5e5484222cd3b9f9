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

from publisher.adapters.email import Mail, send_mail
from publisher.clock import Clock
from publisher.config import Settings
from publisher.credentials import Credentials
from publisher.errors import AdapterError, PostFileError
from publisher.evergreen import Item, least_recently_used
from publisher.notices import Reason, Standing, alert, digest, local_day, warning
from publisher.plan import plan
from publisher.render import Renderer
from publisher.store import activity as store
from publisher.store.ledger import record_post
from publisher.store.models import DeliveryStatus, Notice

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
    options = settings.platforms.email
    return lambda mail: send_mail(options, secrets, mail, clock())


@dataclass
class Sweep:
    """What one sweep did, for the log and for tests."""

    warned: list[str] = field(default_factory=list)  # account keys
    alerted: list[tuple[str, Reason]] = field(default_factory=list)
    evergreen: list[int] = field(default_factory=list)  # post ids
    at_risk: list[tuple[Standing, str]] = field(default_factory=list)
    digest: bool = False


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

    def standings(self, session: Session, now: datetime) -> list[Standing]:
        """Every configured account's silence and deadline, in config order. Accounts never seen
        before are added to the session, counted from ``now``: commit it to start counting."""
        accounts = self.settings.accounts()
        rows = store.activity(session, [a.key for _, a in accounts], now)
        scheduled = store.next_scheduled(session)
        policy = self.settings.freshness
        out = []
        for unit, account in accounts:
            row = rows[account.key]
            last = row.last_sent_at
            if self.dry_run and row.last_dry_run_at and (not last or row.last_dry_run_at > last):
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
                )
            )
        return out

    def sweep(self) -> Sweep:
        now = self.clock()
        result = Sweep()
        with self.ledger.begin() as session:
            standings = self.standings(session, now)
            due = [s for s in standings if now >= s.warn_at]
            candidates = [f"digest|{local_day(now, self.settings.zone)}"]
            for s in due:
                candidates += [f"warning|{s.episode}"] + [f"alert|{r}|{s.episode}" for r in Reason]
            self._sent = store.notice_keys(session, candidates)
            errors = {
                s.account.key: store.failing(session, s.account.key)
                for s in due
                if now >= s.deadline - 2 * self.interval
            }
        for standing in due:
            self._account(standing, errors.get(standing.account.key), now, result)
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

    def _account(self, s: Standing, error: str | None, now: datetime, result: Sweep) -> None:
        key = s.account.key
        near = now >= s.deadline - 2 * self.interval
        covered_until = max(s.deadline, now + self.interval)
        covered = s.next_scheduled is not None and s.next_scheduled <= covered_until
        if error is not None and near:
            self._alert(s, Reason.FAILING, now, result, error)
            result.at_risk.append((s, f"failing: {error}"))
        if covered:
            return
        paused = self.paused(key)
        if not paused and self._notify(warning(self.settings, s, now), "warning", s, None, now):
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
        if self._notify(alert(self.settings, s, reason, now, error), "alert", s, reason, now):
            result.alerted.append((s.account.key, reason))

    def _evergreen(self, s: Standing, now: datetime, result: Sweep) -> str | None:
        """Record an evergreen post for the account, unless one of this silence is still on its
        way, or failed too recently to try again; returns what the digest should say."""
        prefix = f"{s.unit}/evergreen/{s.account.key}/{s.deadline:%Y-%m-%dT%H:%MZ}/"
        with self.ledger() as session:
            earlier = store.evergreen_posts(session, prefix)
            uses = store.last_uses(session, s.account.key)
        statuses = {status for _, status, _ in earlier}
        if DeliveryStatus.UNCERTAIN in statuses:
            return "its evergreen post is uncertain: resolve it (publisher review)"
        if statuses & {DeliveryStatus.PENDING, DeliveryStatus.SENDING}:
            return "its evergreen post is waiting to be retried"
        failed_at = max((f for _, _, f in earlier if f is not None), default=None)
        if failed_at is not None and now - failed_at < RETRY_FAILED_EVERGREEN:
            return f"evergreen post failed; another at {failed_at + RETRY_FAILED_EVERGREEN:%H:%M}"
        items = least_recently_used(self.pools.get(s.unit, []), s.account.key, uses)
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
            try:
                with self.ledger.begin() as session:
                    post_id = record_post(session, request, planned, [], "", now)
                    store.note_use(session, s.account.key, item.name, post_id, now)
            except IntegrityError:
                logger.info("evergreen post %s was recorded by another sweep", request.key)
                return None
            logger.warning(
                "%s silent since %s: evergreen item %s/%s recorded as post %d, due %s",
                s.account.key, s.since.isoformat(), s.unit, item.name, post_id, when.isoformat(),
            )  # fmt: skip
            result.evergreen.append(post_id)
            return None
        self._alert(s, Reason.EMPTY_POOL, now, result)
        return "the evergreen pool has nothing for it"

    def _notify(
        self, mail: Mail, kind: str, s: Standing | None, reason: Reason | None, now: datetime
    ) -> bool:
        """E-mail (in dry-run: only log) a notice not sent before, and keep it; False if it was
        sent before or the mail server did not take it (the next sweep tries again)."""
        if mail.key in self._sent:
            return False
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
        if local_now.hour < self.settings.freshness.digest_hour or not result.at_risk:
            return
        day = local_day(now, self.settings.zone)
        result.digest = self._notify(
            digest(self.settings, result.at_risk, now, day), "digest", None, None, now
        )
