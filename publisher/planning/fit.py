"""Fitting a message and its tags to each platform's limits, never cutting the message.

The message always goes whole into the main post with the tags that must be there (the policy's
``main`` groups); other tags follow in the main post while they fit, then overflow where the
platform allows it: X replies under the post, an Instagram first comment. A message that cannot fit
even with only its required tags is refused with the numbers needed to fix it.

X counts characters with twitter-text's weights (NFC first; a URL is 23; CJK and emoji count 2;
Indic scripts 1). Parsing is slow (0.6-1.3 ms for a post), so a text that can hold neither a URL nor
an emoji is weighed character by character without it (see ``needs_parse``); any other text is
parsed once. Each mention, plain ASCII, is added arithmetically.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import regex
from twitter_text import parse_tweet
from twitter_text.regexp.emoji import emoji_list

from publisher.vocabulary import Part

X_LIMIT = 280
REPLY_LEAD = 40  # weighted characters of the message that open each overflow reply on X
FACEBOOK_LIMIT = 63_206
INSTAGRAM_CAPTION = 2_200
INSTAGRAM_HASHTAGS = 30
INSTAGRAM_MENTIONS = 20

SEPARATOR = "\n\n"  # between the message and its tags
# A hashtag or mention starts a word: "(?<!\w)#\w+". Written with the "#" first, so that the
# regex engine skips from one "#" to the next instead of trying the look-behind at every
# character: ten times faster on a message, the same matches (tests/test_fit.py).
HASHTAG = re.compile(r"#(?<!\w#)\w+")
MENTION = re.compile(r"@(?<!\w@)\w+")


class FitError(ValueError):
    """The message cannot go out on this platform as written; the text says by how much."""


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


def _with_tags(message: str, tags: Sequence[str]) -> str:
    return message + SEPARATOR + " ".join("@" + t for t in tags) if tags else message


def _tags_length(tags: Sequence[str], first: bool) -> int:
    """What appending these ASCII mentions adds: the separator (or a space) and ``@handle``."""
    if not tags:
        return 0
    return (len(SEPARATOR) if first else 1) + sum(len(t) + 1 for t in tags) + len(tags) - 1


def _tag_length(tag: str, first: bool) -> int:
    """``_tags_length([tag], first)``, for the loops that add tags one at a time."""
    return (len(SEPARATOR) if first else 1) + len(tag) + 1


def _too_long(platform: str, length: int, limit: int, required: Sequence[str], unit: str) -> str:
    tags = f" with its required tags ({' '.join('@' + t for t in required)})" if required else ""
    return (
        f"on {platform} the message{tags} is {length} {unit}, over the limit of {limit}; "
        f"cut at least {length - limit} {unit}, or give {platform} its own shorter text under "
        f"[platform_text.{platform}]"
    )


def _pack(tags: Sequence[str], limit: int) -> list[list[str]]:
    """ASCII mentions into as few texts (``@a @b``) of at most ``limit`` characters as possible,
    keeping their order."""
    groups: list[list[str]] = []
    length = 0  # of the last group's text
    for tag in tags:
        if groups and length + _tag_length(tag, first=False) <= limit:
            groups[-1].append(tag)
            length += _tag_length(tag, first=False)
        else:
            groups.append([tag])
            length = len(tag) + 1
    return groups


def fit_x(message: str, tags: Sequence[str], required: Sequence[str]) -> list[Part]:
    base = x_length(message)
    need = base + _tags_length(required, first=True)
    if need > X_LIMIT:
        raise FitError(_too_long("x", need, X_LIMIT, required, "weighted characters"))
    main = list(required)
    rest = [t for t in tags if t not in required]
    length = need
    while rest and length + _tag_length(rest[0], first=not main) <= X_LIMIT:
        length += _tag_length(rest[0], first=not main)
        main.append(rest.pop(0))
    if not rest:
        return [Part("post", _with_tags(message, main), main)]
    lead = reply_lead(message)
    replies = _pack(rest, X_LIMIT - x_length(lead) - 1)  # mentions are ASCII: weight 1 each
    return [
        Part("post", _with_tags(message, main), main),
        *(Part("reply", lead + "\n" + " ".join("@" + t for t in g), g) for g in replies),
    ]


def reply_lead(message: str) -> str:
    """The start of the message's first line, which opens each reply of its thread.

    X refuses a text identical to one the same account posted recently, and every post's
    overflow replies would otherwise be the same tag list; the lead makes them the post's own.
    Cut between whole characters as readers see them (a Devanagari syllable stays whole).
    """
    first = next((line.strip() for line in message.splitlines() if line.strip()), "")
    if x_length(first) <= REPLY_LEAD:
        return first
    graphemes = regex.findall(r"\X", first)
    while graphemes and x_length("".join(graphemes) + "…") > REPLY_LEAD:
        graphemes.pop()
    return "".join(graphemes).rstrip() + "…"


def fit_instagram(message: str, tags: Sequence[str], required: Sequence[str]) -> list[Part]:
    hashtags = len(HASHTAG.findall(message))
    if hashtags > INSTAGRAM_HASHTAGS:
        msg = (
            f"on instagram the message has {hashtags} hashtags, over the limit of "
            f"{INSTAGRAM_HASHTAGS}; remove at least {hashtags - INSTAGRAM_HASHTAGS}"
        )
        raise FitError(msg)
    room = INSTAGRAM_MENTIONS - len(MENTION.findall(message))
    length = len(message) + _tags_length(required, first=True)
    if length > INSTAGRAM_CAPTION or len(required) > room:
        raise FitError(_too_long("instagram", length, INSTAGRAM_CAPTION, required, "characters"))
    main = list(required)
    rest = [t for t in tags if t not in required]
    while rest and len(main) < room:
        more = _tag_length(rest[0], first=not main)
        if length + more > INSTAGRAM_CAPTION:
            break
        length += more
        main.append(rest.pop(0))
    parts = [Part("post", _with_tags(message, main), main)]
    if rest:
        if len(rest) > INSTAGRAM_MENTIONS:
            msg = (
                f"on instagram {len(main) + len(rest)} accounts would be mentioned; the caption "
                f"and its first comment take {room + INSTAGRAM_MENTIONS} at most"
            )
            raise FitError(msg)
        parts.append(Part("comment", " ".join("@" + t for t in rest), rest))
    return parts


def fit_facebook(message: str, tags: Sequence[str], required: Sequence[str]) -> list[Part]:
    text = _with_tags(message, tags)
    if len(text) > FACEBOOK_LIMIT:
        raise FitError(_too_long("facebook", len(text), FACEBOOK_LIMIT, tags, "characters"))
    return [Part("post", text, list(tags))]


def fit(platform: str, message: str, tags: Sequence[str], required: Sequence[str]) -> list[Part]:
    """The parts a delivery publishes on ``platform``; ``required`` tags must be in the first.

    Raises:
        FitError: the message with its required tags exceeds the platform's limit.
    """
    if platform == "x":
        return fit_x(message, tags, required)
    if platform == "instagram":
        return fit_instagram(message, tags, required)
    if platform == "facebook":
        return fit_facebook(message, tags, required)
    return [Part("post", message, [])]  # e-mail: no mentions
