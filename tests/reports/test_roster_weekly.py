"""The roster from the example config, and the weekly compliance report received by a mail
server; its configuration refused clearly when wrong."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from publisher.config.credentials import Credentials
from publisher.config.settings import load_settings
from publisher.errors import ConfigError
from publisher.reports.weekly import send_weekly
from publisher.service.daemon import METRICS_JOB, SWEEP, WEEKLY_RETRY_JOB, Daemon
from publisher.service.engine import Engine
from publisher.service.periodic import WEEKLY_JOB, WEEKLY_RETRY_MINUTES
from tests.fakes.smtp import FakeSMTP
from tests.support.clock import FakeClock
from tests.support.daemons import wait_until
from tests.support.files import Drop
from tests.support.mail import set_weekly, weekly_mail, with_mail
from tests.support.processes import publisher


def test_roster_csv_lists_every_officer_and_account(config_path: Path) -> None:
    run = publisher("roster", "--format", "csv", config=config_path)
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    settings = load_settings(config_path)
    assert len(rows) == len(settings.accounts()) == 15
    haryana = [r for r in rows if r["unit"] == "haryana"]
    assert {r["platform"]: r["account"] for r in haryana} == {
        "x": "@HaryanaPostal",
        "facebook": "@HaryanaPostalCircle",
        "instagram": "@haryanapostalcircle",
    }
    first = haryana[0]
    assert (first["officer"], first["designation"], first["email"], first["phone"]) == (
        "R. K. Yadav",
        "Assistant Director (Marketing)",
        "marketing.hr@indiapost.gov.in",
        "+91-172-270-0000",
    )
    assert haryana[1]["url"] == "https://www.facebook.com/HaryanaPostalCircle"
    assert haryana[2]["languages"] == "hi"


def test_roster_html_is_one_page_per_unit_section(config_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "roster.html"
    run = publisher("roster", "--format", "html", "--output", str(out), config=config_path)
    assert run.returncode == 0, run.stderr
    page = out.read_text(encoding="utf-8")
    assert page.count("<section data-unit=") == 5
    assert '<span class="name">K. Meenakshi</span>' in page
    assert "bd.tn@indiapost.gov.in" in page
    assert '<tr data-account="instagram:tnpostalcircle">' in page
    assert "<script" not in page and "<link" not in page


def test_weekly_report_reaches_the_directorates_cell(
    config_path: Path, drop: Drop, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    login = '{"username": "publisher", "password": "smtp-pass"}'
    monkeypatch.setenv("PUBLISHER_CREDENTIAL_SMTP_REPORT", login)
    with FakeSMTP(starttls=True, user="publisher", password="smtp-pass") as smtp:
        set_weekly(
            config_path,
            '{ day = "monday", time = "09:00", to = ["cell@indiapost.gov.in", '
            '"ddg@indiapost.gov.in"], credential = "smtp-report" }',
        )
        config_path.write_text(
            config_path.read_text(encoding="utf-8")
            + f'[platforms.email]\nhost = "{smtp.host}"\nport = {smtp.port}\n'
            + f'sender = "social@indiapost.gov.in"\nca_file = "{smtp.cert_path}"\n',
            encoding="utf-8",
        )
        settings = load_settings(config_path)
        engine = Engine(settings, dry_run=True, clock=clock).start()
        drop("haryana", "p.toml", '[text]\nhi = "नए डाक टिकट"\nen = "New stamps"\n')
        engine.tick()  # 5 dry-run deliveries: x and facebook in hi and en, instagram in hi
        clock.advance(days=1)
        message = send_weekly(settings, engine.ledger, Credentials(None), clock())
        [received] = smtp.messages
    assert received.rcpt_tos == ["cell@indiapost.gov.in", "ddg@indiapost.gov.in"]
    assert (received.tls, received.login) == (True, "publisher")
    got = received.message
    yesterday = (clock() - timedelta(days=1)).astimezone(settings.zone).date()
    assert got["Subject"].strip() == (  # a long subject is folded
        f"Department of Posts: weekly compliance report, {yesterday - timedelta(days=6)} "
        f"to {yesterday}"
    )
    body = got.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Haryana Postal Circle (haryana): 5 posts, tags complete on 5 of 5, 0 failures" in text
    assert "silent: x:IndiaPostOffice, no post at all" in text
    [attachment] = list(got.iter_attachments())
    assert attachment.get_filename() == f"report-{yesterday - timedelta(days=6)}-{yesterday}.html"
    html = attachment.get_content()
    assert '<tr data-unit="haryana">' in html
    assert '<td class="n" data-field="posts">5</td>' in html
    assert message["Message-ID"] == got["Message-ID"]


@pytest.mark.parametrize(
    ("weekly", "where", "says"),
    [
        ('{ day = "mon", time = "09:00", to = ["a@b.in"] }', "reports.weekly.day", "monday"),
        ('{ day = "monday", time = "9am", to = ["a@b.in"] }', "reports.weekly.time", "pattern"),
        ('{ day = "monday", time = "09:00", to = [] }', "reports.weekly.to", "at least 1"),
        ('{ day = "monday", time = "09:00", to = ["cell"] }', "reports.weekly.to", "pattern"),
    ],
)
def test_a_bad_weekly_setting_stops_start_up_naming_the_key(
    config_path: Path, weekly: str, where: str, says: str
) -> None:
    set_weekly(config_path, weekly)
    with pytest.raises(ConfigError) as caught:
        load_settings(config_path)
    [problem] = caught.value.problems
    assert problem.where.startswith(where)
    assert says in str(problem)


def test_the_daemon_sends_it_on_its_day_and_time_and_tries_again_when_the_server_is_busy(
    config_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with weekly_mail(config_path, monkeypatch) as (smtp, settings):
        engine = Engine(settings, dry_run=True, clock=clock).start()
        daemon = Daemon(engine, reload=lambda: engine)
        daemon._schedule_periodic()
        job = daemon._scheduler.get_job(WEEKLY_JOB)
        monday = datetime(2026, 11, 30, 9, 0, tzinfo=settings.zone)  # a Monday
        assert job.trigger.get_next_fire_time(None, monday - timedelta(days=2)) == monday
        assert job.trigger.get_next_fire_time(None, monday + timedelta(minutes=1)) == monday + (
            timedelta(days=7)
        )

        clock.now = monday.astimezone(UTC)
        smtp.fail_next(451, stage="MAIL")  # busy: try later
        job.func(*job.args)  # what the scheduler does on Monday at 09:00
        assert smtp.messages == []
        retry = daemon._scheduler.get_job(WEEKLY_RETRY_JOB)  # every minute, due or not
        clock.advance(minutes=WEEKLY_RETRY_MINUTES - 1)
        retry.func(*retry.args)
        assert smtp.messages == []
        clock.advance(minutes=1)
        retry.func(*retry.args)
        [received] = smtp.messages
    assert "weekly compliance report" in received.message["Subject"]


def test_the_weekly_report_goes_out_even_when_the_scheduler_wakes_late_for_it(
    config_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loaded machine or a paused VM can wake APScheduler's thread seconds after 09:00;
    APScheduler skips by default a run more than a second late, and the week's report with it."""
    with weekly_mail(config_path, monkeypatch) as (smtp, settings):
        engine = Engine(settings, dry_run=True, clock=clock).start()
        daemon = Daemon(engine, reload=lambda: engine)
        daemon._schedule_periodic()
        for other in (SWEEP, METRICS_JOB, WEEKLY_RETRY_JOB):
            daemon._scheduler.remove_job(other)
        clock.now = datetime(2026, 11, 30, 9, 0, tzinfo=settings.zone).astimezone(UTC)
        daemon._scheduler.start()
        try:  # the scheduler's thread wakes for 09:00 five seconds after it
            daemon._scheduler.modify_job(
                WEEKLY_JOB, next_run_time=datetime.now(UTC) - timedelta(seconds=5)
            )
            wait_until("the weekly report was sent", lambda: len(smtp.messages) == 1, 30)
        finally:
            daemon._scheduler.shutdown()
    assert "weekly compliance report" in smtp.messages[0].message["Subject"]


