"""A bad config.toml stops start-up with every problem named by key path, with its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.configs import EXAMPLE, problems


def test_example_config_is_valid_and_complete(settings) -> None:
    assert settings.organisation.timezone == "Asia/Kolkata"
    assert len(settings.units) >= 5
    for unit in settings.units.values():
        assert unit.nodal_officer.email
        assert {a.platform for a in unit.accounts} >= {"x", "facebook", "instagram"}
    assert settings.database_url.endswith("var/state/publisher.db")
    assert settings.paths.queue.is_absolute()


CASES = [
    (
        "unknown key",
        EXAMPLE.replace("settle_seconds = 2 ", "settle_second = 2 "),
        ["intake.settle_second: 'settle_second' is not a key", "Did you mean 'settle_seconds'?"],
    ),
    (
        "string instead of number",
        EXAMPLE.replace("poll_seconds = 5 ", 'poll_seconds = "5" '),
        ["intake.poll_seconds", "Write a number without quotes"],
    ),
    (
        "duplicate handle",
        EXAMPLE.replace('handle = "HaryanaPostal"', 'handle = "TNPostalCircle"'),
        ["the x handle 'TNPostalCircle' is listed more than once"],
    ),
    (
        "unknown platform",
        EXAMPLE.replace(
            'platform = "instagram"\nhandle = "wbpostalcircle"', 'platform = "koo"\nhandle = "wb"'
        ),
        [
            "units.west-bengal.accounts[2].platform",
            "'koo' is not a platform with an installed adapter",
            "Use one of: email, facebook, instagram, x (or install the package that adds it)",
        ],
    ),
    (
        "options of a platform with no adapter",
        EXAMPLE + "\n[platforms.koo]\ntimeout_seconds = 10\n",
        ["platforms: 'koo' is not a platform with an installed adapter"],
    ),
    (
        "unknown option of a platform",
        EXAMPLE + "\n[platforms.email]\nhost = 'mail'\n[platforms.x]\ntimeout = 10\n",
        ["platforms.x.timeout: 'timeout' is not a key"],
    ),
    (
        "unknown locale",
        EXAMPLE.replace('locales = ["bn", "en"]', 'locales = ["bangla", "en"]', 1),
        ["units.west-bengal.accounts[0].locales[0]", "'bangla' is not a locale Babel knows"],
    ),
    (
        "unknown time zone",
        EXAMPLE.replace('timezone = "Asia/Kolkata"', 'timezone = "Asia/Calcutta Standard"'),
        ["organisation.timezone", "Use an IANA name such as 'Asia/Kolkata'"],
    ),
    (
        "duplicate unit",
        EXAMPLE + '\n[units.haryana]\nname = "again"\n',
        ["TOML syntax", "every [section] may appear only once"],
    ),
    (
        "directorate not a unit",
        EXAMPLE.replace('directorate = "directorate"', 'directorate = "dak-bhawan"'),
        ["organisation.directorate: 'dak-bhawan' is not a unit"],
    ),
    (
        "tag group names a missing unit",
        EXAMPLE.replace('"west-bengal", "maharashtra"]', '"west-bengal", "kerala"]'),
        ["tags.groups.circles.units: 'kerala' is not a unit"],
    ),
    (
        "a secret in the config",
        EXAMPLE.replace('credential = "x-haryana"', 'credential = "x-haryana"\ntoken = "AAAA"'),
        ["units.haryana.accounts[0].token: 'token' is not a key", "credential"],
    ),
    (
        "missing nodal officer",
        EXAMPLE.replace("[units.maharashtra.nodal_officer]", "[units.maharashtra.officer]"),
        ["units.maharashtra.nodal_officer: this required key is missing"],
    ),
    (
        "warning after the deadline",
        EXAMPLE.replace("warn_after_days = 5", "warn_after_days = 8"),
        ["freshness.warn_after_days"],
    ),
    (
        "bad unit id",
        EXAMPLE.replace("[units.haryana]", '[units."Haryana Circle"]').replace(
            "[units.haryana.", '[units."Haryana Circle".'
        ),
        ["units.Haryana Circle: a unit id names its queue folder"],
    ),
]


@pytest.mark.parametrize(("case", "text", "says"), CASES, ids=[c[0] for c in CASES])
def test_bad_config_names_the_key_and_the_fix(
    tmp_path: Path, case: str, text: str, says: list[str]
) -> None:
    assert text != EXAMPLE, "the case did not change the example"
    found = problems(tmp_path, text)
    for phrase in says:
        assert phrase in found, f"{phrase!r} not in:\n{found}"


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    text = EXAMPLE.replace("poll_seconds = 5 ", 'poll_seconds = "5" ').replace(
        'timezone = "Asia/Kolkata"', 'timezone = "Mars/Olympus"'
    )
    found = problems(tmp_path, text)
    assert "intake.poll_seconds" in found
    assert "organisation.timezone" in found


def test_infinite_and_huge_numbers_are_refused(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        EXAMPLE.replace("lease_seconds = 60 ", "lease_seconds = inf ").replace(
            "max_past_hours = 24 ", "max_past_hours = 1e12 "
        ),
    )
    assert "dispatch.lease_seconds" in found
    assert "intake.max_past_hours" in found
