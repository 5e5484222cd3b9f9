"""The HTML report as a person sees it: rendered by headless Chromium, its numbers read off the
page and checked against the ledger the test built; sorting through the address's #sort=."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.support.chromium import CHROMIUM, FLAGS, DevTools, require_chromium
from tests.support.clock import FakeClock
from tests.support.files import Drop
from tests.support.live import Live, live, publish_scenario
from tests.support.processes import publisher


@pytest.fixture(scope="module", autouse=True)
def chromium() -> None:
    require_chromium()


def rendered(page: Path, tmp_path: Path, fragment: str = "") -> str:
    """The DOM after Chromium has loaded the page and run its script."""
    profile = tmp_path / f"chromium-profile{len(fragment)}"
    run = subprocess.run(
        [
            str(CHROMIUM),
            *FLAGS,
            f"--user-data-dir={profile}",
            "--dump-dom",
            page.as_uri() + fragment,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


class Cells(HTMLParser):
    """Text of every cell carrying data-field, by its row's data-unit / data-account, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, str]] = {}
        self.order: list[str] = []
        self.days: dict[tuple[str, str], str] = {}
        self._row: str | None = None
        self._day: str | None = None
        self._cell: tuple[str, ...] | None = None
        self._text = ""
        self.network: list[dict[str, str | None]] = []  # any src or href that would load something

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "img", "link", "iframe") and (a.get("src") or a.get("href")):
            self.network.append(a)
        if tag == "tr":
            self._row = a.get("data-account") or a.get("data-unit")
            self._day = a.get("data-day")
            if a.get("data-account"):
                self.order.append(a["data-account"] or "")
        if tag == "td" and self._row and a.get("data-field"):
            self._cell, self._text = (self._row, a["data-field"] or ""), ""
        if tag == "td" and self._day and a.get("data-unit"):
            self._cell, self._text = ("day", self._day, a["data-unit"] or ""), ""

    def handle_data(self, data: str) -> None:
        if self._cell:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell:
            if self._cell[0] == "day":
                self.days[self._cell[1], self._cell[2]] = self._text.strip()
            else:
                self.rows.setdefault(self._cell[0], {})[self._cell[1]] = self._text.strip()
            self._cell = None


@pytest.fixture
def page(
    config_path: Path, clock: FakeClock, drop: Drop, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, Live]]:
    with live(config_path, clock, monkeypatch) as h:
        publish_scenario(h, drop)
        today = clock().astimezone(h.settings.zone).date().isoformat()
        out = config_path.parent / "report.html"
        run = publisher("report", "--from", today, "--to", today, "--format", "html",
                        "--output", str(out), config=config_path)  # fmt: skip
        assert run.returncode == 0, run.stderr
        yield out, h


def test_the_numbers_on_the_rendered_page_match_the_ledger(
    page: tuple[Path, Live], tmp_path: Path
) -> None:
    path, h = page
    cells = Cells()
    cells.feed(rendered(path, tmp_path))
    assert cells.network == []  # self-contained: nothing to fetch
    units = rows = cells.rows  # units and accounts are keyed apart (unit id, platform:handle)
    assert units["haryana"]["posts"] == "3"
    assert units["haryana"]["tag_compliant"] == "2 of 3"
    assert units["haryana"]["likes"] == "16"
    assert units["tamil-nadu"]["posts"] == "1"
    assert units["tamil-nadu"]["failures"] == "1"
    assert units["maharashtra"]["posts"] == "0"
    assert rows["x:HaryanaPostal"]["posts"] == "2"
    assert rows["x:HaryanaPostal"]["likes"] == "12"
    assert rows["x:HaryanaPostal"]["views"] == "100"
    assert rows["x:HaryanaPostal"]["likes_per_post"] == "6"
    assert rows["x:HaryanaPostal"]["tags"] == "50 (1 of 2)"
    assert rows["facebook:HaryanaPostalCircle"]["shares"] == "2"
    assert rows["facebook:TamilNaduPostalCircle"]["failures"] == "1"
    assert rows["x:TNPostalCircle"]["shares"] == "1"
    today = h.engine.clock().astimezone(h.settings.zone).date().isoformat()
    assert cells.days[today, "haryana"] == "3"
    assert cells.days[today, "tamil-nadu"] == "1"
    # the chart draws the same figures
    dom = rendered(path, tmp_path, "#")
    assert f"<title>haryana {today}: 3</title>" in dom
    assert re.search(r'<polyline data-unit="tamil-nadu"', dom)


def test_clicking_a_heading_sorts_the_accounts_table(
    page: tuple[Path, Live], tmp_path: Path
) -> None:
    path, _ = page
    chromium = DevTools(tmp_path / "devtools-profile")
    try:
        chromium.open(path.as_uri())
        column = "Array.from(document.querySelectorAll('#accounts tbody tr'), r => r.dataset.{})"
        in_config_order = chromium.evaluate(column.format("account"))
        chromium.click('th[data-key="posts"]')
        ascending = chromium.evaluate(
            "Array.from(document.querySelectorAll('#accounts tbody td[data-field=posts]'),"
            " c => Number(c.textContent))"
        )
        chromium.click('th[data-key="posts"]')
        descending = chromium.evaluate(column.format("account"))
        address = chromium.evaluate("location.hash")
    finally:
        chromium.close()
    assert in_config_order[0] == "x:IndiaPostOffice"
    assert ascending == sorted(ascending)
    assert ascending[-1] == 2
    assert descending[0] == "x:HaryanaPostal"  # the only account with 2 posts
    assert address == "#sort=posts-desc"  # a link to the page opens it sorted so


def test_an_address_with_sort_opens_the_table_sorted(
    page: tuple[Path, Live], tmp_path: Path
) -> None:
    path, _ = page
    by_posts = Cells()
    by_posts.feed(rendered(path, tmp_path, "#sort=posts-desc"))
    posts = [int(by_posts.rows[a]["posts"]) for a in by_posts.order]
    assert posts == sorted(posts, reverse=True)
    assert by_posts.order[0] == "x:HaryanaPostal"
    by_likes = Cells()
    by_likes.feed(rendered(path, tmp_path, "#sort=likes-asc"))
    likes = [by_likes.rows[a]["likes"] for a in by_likes.order]
    measured = [int(v) for v in likes if v != "-"]
    assert likes[: likes.count("-")] == ["-"] * likes.count("-")  # no figure sorts first
    assert measured == sorted(measured) == [1, 4, 12]
