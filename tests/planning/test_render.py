"""Templates render per locale with Indian formatting; the tag policy applies per platform."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError

from publisher.errors import RenderError
from publisher.planning.render import Renderer
from publisher.planning.tags import mentions
from tests.support.files import REPO


@pytest.fixture
def renderer(tmp_path: Path, settings) -> Renderer:
    return Renderer(REPO / "templates", settings.zone, "IN")


def test_numbers_use_indian_grouping_and_the_rupee(renderer: Renderer) -> None:
    text = renderer.render(
        "savings-scheme", "en", {"scheme": "PPF", "rate": 7.1, "min_deposit": 210000}
    )
    assert "₹2,10,000" in text
    assert "7.1%" in text


def test_dates_are_written_in_the_accounts_language(renderer: Renderer) -> None:
    variables = {
        "service": "Aadhaar Seva Kendra",
        "office": "Kolkata GPO",
        "start_date": date(2030, 1, 4),
        "opens_at": time(9),
        "closes_at": time(17),
    }
    assert "4 January 2030" in renderer.render("service-announcement", "en", variables)
    assert "4 जनवरी 2030" in renderer.render("service-announcement", "hi", variables)
    assert "জানুয়ারী" in renderer.render("service-announcement", "bn", variables)
    assert "4 జనవరి, 2030" in renderer.render("service-announcement", "te", variables)


def test_a_catalog_is_read_from_its_po_file_each_time_a_renderer_is_built(
    tmp_path: Path, settings
) -> None:
    """An edited catalog is used by the next renderer (a reload builds one); a deleted one is not
    used at all: there is no compiled copy that could outlive it."""
    templates = tmp_path / "templates"
    (templates / "locale" / "hi" / "LC_MESSAGES").mkdir(parents=True)
    (templates / "hello.j2").write_text("{% trans %}Hello{% endtrans %}", encoding="utf-8")
    po = templates / "locale" / "hi" / "LC_MESSAGES" / "messages.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Hello"\nmsgstr "नमस्ते"\n',
        encoding="utf-8",
    )

    def hello() -> str:
        return Renderer(templates, settings.zone, "IN").render("hello", "hi", {})

    assert hello() == "नमस्ते"
    po.write_text(po.read_text(encoding="utf-8").replace("नमस्ते", "नमस्कार"), encoding="utf-8")
    assert hello() == "नमस्कार"
    po.unlink()
    assert hello() == "Hello"
    assert not Renderer(templates, settings.zone, "IN").catalogs.coverage("hello", "hi").complete
    assert list(tmp_path.rglob("*.mo")) == []


def test_templates_are_sandboxed(tmp_path: Path, settings) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "evil.j2").write_text("{{ x.__class__.__mro__ }}", encoding="utf-8")
    with pytest.raises(SecurityError):
        Renderer(templates, settings.zone, "IN").render("evil", "en", {"x": "s"})


def test_missing_variable_is_named(renderer: Renderer) -> None:
    with pytest.raises(RenderError, match="'url' is undefined"):
        renderer.render("fake-news-clarification", "ta", {"platform": "SMS"})


def test_policy_tags_directorate_first_never_self_never_twice(settings) -> None:
    haryana_x = next(a for a in settings.units["haryana"].accounts if a.platform == "x")
    got, required = mentions(settings, haryana_x, ["MoC_GoI", "PhilatelyIndia"])
    assert required == ["IndiaPostOffice"]
    assert got[0] == "IndiaPostOffice"
    assert "HaryanaPostal" not in got
    assert got.count("MoC_GoI") == 1
    assert got[-1] == "PhilatelyIndia"


def test_the_directorate_does_not_tag_itself(settings) -> None:
    directorate_fb = settings.units["directorate"].accounts[1]
    got, required = mentions(settings, directorate_fb)
    assert required == []
    assert "PostOffice.IN" not in got
    assert got[:4] == [
        "TamilNaduPostalCircle",
        "HaryanaPostalCircle",
        "WestBengalPostalCircle",
        "MaharashtraPostalCircle",
    ]
