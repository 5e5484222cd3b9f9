"""Golden files: every example template, in every catalog language, on every platform, exactly as
it would be published (parts and tags). Regenerate after an intended change with

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/planning/test_golden.py

and read the diff before committing it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from publisher.config.settings import Settings, load_settings
from publisher.intake.postfile import parse_post
from publisher.planning.bidi import LRI, PDI
from publisher.planning.catalogs import Catalogs
from publisher.planning.plan import plan
from publisher.planning.preview import parts_lines
from publisher.planning.render import Renderer
from tests.support.files import REPO

GOLDEN = Path(__file__).parent / "golden"
LANGUAGES = Catalogs(REPO / "templates").languages()
VARS = {
    "savings-scheme": 'scheme = "Sukanya Samriddhi Yojana"\nrate = 8.2\nmin_deposit = 250\n',
    "service-announcement": (
        'service = "Aadhaar Seva Kendra"\noffice = "Kolkata GPO"\nstart_date = 2030-01-04\n'
        "opens_at = 09:00:00\ncloses_at = 17:00:00\n"
    ),
    "philately-event": (
        'event = "MAHAPEX 2030"\nvenue = "Nehru Centre, Mumbai"\nstart_date = 2030-01-15\n'
        "end_date = 2030-01-17\n"
    ),
    "fake-news-clarification": 'platform = "WhatsApp"\nurl = "www.indiapost.gov.in"\n',
}


def published(settings: Settings, template: str, unit: str) -> str:
    """What each of the unit's accounts would publish, in each of its languages, by language
    then platform; the isolates around left-to-right pieces of Urdu made visible."""
    raw = f'template = "{template}"\n[vars]\n{VARS[template]}'.encode()
    request = parse_post(raw, unit, "golden.toml", settings.zone, datetime.now(UTC), timedelta(0))
    planned = plan(request, settings, Renderer.from_settings(settings))
    out = [f"skipped: {note}" for note in planned.skipped]
    order = {language: i for i, language in enumerate(LANGUAGES)}
    for d in sorted(planned.deliveries, key=lambda d: order[d.locale]):
        out.append(f"== {template} / {d.locale} / {d.account.platform} @{d.account.handle} ==")
        out.extend(parts_lines(d.parts, d.notes, indent=""))
        out.append("")
    return "\n".join(out).replace(LRI, "<LRI>").replace(PDI, "<PDI>")


def check(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 to create it"
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


@pytest.fixture
def every_language(config_path: Path) -> Settings:
    """The example config, its Haryana accounts posting in every language with a catalog."""
    quoted = ", ".join(f'"{language}"' for language in LANGUAGES)
    text = config_path.read_text(encoding="utf-8")
    text = text.replace('locales = ["hi", "en"]', f"locales = [{quoted}]")
    text = text.replace('locales = ["hi"]', f"locales = [{quoted}]")
    config_path.write_text(text, encoding="utf-8")
    return load_settings(config_path)


@pytest.mark.parametrize("template", sorted(VARS))
def test_every_template_in_every_language_on_every_platform(
    every_language: Settings, template: str
) -> None:
    assert sorted(VARS) == Catalogs(REPO / "templates").template_names()  # each needs a golden
    assert {"as", "bn", "gu", "hi", "kn", "ml", "mr", "or", "pa", "ta", "te", "ur", "en"} <= set(
        LANGUAGES
    )
    actual = published(every_language, template, "haryana")
    assert "skipped" not in actual
    check(f"{template}.txt", actual)


def test_overflow_with_twenty_four_circles(config_path: Path) -> None:
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
    actual = published(settings, "savings-scheme", "haryana")
    assert "└─ reply 1:" in actual and "└─ first comment:" in actual
    check("overflow-24-circles.txt", actual)
