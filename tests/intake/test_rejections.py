"""Bad post files go to rejected/ with a note a nodal officer can act on; good ones still go out."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from publisher.service.engine import Engine
from publisher.store.models import Delivery
from tests.support.files import Drop

GOOD = """\
[text]
hi = "हरियाणा डाक परिमंडल: आज से नए डाक टिकट उपलब्ध हैं।"
en = "Haryana Postal Circle: new stamps on sale from today."
"""

# (file name, content, what the note must say: the field or line, and the fix)
BAD = [
    (
        "malformed.toml",
        '[text]\nen = "unterminated\n',
        ["line 2", "not valid TOML", "double quotes"],
    ),
    (
        "unknown-key.toml",
        'platfroms = ["x"]\n' + GOOD,
        ["line 1", "'platfroms' is not a key", "Did you mean 'platforms'?"],
    ),
    (
        "other-unit.toml",
        'accounts = ["TNPostalCircle"]\n' + GOOD,
        ["@TNPostalCircle belongs to 'tamil-nadu'", "@HaryanaPostal"],
    ),
    (
        "not-an-account.toml",
        'accounts = ["nobody_here"]\n' + GOOD,
        ["@nobody_here is not an account of this unit", "Use handles from"],
    ),
    (
        "missing-locale-text.toml",
        'locales = ["hi", "en"]\n[text]\nen = "Only English."\n',
        ["line 2, text.hi", "no text for it", 'Add a line hi = "…"'],
    ),
    (
        "media-outside.toml",
        '[[media]]\nfile = "../tamil-nadu/photo.jpg"\n' + GOOD,
        ["media[0].file", "points outside the post's folder", "same folder"],
    ),
    (
        "media-absolute.toml",
        '[[media]]\nfile = "/etc/photo.jpg"\n' + GOOD,
        ["media[0].file", "points outside the post's folder"],
    ),
    (
        "media-not-a-photo.toml",
        GOOD + '[[media]]\nfile = "other-post.toml"\n',
        ["media[0].file", "'other-post.toml' is not a photo or video"],
    ),
    (
        "media-twice.toml",
        GOOD + '[[media]]\nfile = "a.png"\n[[media]]\nfile = "a.png"\n',
        ["the same file is listed twice"],
    ),
    (
        "year-one.toml",
        'publish_at = "0001-01-01 00:00"\n' + GOOD,
        ["publish_at", "is not a date this engine can use"],
    ),
    (
        "not-a-number.toml",
        'template = "savings-scheme"\n[vars]\nscheme = "SSY"\nrate = nan\nmin_deposit = 250\n',
        ["nan is not a number"],
    ),
    (
        "blank-x-text.toml",
        GOOD + '[platform_text.x]\nhi = "   "\n',
        ["platform_text.x.hi: the text is empty"],
    ),
    (
        "utf16.toml",
        GOOD.encode("utf-16"),
        ["not UTF-8", "Save it as UTF-8"],
    ),
    (
        "bad-time.toml",
        'publish_at = "24/11/2026 10am"\n' + GOOD,
        ["line 1", "publish_at", 'Write it as "2026-12-01 10:00"'],
    ),
    (
        "impossible-date.toml",
        'publish_at = "2026-02-30 10:00"\n' + GOOD,
        ["publish_at", "the date does not exist"],
    ),
    (
        "long-past.toml",
        'publish_at = "2020-01-01 10:00"\n' + GOOD,
        ["publish_at", "is in the past", "Check the year"],
    ),
    (
        "no-message.toml",
        'platforms = ["x"]\n',
        ["needs its message either as text or as a template"],
    ),
    (
        "unknown-template.toml",
        'template = "diwali"\n',
        ["no template named 'diwali'", "savings-scheme"],
    ),
    (
        "missing-variable.toml",
        'template = "savings-scheme"\n[vars]\nscheme = "Sukanya Samriddhi Yojana"\nrate = 8.2\n',
        ["template 'savings-scheme' needs a value", "'min_deposit' is undefined", "[vars]"],
    ),
    (
        "unknown-locale.toml",
        '[text]\nhindi = "नमस्ते"\n',
        ["text.hindi", "not a locale", "'hi'"],
    ),
    (
        "locale-not-spoken.toml",
        'locales = ["ta"]\n[text]\nta = "வணக்கம்"\n',
        ["none of the targeted accounts posts in 'ta'"],
    ),
    (
        "units-from-a-circle.toml",
        'units = ["all"]\n' + GOOD,
        ["only the directorate's folder may post for other units"],
    ),
    (
        "no-such-platform.toml",
        'platforms = ["koo"]\n' + GOOD,
        ["platforms[0]", "'koo' is not a platform", "Use one of: email, facebook, instagram, x"],
    ),
    (
        "not-utf8.toml",
        '[text]\nen = "caf\xe9"\n'.encode("latin-1"),
        ["not UTF-8", "Save it as UTF-8"],
    ),
    (
        "quoted-number.toml",
        'template = "savings-scheme"\n[vars]\nscheme = "SSY"\nrate = "8.2"\nmin_deposit = 250\n',
        ["'8.2' is not a number", "without quotes"],
    ),
]


@pytest.mark.parametrize(("name", "content", "says"), BAD, ids=[b[0] for b in BAD])
def test_bad_file_is_rejected_with_a_note_and_the_good_one_beside_it_goes_out(
    engine: Engine, drop: Drop, settings, name: str, content: str | bytes, says: list[str]
) -> None:
    drop("haryana", name, content)
    drop("haryana", "good.toml", GOOD)

    results = {r.name: r.outcome for r in engine.tick().taken}

    assert results == {name: "rejected", "good.toml": "accepted"}
    rejected = settings.paths.queue / "haryana" / "rejected"
    assert (rejected / name).read_bytes() == (
        content if isinstance(content, bytes) else content.encode()
    )
    note = (rejected / f"{name}.error.txt").read_text(encoding="utf-8")
    assert f'Your post file "{name}" (folder "haryana") was NOT accepted.' in note
    for phrase in says:
        assert phrase in note, f"{phrase!r} missing from:\n{note}"
    with engine.ledger() as session:
        texts = session.scalars(select(Delivery.text)).all()
    assert len(texts) == 5 and all("Haryana" in t or "हरियाणा" in t for t in texts)


def test_all_problems_of_a_file_are_reported_at_once(engine: Engine, drop: Drop, settings) -> None:
    drop(
        "haryana",
        "many.toml",
        'id = "has spaces"\npriority = "high"\n[text]\nen = "Hi"\nxx = "?"\n',
    )
    engine.intake.scan()
    note = (settings.paths.queue / "haryana/rejected/many.toml.error.txt").read_text("utf-8")
    assert "3 problems" in note
    assert "line 1, id" in note
    assert "line 2, priority" in note
    assert "line 5, text.xx" in note


def test_symlink_to_media_outside_the_folder_is_refused(
    engine: Engine, drop: Drop, settings, tmp_path
) -> None:
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"not for publishing")
    (settings.paths.queue / "haryana" / "photo.jpg").symlink_to(secret)
    drop("haryana", "post.toml", '[[media]]\nfile = "photo.jpg"\n' + GOOD)
    [result] = engine.intake.scan()
    assert result.outcome == "rejected"
    note = (settings.paths.queue / "haryana/rejected/post.toml.error.txt").read_text("utf-8")
    assert "is not a file in this folder itself" in note


def test_second_rejection_of_the_same_name_keeps_both(engine: Engine, drop: Drop, settings) -> None:
    drop("haryana", "post.toml", "not toml at all")
    engine.intake.scan()
    drop("haryana", "post.toml", "still not toml")
    engine.intake.scan()
    files = sorted(p.name for p in (settings.paths.queue / "haryana" / "rejected").iterdir())
    assert len(files) == 4  # two post files, two notes


def test_a_setting_written_below_a_section_is_explained(
    engine: Engine, drop: Drop, settings
) -> None:
    """TOML puts every line after [text] into it: an officer's most likely mistake."""
    drop("haryana", "below.toml", GOOD + 'platforms = ["x"]\n')
    engine.intake.scan()
    note = (settings.paths.queue / "haryana/rejected/below.toml.error.txt").read_text("utf-8")
    assert "line 4, text.platforms: 'platforms' is inside the [text] section" in note
    assert "Move the line above the [text] section" in note
    assert "1." in note and "2." not in note  # one clear problem, not a cascade
