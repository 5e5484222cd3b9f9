"""Secrets by name, and the one place that keeps them out of logs and error files.

config.toml only names a credential (``credential = "x-haryana"``). The secret itself is found, in
this order: systemd's ``$CREDENTIALS_DIRECTORY/<name>`` (``LoadCredential=``), the secrets file
(``[credentials] file``), the environment (``PUBLISHER_CREDENTIAL_X_HARYANA``). A credential is a
small table of fields (``access_token = "…"``): TOML in a file, JSON in the environment.

Every value loaded is remembered, and ``redact`` replaces it, and anything shaped like a token in a
URL or an OAuth header, with ``***``: the log formatter and the dispatcher's error records pass
everything through it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path

from publisher.errors import PublisherError

MASK = "***"
ENV_PREFIX = "PUBLISHER_CREDENTIAL_"
_SHAPES = re.compile(
    r"(?P<key>oauth_signature|oauth_token|access_token|input_token|client_secret|password)"
    r"(?P<sep>=\"?|\"?:\s*\"|%3D)(?P<value>[^\"&\s,]+)",
    re.IGNORECASE,
)


class CredentialError(PublisherError):
    """A credential is missing or stored unsafely; the message says where and how to fix it."""


class Credentials:
    def __init__(self, file: Path | None = None, environ: Mapping[str, str] | None = None) -> None:
        self._file = file
        self._environ = os.environ if environ is None else environ
        self._from_file: dict[str, dict[str, str]] | None = None
        self._known: set[str] = set()

    def get(self, name: str) -> dict[str, str]:
        """The fields of credential ``name``.

        Raises:
            CredentialError: it is nowhere, or the secrets file is readable by others.
        """
        fields = self._lookup(name)
        if fields is None:
            msg = (
                f"credential '{name}' is not set: put it in $CREDENTIALS_DIRECTORY/{name} "
                f"(systemd LoadCredential=), in the secrets file as a [{name}] table, or in "
                f"${_env_name(name)} as JSON"
            )
            raise CredentialError(msg)
        self._known.update(v for v in fields.values() if len(v) >= 4)
        return fields

    def redact(self, text: str) -> str:
        """``text`` with every known secret, and every token-shaped value, masked."""
        for secret in sorted(self._known, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return _SHAPES.sub(lambda m: m["key"] + m["sep"] + MASK, text)

    def _lookup(self, name: str) -> dict[str, str] | None:
        directory = self._environ.get("CREDENTIALS_DIRECTORY")
        if directory and (Path(directory) / name).is_file():
            return _fields(tomllib.loads((Path(directory) / name).read_text("utf-8")), name)
        if self._file is not None:
            table = self._secrets_file().get(name)
            if table is not None:
                return table
        raw = self._environ.get(_env_name(name))
        if raw is not None:
            try:
                return _fields(json.loads(raw), name)
            except json.JSONDecodeError:
                msg = f'${_env_name(name)} is not a JSON object like {{"access_token": "…"}}'
                raise CredentialError(msg) from None
        return None

    def _secrets_file(self) -> dict[str, dict[str, str]]:
        if self._from_file is None and self._file is not None:
            with self._file.open("rb") as f:
                info = os.fstat(f.fileno())  # the file opened, not a name that could be swapped
                if info.st_uid != os.geteuid() or info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                    msg = (
                        f"{self._file} must belong to the service user and be readable by it "
                        f"alone (found mode {stat.filemode(info.st_mode)}, owner uid "
                        f"{info.st_uid}); run: chown <service user> {self._file} && "
                        f"chmod 600 {self._file}"
                    )
                    raise CredentialError(msg)
                data = tomllib.load(f)
            self._from_file = {k: _fields(v, k) for k, v in data.items()}
        return self._from_file or {}


def _env_name(name: str) -> str:
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def _fields(value: object, name: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        msg = f"credential '{name}' must be a table of text fields, e.g. access_token = \"…\""
        raise CredentialError(msg)
    return {str(k): v for k, v in value.items()}


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks secrets in the whole line, traceback included."""

    def __init__(self, fmt: str, credentials: Credentials) -> None:
        super().__init__(fmt)
        self._credentials = credentials

    def format(self, record: logging.LogRecord) -> str:
        return self._credentials.redact(super().format(record))
