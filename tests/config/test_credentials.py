"""Secrets come from systemd, a locked-down file or the environment, and never leave in a log."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from publisher.config.credentials import CredentialError, Credentials, RedactingFormatter

CANARY = "CANARY-7f3a9c1e-token"


def secrets_file(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "secrets.toml"
    path.write_text(f'[x-haryana]\naccess_token = "{CANARY}"\naccess_secret = "s3cret-value"\n')
    path.chmod(mode)
    return path


def test_secrets_file_readable_by_others_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = secrets_file(tmp_path, 0o644)
    with pytest.raises(CredentialError) as err:
        Credentials(path, environ={}).get("x-haryana")
    assert "-rw-r--r--" in str(err.value)
    assert f"chmod 600 {path}" in str(err.value)
    assert CANARY not in str(err.value)


def test_secrets_file_of_the_service_user_alone_is_read(tmp_path: Path) -> None:
    path = secrets_file(tmp_path, 0o600)
    fields = Credentials(path, environ={}).get("x-haryana")
    assert fields == {"access_token": CANARY, "access_secret": "s3cret-value"}


def test_systemd_credentials_directory_comes_first(tmp_path: Path) -> None:
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "x-haryana").write_text('access_token = "from-systemd"\n')
    credentials = Credentials(
        secrets_file(tmp_path, 0o600), environ={"CREDENTIALS_DIRECTORY": str(tmp_path / "creds")}
    )
    assert credentials.get("x-haryana") == {"access_token": "from-systemd"}


def test_environment_variable_holds_json(tmp_path: Path) -> None:
    environ = {"PUBLISHER_CREDENTIAL_X_HARYANA": '{"access_token": "from-env"}'}
    assert Credentials(None, environ=environ).get("x-haryana") == {"access_token": "from-env"}


def test_missing_credential_says_where_to_put_it() -> None:
    with pytest.raises(CredentialError) as err:
        Credentials(None, environ={}).get("facebook-haryana")
    message = str(err.value)
    assert "$CREDENTIALS_DIRECTORY/facebook-haryana" in message
    assert "[facebook-haryana]" in message
    assert "$PUBLISHER_CREDENTIAL_FACEBOOK_HARYANA" in message


def test_redact_masks_known_secrets_and_token_shapes(tmp_path: Path) -> None:
    credentials = Credentials(secrets_file(tmp_path, 0o600), environ={})
    credentials.get("x-haryana")
    line = (
        f"GET https://graph.facebook.com/v21.0/me?access_token=EAAB123xyz&fields=id failed; "
        f'Authorization: OAuth oauth_signature="abc%2Fdef", token {CANARY}'
    )
    masked = credentials.redact(line)
    assert CANARY not in masked
    assert "EAAB123xyz" not in masked
    assert "abc%2Fdef" not in masked
    assert "access_token=***" in masked
    assert "fields=id" in masked


def test_log_lines_and_tracebacks_are_masked(tmp_path: Path) -> None:
    credentials = Credentials(secrets_file(tmp_path, 0o600), environ={})
    credentials.get("x-haryana")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(message)s", credentials))
    log = logging.getLogger("test.redaction")
    log.addHandler(handler)
    try:
        raise RuntimeError(f"request failed with token {CANARY}")
    except RuntimeError:
        log.exception("posting with %s", CANARY)
    finally:
        log.removeHandler(handler)
    output = stream.getvalue()
    assert "RuntimeError: request failed with token ***" in output
    assert CANARY not in output
