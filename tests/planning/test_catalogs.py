"""The translator's loop stays closed: the README's commands run as written and change nothing
when nothing changed, every shipped catalog translates every string, and ``publisher languages``
tells what a campaign would miss."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from publisher.planning.catalogs import Catalogs
from publisher.scripts import wrong_script
from tests.support.files import REPO
from tests.support.processes import publisher

LOCALE_DIR = REPO / "templates" / "locale"
CIRCLE_LANGUAGES = ("as", "bn", "gu", "hi", "kn", "ml", "mr", "or", "pa", "ta", "te", "ur")
SHIPPED = Catalogs(REPO / "templates").languages()


def readme_commands(heading: str) -> list[str]:
    """The shell commands of the README's code blocks under a heading, as a person copies them."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The files the translator's loop touches, copied, with the project's venv beside them."""
    root = tmp_path / "checkout"
    root.mkdir()
    shutil.copytree(REPO / "templates", root / "templates")
    shutil.copy(REPO / "babel.cfg", root)
    shutil.copy(REPO / "config.toml", root)
    (root / ".venv").symlink_to(REPO / ".venv")
    return root


def run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, capture_output=True, text=True, check=False
    )


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted((root / "templates").rglob("*"))
        if p.is_file()
    }


def test_the_readme_loop_run_as_written_changes_nothing_when_nothing_changed(
    checkout: Path,
) -> None:
    """Extract, update, languages: the catalogs come out byte for byte the same, translator notes
    and all; only the template's creation date moves."""
    commands = readme_commands("Templates and translations")
    assert commands[0].startswith(".venv/bin/pybabel extract")
    assert commands[-1].startswith(".venv/bin/pybabel init")
    before = snapshot(checkout)
    for command in commands[:-1]:
        done = run(command, checkout)
        assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"
    after = snapshot(checkout)
    assert sorted(after) == sorted(before)
    pot = "templates/locale/messages.pot"
    for name in before:
        if name == pot:
            continue
        assert after[name] == before[name], f"{name} changed"

    def dateless(raw: bytes) -> list[str]:
        return [x for x in raw.decode().splitlines() if not x.startswith('"POT-Creation-Date')]

    assert dateless(after[pot]) == dateless(before[pot])
    # Jinja's extractor drops the "TRANSLATORS:" tag itself; without babel.cfg's add_comments
    # the whole note is dropped.
    assert "#. platform is the name of a messaging app" in after[pot].decode()


def test_a_changed_english_string_is_marked_and_not_used(checkout: Path) -> None:
    """Editing a template's English: update marks the old translation fuzzy with what it read,
    planning stops using it, and ``publisher languages`` lists it."""
    template = checkout / "templates" / "savings-scheme.j2"
    text = template.read_text(encoding="utf-8")
    template.write_text(text.replace("nearest post office", "nearest post office or online"))
    for command in readme_commands("Templates and translations")[:2]:
        assert run(command, checkout).returncode == 0
    with (checkout / "templates/locale/ta/LC_MESSAGES/messages.po").open("rb") as f:
        entry = read_po(f).get("Open your account today at your nearest post office or online.")
    assert entry is not None and entry.fuzzy
    catalogs = Catalogs(checkout / "templates")
    assert (
        catalogs.previous("ta", entry.id) == "Open your account today at your nearest post office."
    )
    coverage = catalogs.coverage("savings-scheme", "ta")
    assert not coverage.complete
    assert coverage.why() == (
        "'savings-scheme' is not fully translated into ta (1 changed in English since translated "
        "of 2 strings)"
    )
    shown = publisher("languages", config=checkout / "config.toml")
    assert shown.returncode == 1
    assert "savings-scheme  " in shown.stdout and "1/2 (1 changed)" in shown.stdout
    assert (
        "  ta, savings-scheme: 'Open your account today at your nearest post office or online.' "
        "(translated when it read 'Open your account today at your nearest post office.')"
    ) in shown.stdout
    assert (
        "  ta, for x @TNPostalCircle, facebook @TamilNaduPostalCircle, instagram " in shown.stdout
    )


def test_a_new_language_starts_from_the_readme_init_with_every_note(checkout: Path) -> None:
    init = readme_commands("Templates and translations")[-1]
    assert run(init, checkout).returncode == 0
    with (checkout / "templates/locale/sd/LC_MESSAGES/messages.po").open("rb") as f:
        catalog = read_po(f)
    with (LOCALE_DIR / "messages.pot").open("rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    assert {m.id for m in catalog if m.id} == wanted
    assert any(
        "platform is the name of a messaging app" in c for m in catalog for c in m.auto_comments
    )
    assert not Catalogs(checkout / "templates").coverage("savings-scheme", "sd").complete


def test_every_language_of_the_circles_has_a_catalog() -> None:
    assert set(CIRCLE_LANGUAGES) <= set(SHIPPED)


@pytest.mark.parametrize("language", [lang for lang in SHIPPED if lang != "en"])
def test_every_string_is_translated_in_its_script_with_its_placeholders(language: str) -> None:
    """Each msgstr: there, not fuzzy, the same placeholders as its msgid, in the language's
    script; and the header says who translated it and whether a native speaker reviewed it."""
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=language)
    with (LOCALE_DIR / "messages.pot").open("rb") as f:
        wanted = [str(m.id) for m in read_po(f) if m.id]
    for msgid in wanted:
        message = catalog.get(msgid)
        assert message is not None and message.string, f"{language}: untranslated {msgid!r}"
        assert not message.fuzzy, f"{language}: fuzzy {msgid!r}"
        placeholders = sorted(re.findall(r"%\(\w+\)s", msgid))
        assert sorted(re.findall(r"%\(\w+\)s", str(message.string))) == placeholders, msgid
        text = re.sub(r"%\(\w+\)s", " ", str(message.string))
        assert wrong_script(text, language) is None, f"{language}: {message.string!r}"
    assert "Claude (AI model)" in str(catalog.last_translator)
    assert "Native-speaker review: not yet reviewed" in " ".join(
        catalog.header_comment.replace("#", " ").split()
    )


def test_languages_exits_1_naming_the_accounts_whose_language_has_no_catalog(
    config_path: Path,
) -> None:
    config_path.write_text(
        config_path.read_text("utf-8").replace('locales = ["hi"]', 'locales = ["sd"]', 1), "utf-8"
    )
    shown = publisher("languages", config=config_path)
    assert shown.returncode == 1
    assert "  sd Sindhi: no catalog" in shown.stdout
    assert (
        "  sd, for instagram @haryanapostalcircle: fake-news-clarification, philately-event, "
        "savings-scheme, service-announcement would not go out in sd"
    ) in shown.stdout
