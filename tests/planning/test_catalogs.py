"""The translator's loop stays closed: the catalog template matches the templates, and every
example string is translated in every shipped language."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.support.files import REPO

LOCALE_DIR = REPO / "templates" / "locale"


def msgids(path: Path) -> set[str]:
    with path.open("rb") as f:
        return {str(m.id) for m in read_po(f) if m.id}


def test_messages_pot_is_up_to_date_with_the_templates(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [Path(sys.executable).parent / "pybabel", "extract", "-F", "babel.cfg", "-o", pot, "."],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    assert msgids(pot) == msgids(LOCALE_DIR / "messages.pot"), (
        "templates changed: run the extract and update steps of the translator's loop (README)"
    )


@pytest.mark.parametrize("locale", ["hi", "ta", "bn", "mr"])
def test_every_string_is_translated_and_none_is_fuzzy(locale: str) -> None:
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=locale)
    wanted = msgids(LOCALE_DIR / "messages.pot")
    for msgid in wanted:
        message = catalog.get(msgid)
        assert message is not None and message.string, f"{locale}: untranslated {msgid!r}"
        assert not message.fuzzy, f"{locale}: fuzzy {msgid!r}"
