"""Right-to-left messages (Urdu) with left-to-right pieces in them: handles, links, names in
English, numbers and times.

Platforms show a post in the direction of its first strong letter, and within it the Unicode
bidirectional algorithm orders each piece. Left alone, a left-to-right piece inside Urdu text goes
wrong at its edges: ``@IndiaPost`` shows as ``IndiaPost@``, ``9:00 AM`` as ``AM 9:00``. Wrapping
each such piece in a left-to-right isolate (LRI ... PDI, Unicode 6.3, which every current browser
and phone honours) keeps it whole and in its own order, and keeps it from reordering the Urdu
around it.
"""

from __future__ import annotations

import regex

LRI = "\u2066"  # LEFT-TO-RIGHT ISOLATE
PDI = "\u2069"  # POP DIRECTIONAL ISOLATE

# A left-to-right piece: from a letter or digit written left to right (with the "@", "#" or
# currency sign before it) to the last such letter or digit (with a "%" or currency sign after
# it), crossing spaces and punctuation but no right-to-left letter and no line break.
_STRONG = r"[\p{Bidi_Class=L}\p{Bidi_Class=EN}]"
_PIECE = regex.compile(
    rf"(?:[@#]|\p{{Bidi_Class=ET}})?{_STRONG}"
    rf"(?:[^\p{{Bidi_Class=R}}\p{{Bidi_Class=AL}}\p{{Bidi_Class=AN}}\n]*{_STRONG})?"
    rf"\p{{Bidi_Class=ET}}?"
)


def isolate(text: str) -> str:
    """The text with each left-to-right piece isolated."""
    return _PIECE.sub(lambda m: LRI + m.group() + PDI, text)


def closed(text: str) -> str:
    """The text with any isolate a cut left open closed again."""
    return text + PDI * (text.count(LRI) - text.count(PDI))
