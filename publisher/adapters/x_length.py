"""X's weighted length of a text, as twitter-text v3 counts it: what X's 280 are counted in.

NFC first; a URL is 23; CJK and emoji count 2; Indic scripts 1. Parsing is slow (0.6-1.3 ms for a
post), so a text that can hold neither a URL nor an emoji is weighed character by character
without it (see ``needs_parse``); any other text is parsed once.

twitter-text is imported at the first text that needs its parse: importing it takes 0.2 s (it
reads and compiles its list of emoji), which ``publisher validate`` and the texts the templates
write need not wait for (issue 13). What may be an emoji is told by Unicode's emoji properties
instead, which hold every character of that list (``X_EMOJI``, checked by
tests/planning/test_fit.py).
"""

from __future__ import annotations

import importlib
import re
import sys
import unicodedata
from functools import cache, lru_cache

import regex

# twitter-text v3 (its config "defaults"): code points in these ranges weigh 1, any other 2.
X_ONE_UNIT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_X_HEAVY = re.compile("[^" + "".join(f"{chr(a)}-{chr(b)}" for a, b in X_ONE_UNIT) + "]")
# Characters that send a text to the parse as a possible emoji: every emoji character and emoji
# component of Unicode (the regex module's tables, newer than twitter-text's list: a newer emoji
# is parsed, and weighed as twitter-text weighs it) but the keycap bases, the zero-width joiner
# and the emoji variation selector, which also occur in plain text. Every emoji in twitter-text's
# list holds at least one of them (tests/planning/test_fit.py checks each one against ``X_EMOJI``).
X_EMOJI_PARTS = "#*0123456789\N{ZERO WIDTH JOINER}\N{VARIATION SELECTOR-16}"
_X_EMOJI = regex.compile(
    r"[[\p{Emoji}\p{Emoji_Component}]--[" + regex.escape(X_EMOJI_PARTS) + "]]", regex.V1
)
_X_URL_OR_CR = re.compile(
    r"\r"  # twitter-text counts \r\n as one character
    r"|://|\.(?=[^\W\d_])"  # a URL: a scheme, or a dot before a letter (where a domain ends)
)


def needs_parse(text: str) -> bool:
    """Whether X's weighted length of ``text`` (NFC) needs twitter-text's parse. It does not when
    the text holds no emoji, no line end twitter-text rewrites and no URL (twitter-text finds a URL
    only where a '.' is followed by a top-level domain, and every one starts with a letter): then
    each code point weighs 1 or 2 by its range alone, as twitter-text weighs it."""
    return _X_EMOJI.search(text) is not None or _X_URL_OR_CR.search(text) is not None


@lru_cache(maxsize=4096)
def x_length(text: str) -> int:
    """Weighted length of a text on X (twitter-text v3)."""
    text = unicodedata.normalize("NFC", text)
    if needs_parse(text):
        # imported here, once (importlib: an import statement in a function is refused by ruff)
        return int(importlib.import_module("twitter_text").parse_tweet(text).weightedLength)
    return len(text) + len(_X_HEAVY.findall(text))


@cache
def _x_emoji() -> frozenset[str]:
    # every code point, lone surrogates included (a str may hold them), searched in one pass
    return frozenset(_X_EMOJI.findall("".join(map(chr, range(sys.maxunicode + 1)))))


def __getattr__(name: str) -> frozenset[str]:
    """``X_EMOJI``: the characters ``needs_parse`` takes for a possible emoji, as a set, made at
    its first use (0.1 s; only the tests need it)."""
    if name == "X_EMOJI":
        return _x_emoji()
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
