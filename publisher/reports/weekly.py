"""The weekly compliance report, e-mailed to the directorate's cell (``[reports] weekly``).

It covers the seven local days before the day it is sent, as ``publisher report`` would, with the
HTML report attached and a plain-text summary in the body: per unit the posts, tag compliance and
failures, and the accounts silent for ``freshness.max_silence_days`` or more. It goes out through
``[platforms.email]`` with the e-mail adapter's own connection code.
"""

from __future__ import annotations

import hashlib
import smtplib
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy.orm import Session, sessionmaker

from publisher.adapters.email import classify, connect, server_options
from publisher.config.credentials import Credentials
from publisher.config.settings import Settings, WeeklyReport
from publisher.errors import PublisherError, TransientError
from publisher.reports.html import render_report
from publisher.reports.report import Report, build_report

DAYS = 7
CRON_DAYS = {"monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu",
             "friday": "fri", "saturday": "sat", "sunday": "sun"}  # fmt: skip


def last_week(now: datetime, settings: Settings) -> tuple[date, date]:
    """The seven local days that ended at the start of today."""
    today = now.astimezone(settings.zone).date()
    return today - timedelta(days=DAYS), today - timedelta(days=1)


def weekly_message(
    report: Report, settings: Settings, policy: WeeklyReport, message_id: str | None = None
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = server_options(settings).sender
    message["To"] = ", ".join(policy.to)
    kind = "weekly compliance report" if (report.last - report.first).days == DAYS - 1 else "report"
    message["Subject"] = f"{report.organisation}: {kind}, {report.first} to {report.last}"
    message["Date"] = formatdate(report.generated_at.timestamp())
    message["Message-ID"] = message_id or make_msgid("weekly-report")
    message.set_content(summary(report, settings.freshness.max_silence_days))
    message.add_attachment(
        render_report(report, settings.freshness.max_silence_days).encode(),
        maintype="text",
        subtype="html",
        filename=f"report-{report.first}-{report.last}.html",
    )
    return message


def summary(report: Report, silent_days: float) -> str:
    """The body: what a reader should see before opening the attachment."""
    lines = [
        f"Posts from {report.first} to {report.last} ({report.zone.key}).",
        "The full report, with every account's figures, is attached (open it in a browser).",
        "",
    ]
    for unit in report.units:
        lines.append(
            f"{unit.name} ({unit.unit}): {unit.posts} posts, tags complete on "
            f"{unit.tag_compliant} of {unit.tag_checked}, {unit.failures} failures"
        )
        lines += [
            f"  silent: {a.account}, "
            + (
                "no post at all"
                if a.days_since_last_post is None
                else f"{a.days_since_last_post:g} days since its last post"
            )
            for a in unit.accounts
            if a.days_since_last_post is None or a.days_since_last_post >= silent_days
        ]
    return "\n".join(lines) + "\n"


def send_weekly(
    settings: Settings,
    ledger: sessionmaker[Session],
    credentials: Credentials,
    now: datetime,
    *,
    fired: datetime | None = None,
) -> EmailMessage:
    """Build last week's report and send it; returns the message sent.

    ``fired`` is the time the report was due (default ``now``): its week is the one reported,
    even when it is sent later (a retry past midnight, or another daemon's after a crash).

    Raises:
        PublisherError: ``[reports] weekly`` is not configured.
        AdapterError: the mail server refused or could not be reached (TransientError, AuthError,
            PermanentError as for the e-mail adapter).
    """
    first, last = last_week(fired or now, settings)
    with ledger() as session:
        report = build_report(session, settings, first, last, now)
    # One Message-ID per organisation and week, as the e-mail adapter's per delivery: a copy
    # sent again after a crash (periodic.py) is one a receiving system can recognise.
    week = f"{settings.organisation.name}|{first}|{last}"
    message_id = f"<weekly-report-{hashlib.sha256(week.encode()).hexdigest()[:32]}@publisher>"
    return send_report(report, settings, credentials, message_id)


def send_report(
    report: Report, settings: Settings, credentials: Credentials, message_id: str | None = None
) -> EmailMessage:
    """Mail ``report`` to the weekly report's recipients (also ``publisher report --email``, which
    sends a message of its own, ``message_id`` None, each time a person asks).

    Raises:
        PublisherError: ``[reports] weekly`` is not configured.
        AdapterError: as the e-mail adapter's, from the mail server.
    """
    policy = settings.reports.weekly
    if policy is None:
        msg = "no weekly report is configured: add [reports] weekly = {...} to config.toml"
        raise PublisherError(msg)
    message = weekly_message(report, settings, policy, message_id)
    secrets = credentials.get(policy.credential) if policy.credential else {}
    server = server_options(settings)
    with connect(server, secrets) as smtp:
        try:
            smtp.send_message(message)
        except smtplib.SMTPResponseException as exc:
            raise classify(exc, server.host) from exc
        except (smtplib.SMTPException, OSError) as exc:
            msg = f"the weekly report was not sent: {exc}"
            raise TransientError(msg) from exc
    return message
