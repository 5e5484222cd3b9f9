"""Right-to-left posts read in the right order: an Urdu delivery and a Hindi one rendered by real
Chromium, as a platform shows a post (``dir="auto"``, lines kept), in Noto's Nastaliq and
Devanagari fonts; the positions of a time, a date and a handle read off the screen."""

from __future__ import annotations

import base64
import html
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from publisher.config.settings import Settings, load_settings
from publisher.intake.postfile import parse_post
from publisher.planning.bidi import LRI, PDI, isolate
from publisher.planning.plan import PlannedDelivery, plan
from publisher.planning.render import Renderer
from tests.planning.test_golden import VARS
from tests.support.chromium import DevTools, require_chromium
from tests.support.national import national_config

FONTS = {"ur": "Noto Nastaliq Urdu", "hi": "Noto Sans Devanagari"}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(national_config(tmp_path_factory.mktemp("national")))


def delivery(settings: Settings, template: str, locale: str) -> PlannedDelivery:
    """The Jammu & Kashmir circle's X delivery of the template in the locale."""
    raw = f'template = "{template}"\n[vars]\n{VARS[template]}'.encode()
    request = parse_post(raw, "jammu-kashmir", "p.toml", settings.zone, datetime.now(UTC),
                         timedelta(0))  # fmt: skip
    planned = plan(request, settings, Renderer.from_settings(settings)).deliveries
    return next(d for d in planned if d.locale == locale and d.account.platform == "x")


def test_isolates_wrap_each_left_to_right_piece_of_urdu(settings: Settings) -> None:
    text = delivery(settings, "service-announcement", "ur").parts[0].text
    assert f"{LRI}9:00 AM{PDI}" in text
    assert f"{LRI}Kolkata GPO{PDI}" in text
    assert f"\n\n{LRI}@DirectoratePo" in text  # the line of mentions, isolated whole
    assert text.count(LRI) == text.count(PDI)
    hindi = delivery(settings, "service-announcement", "hi").parts[0].text
    assert LRI not in hindi  # left-to-right languages need none
    assert isolate("@DirectoratePofice 9:00 AM") == f"{LRI}@DirectoratePofice 9:00 AM{PDI}"


class Page:
    """A post as a platform shows it, in a browser: one element, direction from its text."""

    def __init__(self, chromium: DevTools, folder: Path, text: str, locale: str) -> None:
        page = folder / f"{locale}-{len(text)}.html"
        page.write_text(
            f'<!doctype html><meta charset="utf-8"><body style="margin:20px">'
            f'<div id="post" dir="auto" lang="{locale}" style="white-space:pre-wrap;'
            f"width:1400px;font:22px/1.8 '{FONTS[locale]}'\">{html.escape(text)}</div>",
            encoding="utf-8",
        )
        chromium.open(page.as_uri())
        chromium.send(
            "Emulation.setDeviceMetricsOverride",
            width=1440,
            height=400,
            deviceScaleFactor=1,
            mobile=False,
        )
        chromium.evaluate("document.fonts.ready.then(() => true)")
        self.chromium = chromium
        self.text = text

    def font_used(self) -> bool:
        name = FONTS[self.chromium.evaluate("document.getElementById('post').lang")]
        return bool(self.chromium.evaluate(f"document.fonts.check('22px \"{name}\"')"))

    def left(self, piece: str, after: int = 0) -> tuple[float, float]:
        """Where the first occurrence of ``piece`` (from ``after``) is drawn: its top, its left."""
        start = self.text.index(piece, after)
        box = json.loads(
            self.chromium.evaluate(
                "(() => { const node = document.getElementById('post').firstChild;"
                " const range = document.createRange();"
                f" range.setStart(node, {start}); range.setEnd(node, {start + len(piece)});"
                " const b = range.getBoundingClientRect();"
                " return JSON.stringify([b.top, b.left]); })()"
            )
        )
        return box[0], box[1]

    def reads_left_to_right(self, *pieces: str) -> bool:
        """Whether the pieces, in this order in the text, are drawn left to right on one line."""
        spots, after = [], 0
        for piece in pieces:
            spots.append(self.left(piece, after))
            after = self.text.index(piece, after) + len(piece)
        return len({top for top, _ in spots}) == 1 and [x for _, x in spots] == sorted(
            x for _, x in spots
        )

    def screenshot(self, path: Path) -> None:
        shot = self.chromium.send("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))


def test_urdu_and_hindi_posts_read_in_order_on_screen(settings: Settings, tmp_path: Path) -> None:
    require_chromium(*FONTS.values())
    urdu = delivery(settings, "service-announcement", "ur").parts[0].text
    hindi = delivery(settings, "service-announcement", "hi").parts[0].text
    chromium = DevTools(tmp_path / "profile")
    try:
        page = Page(chromium, tmp_path, urdu, "ur")
        assert page.font_used()
        page.screenshot(tmp_path / "urdu.png")
        assert (tmp_path / "urdu.png").stat().st_size > 5000
        # A time and a handle read left to right inside the right-to-left line...
        assert page.reads_left_to_right("9", ":00", "AM")
        assert page.reads_left_to_right("@", "DirectoratePo")
        # ...the date reads right to left: day, month, year.
        day, month, year = "4", "جنوری", "2030"
        spots = [page.left(day), page.left(month), page.left(year)]
        assert spots[0][1] > spots[1][1] > spots[2][1], spots

        # The same text without its isolates goes wrong, as a reader would see it.
        bare = Page(chromium, tmp_path, urdu.replace(LRI, "").replace(PDI, ""), "ur")
        assert not bare.reads_left_to_right("9", ":00", "AM")
        assert not bare.reads_left_to_right("@", "DirectoratePo")

        page = Page(chromium, tmp_path, hindi, "hi")
        assert page.font_used()
        page.screenshot(tmp_path / "hindi.png")
        assert page.reads_left_to_right("4", "जनवरी", "2030")
        assert page.reads_left_to_right("@", "DirectoratePo")
    finally:
        chromium.close()
