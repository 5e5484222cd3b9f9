"""Every post in the account's own language, with its tags, fitted to each platform: as a nodal
officer and a reviewer meet it, through real post files and the ledger."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select

from publisher.adapters.x import XAdapter
from publisher.config.settings import load_settings
from publisher.oversight.review import review_text
from publisher.planning.fit import reply_lead
from publisher.planning.render import Renderer
from publisher.service.engine import Engine
from publisher.store.models import Delivery
from tests.support.clock import FakeClock
from tests.support.files import REPO, Drop


def note(settings, name: str, unit: str = "haryana") -> str:
    return (settings.paths.queue / unit / "rejected" / f"{name}.error.txt").read_text("utf-8")


def deliveries(engine: Engine) -> list[Delivery]:
    with engine.ledger() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_too_long_for_x_is_refused_with_the_numbers(engine: Engine, drop: Drop, settings) -> None:
    long_hi = "हरियाणा डाक परिमंडल " * 14  # 279 once trimmed; + "\n\n@IndiaPostOffice" = 297
    drop("haryana", "long.toml", f'platforms = ["x"]\n[text]\nhi = "{long_hi}"\nen = "Short."\n')
    [result] = engine.intake.scan()
    assert result.outcome == "rejected"
    text = note(settings, "long.toml")
    assert "line 3, text.hi: on x the message with its required tags (@IndiaPostOffice) is" in text
    assert "weighted characters, over the limit of 280 (hi)" in text
    assert "Cut at least 17 weighted characters, or give x its own shorter text under" in text


def test_a_per_platform_text_is_the_fix(engine: Engine, drop: Drop) -> None:
    long_hi = "हरियाणा डाक परिमंडल " * 14
    drop(
        "haryana",
        "long.toml",
        f'[text]\nhi = "{long_hi}"\nen = "Short."\n'
        '[platform_text.x]\nhi = "हरियाणा डाक परिमंडल: नए डाक टिकट।"\n',
    )
    [result] = engine.intake.scan()
    assert result.outcome == "accepted"
    texts = {(d.platform, d.locale): d.text for d in deliveries(engine)}
    assert texts["x", "hi"].startswith("हरियाणा डाक परिमंडल: नए डाक टिकट।\n\n@IndiaPostOffice")
    assert texts["facebook", "hi"].startswith(long_hi.strip())


def test_x_deliveries_record_their_reply_thread(engine: Engine, drop: Drop) -> None:
    message = "हरियाणा डाक परिमंडल " * 13  # 259: room for the directorate's tag only
    drop(
        "haryana", "thread.toml", f'platforms = ["x"]\nlocales = ["hi"]\n[text]\nhi = "{message}"\n'
    )
    engine.intake.scan()
    [d] = deliveries(engine)
    assert d.parts[0]["kind"] == "post"
    assert d.parts[0]["tags"] == ["IndiaPostOffice"]
    assert [p["kind"] for p in d.parts[1:]] == ["reply"]
    assert [t for p in d.parts for t in p["tags"]] == d.tags
    assert d.text == d.parts[0]["text"]


def test_review_makes_the_thread_plain(engine: Engine, drop: Drop, settings) -> None:
    message = "हरियाणा डाक परिमंडल " * 13
    drop(
        "haryana", "thread.toml", f'platforms = ["x"]\nlocales = ["hi"]\n[text]\nhi = "{message}"\n'
    )
    engine.tick()
    with engine.ledger() as session:
        shown = review_text(session.scalars(select(Delivery)).all(), settings)
    assert "      | @IndiaPostOffice" in shown
    lead = reply_lead(message, XAdapter.rules)
    assert f"        └─ reply 1: {lead}\n           @TNPostalCircle @WBPostalCircle" in shown
    assert "      | @IndiaPostOffice\n" in shown


def test_missing_alt_text_names_the_image_and_language(
    engine: Engine, drop: Drop, settings
) -> None:
    drop("haryana", "stamp.jpg", b"jpeg")
    drop(
        "haryana",
        "stamp.toml",
        '[text]\nhi = "नया डाक टिकट"\nen = "A new stamp"\n'
        '[[media]]\nfile = "stamp.jpg"\nalt = { en = "A stamp showing a peacock" }\n',
    )
    [result] = engine.intake.scan()
    assert result.outcome == "rejected"
    text = note(settings, "stamp.toml")
    assert "media[0].alt: the image stamp.jpg has no alt text in 'hi'" in text
    assert 'Add hi = "…" to its alt' in text


def test_english_pasted_into_the_tamil_text_is_flagged_for_review(
    engine: Engine, drop: Drop, settings
) -> None:
    drop(
        "tamil-nadu", "p.toml", '[text]\nta = "Happy Pongal to all!"\nen = "Happy Pongal to all!"\n'
    )
    engine.tick()
    ta = [d for d in deliveries(engine) if d.locale == "ta"]
    assert ta
    for d in ta:
        assert d.notes == [
            "the 'ta' text is written mostly in Latin script (16 letters) "
            "instead of Tamil (0 letters)"
        ]
    assert all(d.notes == [] for d in deliveries(engine) if d.locale == "en")
    with engine.ledger() as session:
        shown = review_text(session.scalars(select(Delivery)).all(), settings)
    assert "note: the 'ta' text is written mostly in Latin script" in shown


def test_strict_script_check_rejects(config_path: Path, clock: FakeClock, drop: Drop) -> None:
    config_path.write_text(
        config_path.read_text("utf-8").replace('script_check = "warn"', 'script_check = "strict"'),
        encoding="utf-8",
    )
    settings = load_settings(config_path)
    engine = Engine(settings, dry_run=True, clock=clock).start()
    drop("west-bengal", "p.toml", '[text]\nbn = "हरियाणा डाक परिमंडल"\nen = "West Bengal"\n')
    [result] = engine.intake.scan()
    assert result.outcome == "rejected"
    text = note(settings, "p.toml", "west-bengal")
    assert "line 2, text.bn: the 'bn' text is written mostly in Devanagari script" in text


def test_untranslated_string_falls_back_along_the_chain(tmp_path: Path, settings) -> None:
    """mr falls back to hi in the example config: a string missing in Marathi comes out in Hindi,
    and the note says so."""
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    po = templates / "locale" / "mr" / "LC_MESSAGES" / "messages.po"
    text = po.read_text(encoding="utf-8")
    start = text.index('msgid "Open your account today')
    end = text.index("\n\n", start)
    entry = text[start:end]
    msgstr = entry.index("msgstr")
    po.write_text(text.replace(entry, entry[:msgstr] + 'msgstr ""'), encoding="utf-8")

    renderer = Renderer(templates, tmp_path / "c", settings.zone, "IN", settings.content.chain)
    rendered = renderer.render(
        "savings-scheme", "mr", {"scheme": "SSY", "rate": 8.2, "min_deposit": 250}
    )
    assert "आज ही अपने नज़दीकी डाकघर में खाता खोलें" in rendered.text  # the Hindi line
    assert "बचत" in rendered.text  # the Marathi line still in Marathi
    assert rendered.fallbacks == [
        "'Open your account today at your nearest post of…' is not translated into mr: "
        "the hi text is used"
    ]


def test_untranslated_at_the_end_of_the_chain_uses_the_english_source(
    tmp_path: Path, settings
) -> None:
    renderer = Renderer(REPO / "templates", tmp_path / "c", settings.zone, "IN")
    rendered = renderer.render("fake-news-clarification", "gu", {"platform": "SMS", "url": "u"})
    assert rendered.text.startswith("A SMS message claims") or "SMS" in rendered.text
    assert rendered.fallbacks
    assert all(n.endswith("the English source text is used") for n in rendered.fallbacks)


def test_fallback_notes_reach_the_delivery_and_the_review(
    tmp_path: Path, config_path: Path, clock: FakeClock, drop: Drop
) -> None:
    config_path.write_text(
        config_path.read_text("utf-8").replace(
            'locales = ["mr", "en"]', 'locales = ["gu", "en"]', 1
        ),
        encoding="utf-8",
    )
    settings = load_settings(config_path)
    engine = Engine(settings, dry_run=True, clock=clock).start()
    drop(
        "maharashtra",
        "s.toml",
        'template = "savings-scheme"\n[vars]\nscheme = "SSY"\nrate = 8.2\nmin_deposit = 250\n',
    )
    engine.tick()
    [gu] = [d for d in deliveries(engine) if d.locale == "gu"]
    assert len(gu.notes) == 2
    with engine.ledger() as session:
        shown = review_text(session.scalars(select(Delivery)).all(), settings)
    assert "is not translated into gu: the English source text is used" in shown


def test_a_locale_the_account_does_not_post_in_is_refused(
    engine: Engine, drop: Drop, settings
) -> None:
    drop("haryana", "p.toml", 'locales = ["ta"]\n[text]\nta = "வணக்கம்"\n')
    engine.intake.scan()
    assert "none of the targeted accounts posts in 'ta'" in note(settings, "p.toml")
