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
from publisher.service.engine import Engine
from publisher.store.models import Delivery
from tests.support.clock import FakeClock
from tests.support.configs import EXAMPLE, problems
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


def _untranslate(templates: Path, language: str, msgid_start: str) -> None:
    """Empty one translation in a copy of the shipped templates, as a translator might leave it."""
    po = templates / "locale" / language / "LC_MESSAGES" / "messages.po"
    text = po.read_text(encoding="utf-8")
    start = text.index(f'msgid "{msgid_start}')
    end = text.index("\n\n", start)
    entry = text[start:end]
    po.write_text(text.replace(entry, entry[: entry.index("msgstr")] + 'msgstr ""'), "utf-8")


PHILATELY = (
    'template = "philately-event"\n[vars]\nevent = "MAHAPEX 2030"\n'
    'venue = "Nehru Centre, Mumbai"\nstart_date = 2030-01-15\nend_date = 2030-01-17\n'
)


def test_a_template_not_fully_translated_goes_out_whole_in_the_fallback_language(
    tmp_path: Path, config_path: Path, clock: FakeClock, drop: Drop
) -> None:
    """mr falls back to hi in the example config: with one Marathi string missing, the Marathi
    accounts get the whole message in Hindi, its dates written in Hindi too, and a note."""
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    _untranslate(templates, "mr", "Stamp lovers")
    config_path.write_text(
        config_path.read_text("utf-8").replace(f'"{REPO / "templates"}"', f'"{templates}"'),
        encoding="utf-8",
    )
    engine = Engine(load_settings(config_path), dry_run=True, clock=clock).start()
    drop("maharashtra", "p.toml", PHILATELY)
    engine.tick()
    marathi = [d for d in deliveries(engine) if d.locale == "mr"]
    assert len(marathi) == 3
    for d in marathi:
        assert "15 जनवरी 2030" in d.text  # Hindi's January; Marathi writes जानेवारी
        assert "जानेवारी" not in d.text
        assert "डाक टिकट प्रेमी" in d.text  # the Hindi line the Marathi catalog lacks
        assert d.notes == [
            "written in hi: 'philately-event' is not fully translated into mr "
            "(1 not translated of 3 strings)"
        ]


def test_no_delivery_in_a_language_with_no_translation_and_the_review_says_why_once(
    tmp_path: Path, config_path: Path, clock: FakeClock, drop: Drop
) -> None:
    """An account posting in a language the template is not translated into gets nothing in it,
    never the English under that language's name; the review says so once for the post."""
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    shutil.rmtree(templates / "locale" / "bn")
    config_path.write_text(
        config_path.read_text("utf-8").replace(f'"{REPO / "templates"}"', f'"{templates}"'),
        encoding="utf-8",
    )
    settings = load_settings(config_path)
    engine = Engine(settings, dry_run=True, clock=clock).start()
    drop(
        "west-bengal",
        "s.toml",
        'template = "savings-scheme"\n[vars]\nscheme = "SSY"\nrate = 8.2\nmin_deposit = 250\n',
    )
    engine.tick()
    sent = {(d.platform, d.locale) for d in deliveries(engine)}
    assert sent == {("x", "en"), ("facebook", "en")}  # the Instagram account posts in bn only
    with engine.ledger() as session:
        shown = review_text(session.scalars(select(Delivery)).all(), settings)
    why = "'savings-scheme' is not fully translated into bn (2 not translated of 2 strings)"
    assert shown.count(why) == 1
    assert (
        "no bn delivery for x @WBPostalCircle, facebook @WestBengalPostalCircle, "
        f"instagram @wbpostalcircle: {why}"
    ) in shown


def test_a_fallback_that_gives_an_accounts_other_text_is_not_sent_twice(
    tmp_path: Path, config_path: Path, clock: FakeClock, drop: Drop
) -> None:
    """An account posting in Marathi and Hindi, with Marathi falling back to Hindi: the Hindi text
    goes out once, not a second time as the Marathi delivery."""
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    _untranslate(templates, "mr", "Stamp lovers")
    text = config_path.read_text("utf-8").replace(f'"{REPO / "templates"}"', f'"{templates}"')
    config_path.write_text(text.replace('locales = ["mr", "en"]', 'locales = ["mr", "hi"]', 1))
    settings = load_settings(config_path)
    engine = Engine(settings, dry_run=True, clock=clock).start()
    drop("maharashtra", "p.toml", PHILATELY)
    engine.tick()
    x = [d for d in deliveries(engine) if d.platform == "x"]
    assert [d.locale for d in x] == ["hi"]
    with engine.ledger() as session:
        shown = review_text(session.scalars(select(Delivery)).all(), settings)
    assert "no mr delivery for x @MahaPostalCircle: its text is the same as the hi one" in shown


def test_a_fallback_in_another_script_is_a_config_error(tmp_path: Path) -> None:
    text = EXAMPLE.replace('fallback = { mr = "hi" }', 'fallback = { mr = "hi", ta = "en" }')
    assert (
        'line 84, content.fallback: ta = "en": en is written in Latin script, ta in Tamil, so '
        "its text is not ta. Remove it (a ta message with no ta translation is then not sent)"
    ) in problems(tmp_path, text)


def test_a_literal_post_skips_the_languages_it_has_no_text_for(
    engine: Engine, drop: Drop, settings
) -> None:
    post = 'platforms = ["x", "facebook"]\n[text]\nen = "New stamps released today."\n'
    drop("haryana", "p.toml", post)
    engine.tick()
    assert {d.locale for d in deliveries(engine)} == {"en"}
    with engine.ledger() as session:
        shown = review_text(session.scalars(select(Delivery)).all(), settings)
    assert (
        "no hi delivery for x @HaryanaPostal, facebook @HaryanaPostalCircle: the post has no hi "
        "text"
    ) in shown


def test_a_locale_the_account_does_not_post_in_is_refused(
    engine: Engine, drop: Drop, settings
) -> None:
    drop("haryana", "p.toml", 'locales = ["ta"]\n[text]\nta = "வணக்கம்"\n')
    engine.intake.scan()
    assert "none of the targeted accounts posts in 'ta'" in note(settings, "p.toml")
