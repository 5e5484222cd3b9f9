"""A national deployment: the directorate and India Post's 23 postal circles, each with X, Facebook
and Instagram accounts in the circle's language(s) and English, every post tagging the
directorate and all circles. The handles are made up."""

from __future__ import annotations

from pathlib import Path

from tests.support.files import REPO

# The 23 postal circles and the languages their accounts post in, besides English.
CIRCLES: dict[str, tuple[str, ...]] = {
    "andhra-pradesh": ("te",),
    "assam": ("as",),
    "bihar": ("hi",),
    "chhattisgarh": ("hi",),
    "delhi": ("hi",),
    "gujarat": ("gu",),
    "haryana": ("hi",),
    "himachal-pradesh": ("hi",),
    "jammu-kashmir": ("ur", "hi"),
    "jharkhand": ("hi",),
    "karnataka": ("kn",),
    "kerala": ("ml",),
    "madhya-pradesh": ("hi",),
    "maharashtra": ("mr",),
    "north-eastern": (),
    "odisha": ("or",),
    "punjab": ("pa",),
    "rajasthan": ("hi",),
    "tamil-nadu": ("ta",),
    "telangana": ("te",),
    "uttar-pradesh": ("hi",),
    "uttarakhand": ("hi",),
    "west-bengal": ("bn",),
}


def _handle(unit: str, platform: str) -> str:
    """e.g. AndhraPradeshPost on X, AndhraPradeshPostalCircle on Facebook, andhrapradeshpost on
    Instagram: X allows 15 characters, so long names are cut."""
    name = "".join(word.title() for word in unit.split("-"))
    if platform == "x":
        return name[:11] + "Post"
    if platform == "facebook":
        return name + "PostalCircle"
    return name.lower() + "post"


def _unit(number: int, unit: str, name: str, locales: tuple[str, ...]) -> str:
    quoted = ", ".join(f'"{loc}"' for loc in locales)
    lines = [
        f"[units.{unit}]",
        f'name = "{name}"',
        f"[units.{unit}.nodal_officer]",
        'name = "Nodal Officer"',
        'designation = "Assistant Director"',
        f'email = "{unit}@indiapost.gov.in"',
        'phone = "+91-11-0000-0000"',
    ]
    for n, platform in enumerate(("x", "facebook", "instagram")):
        lines += [
            f"[[units.{unit}.accounts]]",
            f'platform = "{platform}"',
            f'handle = "{_handle(unit, platform)}"',
            f"locales = [{quoted}]",
        ]
        if platform != "x":
            lines.append(f'platform_id = "1784140000{number:03d}{n}"')
    return "\n".join(lines) + "\n"


def national_config(tmp_path: Path) -> Path:
    """The example config.toml with its units and tag groups replaced by the national ones; its
    folders inside tmp_path. Returns its path."""
    example = (REPO / "config.toml").read_text(encoding="utf-8")
    head = example[: example.index("# --- The mandatory tag list")]
    head = head.replace('templates = "templates"', f'templates = "{REPO / "templates"}"')
    circles = ", ".join(f'"{c}"' for c in CIRCLES)
    text = [
        head,
        '[tags.groups.directorate]\nunits = ["directorate"]\nmain = true\n',
        f"[tags.groups.circles]\nunits = [{circles}]\n",
        _unit(0, "directorate", "Directorate", ("en", "hi")),
    ]
    for number, (circle, languages) in enumerate(CIRCLES.items(), 1):
        name = " ".join(w.title() for w in circle.split("-")) + " Postal Circle"
        text.append(_unit(number, circle, name, (*languages, "en")))
    path = tmp_path / "config.toml"
    path.write_text("\n".join(text), encoding="utf-8")
    return path