def test_a_weeks_report_sent_again_carries_its_message_id_and_one_by_hand_a_new_one(
    config_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a crash between the mail server's acceptance and the ledger's record, another
    daemon sends the week's report again (periodic.py): the same Message-ID lets a receiving
    system recognise the copy. Another week, or a person's ``report --email``, is a new message."""
    with weekly_mail(config_path, monkeypatch) as (smtp, settings):
        ledger = Engine(settings, dry_run=True, clock=clock).start().ledger
        due = clock()
        send_weekly(settings, ledger, Credentials(None), due)
        send_weekly(settings, ledger, Credentials(None), due + timedelta(hours=2), fired=due)
        send_weekly(settings, ledger, Credentials(None), due + timedelta(days=7))
        for _ in range(2):
            run = publisher("report", "--from", "2026-11-01", "--to", "2026-11-07", "--email",
                            config=config_path)  # fmt: skip
            assert run.returncode == 0, run.stderr
        ids = [str(m.message["Message-ID"]) for m in smtp.messages]
    assert ids[0] == ids[1]
    assert len(set(ids)) == 4  # the copy alone shares its Message-ID


def test_report_email_sends_any_window_by_hand(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeSMTP(starttls=True, user="publisher", password="smtp-pass") as smtp:
        with_mail(config_path, smtp, monkeypatch)
        run = publisher("report", "--from", "2026-11-01", "--to", "2026-11-30", "--email",
                        config=config_path)  # fmt: skip
        [received] = smtp.messages
    assert run.returncode == 0, run.stderr
    assert run.stdout == "report 2026-11-01 to 2026-11-30 sent to cell@indiapost.gov.in\n"
    subject = received.message["Subject"].strip()
    assert subject == "Department of Posts: report, 2026-11-01 to 2026-11-30"
