"""The weekly report's mail: the example config's report line set, and a fake mail server it
goes through."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from publisher.config.settings import Settings, load_settings
from tests.fakes.smtp import FakeSMTP

WEEKLY_LINE = (
    '# weekly = { day = "monday", time = "09:00", to = ["socialmedia.cell@indiapost.gov.in"] }'
)


def set_weekly(config_path: Path, weekly: str) -> None:
    """The example config's commented weekly report line, set to ``weekly``."""
    text = config_path.read_text(encoding="utf-8")
    assert WEEKLY_LINE in text
    config_path.write_text(text.replace(WEEKLY_LINE, f"weekly = {weekly}"), encoding="utf-8")


def with_mail(config_path: Path, smtp: FakeSMTP, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "PUBLISHER_CREDENTIAL_SMTP_REPORT", '{"username": "publisher", "password": "smtp-pass"}'
    )
    set_weekly(
        config_path,
        '{ day = "monday", time = "09:00", to = ["cell@indiapost.gov.in"], '
        'credential = "smtp-report" }',
    )
    config_path.write_text(
        config_path.read_text(encoding="utf-8")
        + f'[platforms.email]\nhost = "{smtp.host}"\nport = {smtp.port}\n'
        + f'sender = "social@indiapost.gov.in"\nca_file = "{smtp.cert_path}"\n',
        encoding="utf-8",
    )


@contextmanager
def weekly_mail(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FakeSMTP, Settings]]:
    """The fake mail server, and the settings of a config.toml that sends the weekly report
    (Mondays at 09:00) through it."""
    with FakeSMTP(starttls=True, user="publisher", password="smtp-pass") as smtp:
        with_mail(config_path, smtp, monkeypatch)
        yield smtp, load_settings(config_path)
