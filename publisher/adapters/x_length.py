"""X's weighted length of a text, as twitter-text v3 counts it: what X's 280 are counted in.

NFC first; a URL is 23; CJK and emoji count 2; Indic scripts 1. Parsing is slow (0.6-1.3 ms for a
post), so a text that can hold neither a URL nor an emoji is weighed character by character
without it (see ``needs_parse``); any other text is parsed once.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from twitter_text import parse_tweet
from twitter_text.regexp.emoji import emoji_list

# twitter-text v3 (its config "defaults"): code points in these ranges weigh 1, any other 2.
X_ONE_UNIT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_X_HEAVY = re.compile("[^" + "".join(f"{chr(a)}-{chr(b)}" for a, b in X_ONE_UNIT) + "]")
# Characters every emoji in twitter-text's list holds at least one of: all its code points but
# the keycap bases, the zero-width joiner and the emoji variation selector, which also occur in
# plain text (tests/test_fit.py checks each emoji of the package's list against this).
X_EMOJI_PARTS = "#*0123456789\N{ZERO WIDTH JOINER}\N{VARIATION SELECTOR-16}"
X_EMOJI = frozenset(chr(int(c, 16)) for e in emoji_list for c in e.codepoint.split()) - frozenset(
    X_EMOJI_PARTS
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
    return not X_EMOJI.isdisjoint(text) or _X_URL_OR_CR.search(text) is not None


@lru_cache(maxsize=4096)
def x_length(text: str) -> int:
    """Weighted length of a text on X (twitter-text v3)."""
    text = unicodedata.normalize("NFC", text)
    if needs_parse(text):
        return int(parse_tweet(text).weightedLength)
    return len(text) + len(_X_HEAVY.findall(text))
