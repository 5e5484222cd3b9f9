"""A fake SMTP submission server on 127.0.0.1, built on aiosmtpd's ``Controller``.

It speaks real SMTP to Python's ``smtplib``: EHLO, optional STARTTLS or implicit TLS (SMTPS)
with a throwaway self-signed certificate for 127.0.0.1 (made with the ``openssl`` command, since
``cryptography`` is not installed), AUTH LOGIN/PLAIN against one configured user (offered only
over TLS when TLS is on, as real submission servers do), and it records every accepted message.
Faults: ``fail_next(code, stage=...)`` answers MAIL, RCPT or DATA with a chosen reply code,
``fail_next("drop")`` closes the connection after the message data arrived, before any reply, and
``fail_next("hang")`` holds the reply to the data until ``release()`` (``holding`` counts the
messages held): a client killed meanwhile never had its message accepted, and it is not stored.

Not imitated: delivery, DSNs, SIZE limits, pipelining quirks, greylisting or any server's exact
wording. Clients must trust ``fake.cert_path`` (or use ``fake.client_context()``) to verify TLS.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
STAGES = ("MAIL", "RCPT", "DATA")
REPLIES = {
    421: "4.3.2 Service not available, closing transmission channel",
    450: "4.2.1 Mailbox temporarily unavailable",
    451: "4.3.0 Temporary server error, please try again later",
    452: "4.3.1 Insufficient system storage",
    550: "5.1.1 Mailbox unavailable",
    552: "5.3.4 Message size exceeds fixed limit",
    553: "5.1.3 Mailbox name not allowed",
    554: "5.7.1 Message rejected",
}


@dataclass
class ReceivedMessage:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes = field(repr=False)
    message: EmailMessage = field(repr=False)
    login: str | None  # the AUTH user, None when the client did not authenticate
    tls: bool  # the message travelled over TLS (STARTTLS or SMTPS)


@dataclass
class _Fault:
    code: int | str
    count: int
    stage: str
    reply: str | None
    store: bool


class _Session(Session):
    login_data: Any = None  # aiosmtpd 1.4 sets this deprecated property after AUTH; no warning


class _Server(SMTP):
    def __init__(self, *args: Any, implicit_tls: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if implicit_tls:  # aiosmtpd counts only STARTTLS as TLS; SMTPS is TLS from the start
            self._auth_require_tls = False

    def _create_session(self) -> Session:
        return _Session(self.loop)


class _Controller(Controller):
    def __init__(self, fake: FakeSMTP, **kwargs: Any) -> None:
        super().__init__(fake, hostname=HOST, port=0, **kwargs)
        self.implicit_tls = fake.implicit_tls

    def factory(self) -> SMTP:
        return _Server(self.handler, implicit_tls=self.implicit_tls, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]  # port 0 became a real port
        super()._trigger_server()


class FakeSMTP:
    """``with FakeSMTP(starttls=True, user="u", password="p") as fake:`` on ``fake.port``."""

    def __init__(
        self,
        *,
        starttls: bool = False,
        implicit_tls: bool = False,
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        if starttls and implicit_tls:
            raise ValueError("choose STARTTLS or implicit TLS, not both")
        self.starttls, self.implicit_tls = starttls, implicit_tls
        self.user, self.password = user, password
        self.host = HOST
        self.port = 0
        self.messages: list[ReceivedMessage] = []
        # (mechanism, login, accepted); not named auth_*: aiosmtpd takes those for mechanisms
        self.logins: list[tuple[str, str, bool]] = []
        self.cert_path: Path | None = None
        self.holding = 0  # messages a "hang" fault holds right now
        self._released = threading.Event()
        self._faults: list[_Fault] = []
        self._tmp: str | None = None
        self._controller: _Controller | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> FakeSMTP:
        server_ctx = self._make_tls() if self.starttls or self.implicit_tls else None
        kwargs: dict[str, Any] = {
            "ssl_context": server_ctx if self.implicit_tls else None,
            "tls_context": server_ctx if self.starttls else None,
            "auth_require_tls": self.starttls or self.implicit_tls,
            "authenticator": self._authenticate,
            "decode_data": False,
        }
        self._controller = _Controller(self, **kwargs)
        self._controller.start()
        self.port = self._controller.port
        return self

    def stop(self) -> None:
        if self._controller:
            self._controller.stop()
            self._controller = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> FakeSMTP:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts the fake's certificate (hostname checks stay on)."""
        assert self.cert_path, "the fake runs without TLS"
        return ssl.create_default_context(cafile=str(self.cert_path))

    def fail_next(
        self, code: int | str, count: int = 1, stage: str = "DATA", reply: str | None = None
    ) -> None:
        """Answer the next ``count`` commands of ``stage`` (MAIL, RCPT, DATA) with ``code``
        and ``reply`` (a usual text by default). ``"drop"`` closes the connection after the
        message data arrived, without storing it; ``"drop_after_store"`` stores it first;
        ``"hang"`` holds the reply until ``release()``, then stores and accepts it."""
        stage = "DATA" if isinstance(code, str) else stage.upper()
        reply_code = isinstance(code, int) and 400 <= code < 600
        if stage not in STAGES or not (reply_code or code in ("drop", "drop_after_store", "hang")):
            raise ValueError(f"bad fault {code!r} at {stage!r}")
        self._faults.append(_Fault(code, count, stage, reply, code == "drop_after_store"))

    # -- aiosmtpd hooks ---------------------------------------------------------------------
    async def handle_MAIL(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.user and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if failed := self._take("MAIL"):
            return failed
        envelope.mail_from, envelope.mail_options = address, list(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if failed := self._take("RCPT"):
            return failed
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        fault = self._take_fault("DATA")
        if fault and fault.code == "hang":
            await self._hold()  # cancelled, storing nothing, if the client goes away
            fault = None
        if fault is None or fault.store:
            self._store(server, session, envelope)
        if fault and isinstance(fault.code, str):
            assert server.transport is not None
            server.transport.abort()  # the client never hears whether the message was taken
            return "250 2.0.0 unheard"
        if fault:
            return self._reply(fault)
        return "250 2.0.0 OK: queued"

    def release(self) -> None:
        """Let every message held by a "hang" fault, and any later one, go on."""
        self._released.set()

    # -- internals --------------------------------------------------------------------------
    async def _hold(self) -> None:
        self.holding += 1
        try:
            while not self._released.is_set():
                await asyncio.sleep(0.05)
        finally:
            self.holding -= 1

    def _store(self, server: SMTP, session: Session, envelope: Envelope) -> None:
        raw = envelope.original_content or b""
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        login = session.auth_data if isinstance(session.auth_data, str) else None
        tls = bool(server.transport and server.transport.get_extra_info("ssl_object"))
        rcpt_tos = list(envelope.rcpt_tos)
        mail_from = envelope.mail_from or ""
        self.messages.append(ReceivedMessage(mail_from, rcpt_tos, raw, parsed, login, tls))

    def _take_fault(self, stage: str) -> _Fault | None:
        for fault in self._faults:
            if fault.stage == stage:
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _take(self, stage: str) -> str | None:
        fault = self._take_fault(stage)
        return self._reply(fault) if fault else None

    @staticmethod
    def _reply(fault: _Fault) -> str:
        code = int(fault.code)
        return f"{code} {fault.reply or REPLIES.get(code, 'Error')}"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        accepted = self.user is not None and (login, password) == (self.user, self.password)
        self.logins.append((mechanism, login, accepted))
        return AuthResult(success=accepted, handled=False, auth_data=login)

    def _make_tls(self) -> ssl.SSLContext:
        self._tmp = tempfile.mkdtemp(prefix="fake-smtp-")
        key, cert = Path(self._tmp, "key.pem"), Path(self._tmp, "cert.pem")
        command = ["openssl", "req", "-x509", "-nodes", "-days", "1", "-subj", f"/CN={HOST}"]
        command += ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        command += ["-addext", f"subjectAltName=IP:{HOST}", "-keyout", str(key), "-out", str(cert)]
        subprocess.run(command, check=True, capture_output=True)
        self.cert_path = cert
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(cert, key)
        return server_ctx
