"""E-mail through SMTP (smtplib): the circulars' photographs-with-descriptions to the Marketing
Division; and the freshness sweep's warnings, alerts and digests (``send_mail``), over the same
connection code.

An e-mail "account" is a list of recipients; its credential, if any, is the SMTP login
(``username``, ``password``). The Message-ID is derived from the delivery's idempotency key, so a
receiving system can recognise a message sent twice after a crash. Once the message data has been
sent, a dropped connection is uncertain: the server may have queued it.
"""

from __future__ import annotations

import hashlib
import mimetypes
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from publisher.adapters.base import AccountCheck, Adapter, Metrics, Outgoing, Rules
from publisher.adapters.registry import read_options
from publisher.config.fields import EMAIL
from publisher.config.organisation import Account
from publisher.config.platforms import PlatformOptions
from publisher.config.settings import Settings
from publisher.errors import AuthError, PermanentError, TransientError, UncertainError
from publisher.vocabulary import Receipt

SUBJECT_LENGTH = 78
HANDED = "handed"  # the checkpoint taken just before the message goes to the server
NOTICE_POLICY = policy.default.clone(max_line_length=998)
"""SMTP's own line limit: a notice's subject ("Freshness alert: @handle (platform) is …") is not
folded, which would start it with a space in some mail readers."""


class EmailOptions(PlatformOptions):
    """``[platforms.email]``: the mail server, for e-mail accounts and for the engine's own
    notices and reports (``server_options``)."""

    host: str = "localhost"
    port: int = Field(default=587, gt=0)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    sender: str = Field(default="publisher@localhost", pattern=EMAIL)
    ca_file: Path | None = Field(default=None, strict=False)  # to trust a private CA's certificate


class EmailAdapter(Adapter[EmailOptions]):
    platform: ClassVar[str] = "email"
    secrets: ClassVar[tuple[str, ...]] = ("username", "password")
    options_model: ClassVar[type[PlatformOptions]] = EmailOptions
    rules: ClassVar[Rules] = Rules(mentions=False)  # a message to people: no tags, no limit

    @classmethod
    def account_problem(cls, account: Account) -> tuple[str, str] | None:
        if account.recipients:
            return None
        return (
            f"the e-mail account '{account.handle}' has no recipients",
            'Add recipients = ["name@example.gov.in"] to it',
        )

    def publish(self, delivery: Outgoing) -> Receipt:
        message = self._message(delivery)
        with self._connect() as smtp:
            # From here the server may take the message: recorded first, so that reconciling
            # after a crash knows whether it can simply send (never handed over) or must ask a
            # person (a mail server cannot be asked what it took).
            delivery.checkpoint(HANDED, str(message["Message-ID"]))
            try:
                refused = smtp.send_message(message)
            except smtplib.SMTPRecipientsRefused as exc:
                msg = f"every recipient was refused: {_replies(exc.recipients)}"
                raise PermanentError(msg) from exc
            except smtplib.SMTPResponseException as exc:
                raise classify(exc, self._server) from exc
            except OSError as exc:  # smtplib's disconnects included: the data may be queued
                msg = f"the connection to {self._server} dropped while sending: {exc}"
                raise UncertainError(msg) from exc
        if refused:
            msg = f"some recipients were refused: {_replies(refused)}"
            raise PermanentError(msg)
        return Receipt(remote_id=str(message["Message-ID"]), url=None, at=self.clock())

    def find_existing(self, delivery: Outgoing) -> Receipt | None:
        if HANDED not in delivery.progress:
            return None  # the message never reached a server: sending it is safe
        msg = "a mail server cannot be asked whether it delivered a message; resolve it by hand"
        raise UncertainError(msg)

    def metrics(self, receipts: Sequence[Receipt]) -> dict[str, Metrics]:
        return {}  # e-mail has no likes or shares

    def check(self) -> AccountCheck:
        try:
            with self._connect() as smtp:
                smtp.noop()
        except (TransientError, AuthError, PermanentError) as exc:
            return AccountCheck(valid=False, detail=str(exc))
        login = "logged in" if self._secrets else "no login configured"
        return AccountCheck(valid=True, detail=f"{self._server}: connected, {login}")

    @property
    def _server(self) -> str:
        return f"{self.options.host}:{self.options.port}"

    def _message(self, delivery: Outgoing) -> EmailMessage:
        text = "\n\n".join(part.text for part in delivery.parts)
        first_line = text.strip().splitlines()[0] if text.strip() else "Post"
        message = EmailMessage()
        message["From"] = self.options.sender
        message["To"] = ", ".join(self.account.recipients)
        message["Subject"] = first_line[:SUBJECT_LENGTH]
        message["Date"] = formatdate(self.clock().timestamp())
        digest = hashlib.sha256(delivery.idempotency_key.encode()).hexdigest()[:32]
        message["Message-ID"] = f"<{digest}@publisher>"
        message["Content-Language"] = delivery.locale
        body = text
        for medium in delivery.media:
            if medium.alt:
                body += f"\n\n{medium.path.name}: {medium.alt}"
        message.set_content(body)
        for medium in delivery.media:
            kind, _ = mimetypes.guess_type(medium.path.name)
            maintype, subtype = (kind or "application/octet-stream").split("/", 1)
            message.add_attachment(
                medium.path.read_bytes(),
                maintype=maintype,
                subtype=subtype,
                filename=medium.path.name,
            )
        return message

    def _connect(self) -> smtplib.SMTP:
        return connect(self.options, self._secrets)


