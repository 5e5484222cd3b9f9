"""Golden files: every example template, in every catalog language, on every platform, exactly as
it would be published (parts and tags). Regenerate after an intended change with

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/planning/test_golden.py

and read the diff before committing it.
"""

from __future__ import annotations

import os
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest

from publisher.config.settings import Settings, load_settings
from publisher.planning.fit import fit
from publisher.planning.preview import parts_lines
from publisher.planning.render import Renderer
from publisher.planning.tags import mentions
from tests.support.files import REPO

GOLDEN = Path(__file__).parent / "golden"
LOCALES = ("en", "hi", "ta", "bn", "mr")
PLATFORMS = ("x", "facebook", "instagram")
VARS: dict[str, dict[str, Any]] = {
    "savings-scheme": {"scheme": "Sukanya Samriddhi Yojana", "rate": 8.2, "min_deposit": 250},
    "service-announcement": {
        "service": "Aadhaar Seva Kendra",
        "office": "Kolkata GPO",
        "start_date": date(2030, 1, 4),
        "opens_at": time(9),
        "closes_at": time(17),
    },
    "philately-event": {
        "event": "MAHAPEX 2030",
        "venue": "Nehru Centre, Mumbai",
        "start_date": date(2030, 1, 15),
        "end_date": date(2030, 1, 17),
    },
    "fake-news-clarification": {"platform": "WhatsApp", "url": "www.indiapost.gov.in"},
}


def published(settings: Settings, renderer: Renderer, template: str, unit: str) -> str:
    """What the unit's account on each platform would publish, in each language."""
    out = []
    for locale in LOCALES:
        rendered = renderer.render(template, locale, VARS[template])
        for platform in PLATFORMS:
            account = next(a for a in settings.units[unit].accounts if a.platform == platform)
            tags, required = mentions(settings, account)
            parts = fit(platform, rendered.text, tags, required)
            out.append(f"== {template} / {locale} / {platform} @{account.handle} ==")
            out.extend(parts_lines(parts, rendered.fallbacks, indent=""))
            out.append("")
    return "\n".join(out)


def check(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 to create it"
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


@pytest.fixture
def renderer(settings: Settings, tmp_path: Path) -> Renderer:
    return Renderer(
        REPO / "templates", tmp_path / "catalogs", settings.zone, "IN", settings.content.chain
    )


@pytest.mark.parametrize("template", sorted(VARS))
def test_every_template_in_every_language_on_every_platform(
    settings: Settings, renderer: Renderer, template: str
) -> None:
    assert sorted(VARS) == renderer.template_names()  # a new template needs its golden file
    check(f"{template}.txt", published(settings, renderer, template, "haryana"))


def test_overflow_with_twenty_four_circles(config_path: Path, renderer: Renderer) -> None:
    """A national deployment: the directorate and 24 circles to tag. X threads the overflow into
    replies, Instagram into the first comment, Facebook keeps all in the post."""
    text = config_path.read_text(encoding="utf-8")
    extra = [f"circle-{n:02d}" for n in range(1, 21)]
    text = text.replace(
        '"west-bengal", "maharashtra"]',
        '"west-bengal", "maharashtra", ' + ", ".join(f'"{u}"' for u in extra) + "]",
    )
    for n, unit in enumerate(extra, 1):
        text += f"""
[units.{unit}]
name = "Postal Circle {n}"
nodal_officer = {{ name = "N {n}", designation = "ADM", email = "c{n}@ip.gov.in", phone = "1" }}
accounts = [
  {{ platform = "x", handle = "Circle{n:02d}Post", locales = ["en"] }},
  {{ platform = "facebook", handle = "Circle{n:02d}PostOffice", locales = ["en"] }},
  {{ platform = "instagram", handle = "circle{n:02d}post", locales = ["en"] }},
]
"""
    config_path.write_text(text, encoding="utf-8")
    settings = load_settings(config_path)
    actual = published(settings, renderer, "savings-scheme", "haryana")
    assert "└─ reply 1:" in actual and "└─ first comment:" in actual
    check("overflow-24-circles.txt", actual)
