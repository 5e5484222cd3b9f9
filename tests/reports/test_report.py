"""The report's numbers against ledgers built through the real engine: a dry run across days for
silences, and real publishing against the fake platforms for tags, failures and KPIs."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from publisher.config.settings import load_settings
from publisher.reports.export import as_dict, report_csv
from publisher.reports.report import build_report
from publisher.service.engine import Engine
from tests.support.clock import FakeClock
from tests.support.files import Drop
from tests.support.live import Live, live, publish_scenario
from tests.support.processes import publisher

POST = 'platforms = ["x"]\nlocales = ["hi"]\n[text]\nhi = "नए डाक टिकट {n}"\n'


def test_silences_over_days_of_a_dry_run(engine: Engine, drop: Drop, clock: FakeClock) -> None:
    zone = engine.settings.zone
    first = clock().astimezone(zone).date()
    start = clock()
    for n, wait in enumerate([0, 3, 1]):  # posts on day 0, day 3 and day 4
        clock.advance(days=wait)
        drop("haryana", f"p{n}.toml", POST.format(n=n))
        engine.tick()
    clock.advance(days=2)  # the report is read two days after the last post
    with engine.ledger() as session:
        report = build_report(session, engine.settings, first, first + timedelta(days=6), clock())
    data = as_dict(report)
    [haryana] = [u for u in data["units"] if u["unit"] == "haryana"]
    accounts = {a["account"]: a for a in haryana["accounts"]}
    x = accounts["x:HaryanaPostal"]
    assert (x["posts"], x["posts_by_language"]) == (3, {"hi": 3})
    assert x["days_since_last_post"] == 2.0
    assert x["longest_silence_days"] == 3.0  # between day 0 and day 3
    assert (x["tag_checked"], x["tag_compliant"]) == (3, 3)
    facebook = accounts["facebook:HaryanaPostalCircle"]
    assert (facebook["posts"], facebook["last_post"], facebook["days_since_last_post"]) == (
        0,
        None,
        None,
    )
    # never posted: silent from the window's start (local midnight of day 0) up to now
    local_midnight = start.astimezone(zone).replace(hour=0, minute=0, second=0)
    silent = round((clock() - local_midnight).total_seconds() / 86400, 1)
    assert facebook["longest_silence_days"] == silent
    per_day = haryana["posts_per_day"]
    assert [per_day[(first + timedelta(days=d)).isoformat()] for d in range(7)] == [
        1, 0, 0, 1, 1, 0, 0,
    ]  # fmt: skip
    assert haryana["posts_by_platform"] == {"x": 3}
    rows = {r["account"]: r for r in csv.DictReader(io.StringIO(report_csv(report)))}
    assert rows["HaryanaPostal"]["posts"] == "3"
    assert rows["HaryanaPostal"]["longest_silence_days"] == "3.0"
    assert rows["HaryanaPostalCircle"]["days_since_last_post"] == ""


@pytest.fixture
def published(
    config_path: Path, clock: FakeClock, drop: Drop, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Live]:
    with live(config_path, clock, monkeypatch) as h:
        publish_scenario(h, drop)
        yield h


def test_retweets_are_counted_as_amplified_not_as_posts(
    config_path: Path, drop: Drop, clock: FakeClock
) -> None:
    with config_path.open("a", encoding="utf-8") as config:
        config.write('\n[[amplify]]\nsources = ["directorate"]\ntargets = ["all"]\n')
        config.write('platforms = ["x"]\n')
    engine = Engine(load_settings(config_path), dry_run=True, clock=clock).start()
    day = clock().astimezone(engine.settings.zone).date()
    drop(
        "directorate",
        "notice.toml",
        'platforms = ["x"]\nlocales = ["en"]\n[text]\nen = "New stamps"\n',
    )
    engine.tick()
    clock.advance(minutes=1)
    with engine.ledger() as session:
        data = as_dict(build_report(session, engine.settings, day, day, clock()))
    units = {u["unit"]: u for u in data["units"]}
    circle = {a["account"]: a for a in units["haryana"]["accounts"]}["x:HaryanaPostal"]
    assert (circle["posts"], circle["amplified"]) == (0, 1)
    directorate = {a["account"]: a for a in units["directorate"]["accounts"]}
    assert (directorate["x:IndiaPostOffice"]["posts"], units["directorate"]["amplified"]) == (1, 0)
    assert sum(u["amplified"] for u in data["units"]) == 4  # every circle's X account, once


def test_report_csv_and_json_from_real_publishing(published: Live, config_path: Path) -> None:
    today = published.engine.clock().astimezone(published.settings.zone).date().isoformat()
    run = publisher("report", "--from", today, "--to", today, "--format", "csv",
                    config=config_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    rows = {(r["unit"], r["platform"]): r for r in csv.DictReader(io.StringIO(run.stdout))}
    x = rows["haryana", "x"]
    assert (x["posts"], x["tag_checked"], x["tag_compliant"]) == ("2", "2", "1")
    assert (x["likes"], x["views"], x["measured_posts"], x["likes_per_post"]) == (
        "12", "100", "2", "6.0",
    )  # fmt: skip
    facebook = rows["haryana", "facebook"]
    assert (facebook["posts"], facebook["likes"], facebook["shares"]) == ("1", "4", "2")
    failed = rows["tamil-nadu", "facebook"]
    assert (failed["posts"], failed["failures"]) == ("0", "1")
    assert "Graph API error 368" in failed["failure_causes"]
    tn_x = rows["tamil-nadu", "x"]
    assert (tn_x["posts"], tn_x["likes"], tn_x["shares"]) == ("1", "1", "1")
    assert rows["maharashtra", "x"]["posts"] == "0"

    run = publisher("report", "--from", today, "--to", today, "--unit", "haryana",
                    "--format", "json", config=config_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    [haryana] = data["units"]
    assert (haryana["posts"], haryana["posts_by_platform"]) == (3, {"x": 2, "facebook": 1})
    assert (haryana["tag_checked"], haryana["tag_compliant"], haryana["failures"]) == (3, 2, 0)
    assert haryana["kpis"]["likes"] == 16
    x_posts = {p["post"]: p for p in haryana["accounts"][0]["posts_list"]}
    assert x_posts["haryana/a"]["tag_compliant"] is True
    assert x_posts["haryana/b"]["tag_compliant"] is False
    assert "TNPostalCircle" in x_posts["haryana/b"]["missing_tags"]


def test_bad_report_arguments_are_explained(config_path: Path) -> None:
    backwards = publisher("report", "--from", "2026-11-20", "--to", "2026-11-10",
                          config=config_path)  # fmt: skip
    assert backwards.returncode == 1
    assert "--from must not be after --to" in backwards.stderr
    unknown = publisher("report", "--unit", "kerala", config=config_path)
    assert unknown.returncode == 1
    assert "there is no unit 'kerala'" in unknown.stderr
    not_a_date = publisher("report", "--from", "20/11/2026", config=config_path)
    assert not_a_date.returncode == 2
    assert "'20/11/2026' is not a date; write it as YYYY-MM-DD" in not_a_date.stderr