def server_options(settings: Settings) -> EmailOptions:
    """``[platforms.email]``, the server the engine's own mail goes through too (officers'
    notices, the weekly report), whether or not any account is on e-mail."""
    return read_options(EmailOptions, settings, EmailAdapter.platform)


def _tls(options: EmailOptions) -> ssl.SSLContext:
    """Made only for a secured connection: loading the system's CA store takes ~40 ms."""
    return ssl.create_default_context(cafile=options.ca_file)


def send_mail(
    options: EmailOptions,
    secrets: Mapping[str, str],
    mail: Mail,
    when: datetime,
) -> None:
    """E-mail a message the engine itself writes (a warning, an alert, a digest) over the same
    connection code as the adapter. Its Message-ID comes from the key, so a message sent
    again after a crash is recognisable as the same one.

    Raises:
        TransientError, AuthError, PermanentError: as for a delivery, with the server's answer.
    """
    message = EmailMessage(policy=NOTICE_POLICY)
    message["From"] = options.sender
    message["To"] = ", ".join(mail.to)
    message["Subject"] = mail.subject
    message["Date"] = formatdate(when.timestamp(), usegmt=True)
    message["Message-ID"] = f"<{hashlib.sha256(mail.key.encode()).hexdigest()[:32]}@publisher>"
    message.set_content(mail.body)
    server = f"{options.host}:{options.port}"
    with connect(options, secrets) as smtp:
        try:
            smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            msg = f"every recipient was refused: {_replies(exc.recipients)}"
            raise PermanentError(msg) from exc
        except smtplib.SMTPResponseException as exc:
            raise classify(exc, server) from exc
        except OSError as exc:
            msg = f"the connection to {server} dropped while sending: {exc}"
            raise TransientError(msg) from exc


@dataclass(frozen=True)
class Mail:
    """A message from the engine to people (not a post): its identity, recipients and text."""

    key: str
    to: list[str]
    subject: str
    body: str


def connect(options: EmailOptions, secrets: Mapping[str, str]) -> smtplib.SMTP:
    """An open, secured and logged-in connection (a login when ``secrets`` has one); failures
    before any data is sent are transient (or auth) errors. The weekly report uses it too.

    Raises:
        AuthError: the server refused the login.
        TransientError: the server cannot be reached or refused for now.
        PermanentError: the server refused with a 5xx reply.
    """
    server = f"{options.host}:{options.port}"
    try:
        if options.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                options.host, options.port, timeout=options.timeout_seconds, context=_tls(options)
            )
        else:
            smtp = smtplib.SMTP(options.host, options.port, timeout=options.timeout_seconds)
            if options.security == "starttls":
                smtp.starttls(context=_tls(options))
        if secrets:
            smtp.login(secrets["username"], secrets["password"])
    except smtplib.SMTPAuthenticationError as exc:
        msg = f"{server} refused the login ({exc.smtp_code}); renew the credential"
        raise AuthError(msg) from exc
    except smtplib.SMTPResponseException as exc:
        raise classify(exc, server) from exc
    except (OSError, smtplib.SMTPException) as exc:
        msg = f"cannot reach {server}: {exc}"
        raise TransientError(msg) from exc
    return smtp


def classify(exc: smtplib.SMTPResponseException, server: str) -> TransientError | PermanentError:
    """4xx is "try later", 5xx is "no", as SMTP defines them."""
    reply = exc.smtp_error
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    msg = f"{server} answered {exc.smtp_code} {text}"
    return TransientError(msg) if 400 <= exc.smtp_code < 500 else PermanentError(msg)


def _replies(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{rcpt}: {code} {text.decode(errors='replace')}" for rcpt, (code, text) in refused.items()
    )
