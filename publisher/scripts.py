"""Which script a language is written in, in which direction, and is a text written in it?

English pasted into the Tamil text, or Hindi into the Bengali, is the copy-paste slip a nodal
officer makes most. Each letter is classified by its Unicode Script property; the language's usual
script comes from CLDR's likely subtags (``ta`` -> ``ta_Taml_IN``). Names and hashtags in another
script are normal, so only a text whose letters are mostly in another script is flagged.
"""

from __future__ import annotations

from collections import Counter
from functools import cache

import regex
from babel import Locale
from babel.core import get_global

# Scripts a post in an Indian context may be written in; letters of other scripts count as "other".
SCRIPTS = (
    "Latn", "Deva", "Beng", "Taml", "Telu", "Knda", "Mlym", "Gujr", "Guru", "Orya",
    "Arab", "Olck", "Mtei", "Cyrl", "Grek", "Hani", "Thai",
)  # fmt: skip
_LETTERS = {
    code: regex.compile(rf"[\p{{sc={code}}}&&[\p{{L}}\p{{M}}]]", regex.V1) for code in SCRIPTS
}
_IGNORED = regex.compile(r"https?://\S+|www\.\S+|[@#]\w+")


@cache
def expected_script(locale: str) -> str | None:
    """ISO 15924 code of the script a language is normally written in, e.g. ``Taml``."""
    likely = get_global("likely_subtags").get(Locale.parse(locale).language)
    parts = str(likely or "").split("_")
    return parts[1] if len(parts) > 1 else None


@cache
def right_to_left(language: str) -> bool:
    """Whether the language is written right to left (CLDR's character order): Urdu, Sindhi."""
    return bool(Locale.parse(language).character_order == "right-to-left")


def script_name(code: str) -> str:
    return str(Locale("en").scripts.get(code, code))


def wrong_script(text: str, locale: str) -> str | None:
    """None if the text is in its language's script; else a sentence saying what was found."""
    expected = expected_script(locale)
    if expected is None:
        return None
    body = _IGNORED.sub(" ", text)
    counts = Counter({code: len(pattern.findall(body)) for code, pattern in _LETTERS.items()})
    found, most = counts.most_common(1)[0]
    if most == 0 or found == expected or counts[expected] >= most:
        return None
    return (
        f"the '{locale}' text is written mostly in {script_name(found)} script ({most} letters) "
        f"instead of {script_name(expected)} ({counts[expected]} letters)"
    )
