"""Fitting a message and its tags to each platform's limits, never cutting the message.

The message always goes whole into the main post with the tags that must be there (the policy's
``main`` groups); other tags follow in the main post while they fit, then overflow where the
platform allows it: replies under the post, or a first comment. A message that cannot fit
even with only its required tags is refused with the numbers needed to fix it.

Each platform's limits and where its overflow goes are its adapter's ``Rules``
(publisher.adapters.base). A text is measured as the platform counts it (``Rules.length``: X's
weights) once; each mention, plain ASCII, is added arithmetically.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import regex

from publisher.adapters.base import Rules
from publisher.adapters.registry import adapter_class
from publisher.errors import FitError
from publisher.vocabulary import Part

SEPARATOR = "\n\n"  # between the message and its tags
# A hashtag or mention starts a word: "(?<!\w)#\w+". Written with the "#" first, so that the
# regex engine skips from one "#" to the next instead of trying the look-behind at every
# character: ten times faster on a message, the same matches (tests/planning/test_fit.py).
HASHTAG = re.compile(r"#(?<!\w#)\w+")
MENTION = re.compile(r"@(?<!\w@)\w+")


def _mentioned(tags: Sequence[str]) -> str:
    return " ".join("@" + t for t in tags)


def _with_tags(message: str, tags: Sequence[str]) -> str:
    return message + SEPARATOR + _mentioned(tags) if tags else message


def _tags_length(tags: Sequence[str], first: bool) -> int:
    """What appending these ASCII mentions adds: the separator (or a space) and ``@handle``."""
    if not tags:
        return 0
    return (len(SEPARATOR) if first else 1) + sum(len(t) + 1 for t in tags) + len(tags) - 1


def _tag_length(tag: str, first: bool) -> int:
    """``_tags_length([tag], first)``, for the loops that add tags one at a time."""
    return (len(SEPARATOR) if first else 1) + len(tag) + 1


def _too_long(
    platform: str, length: int, limit: int, required: Sequence[str], unit: str
) -> FitError:
    tags = f" with its required tags ({_mentioned(required)})" if required else ""
    return FitError(
        f"on {platform} the message{tags} is {length} {unit}, over the limit of {limit}",
        f"cut at least {length - limit} {unit}, or give {platform} its own shorter text under "
        f"[platform_text.{platform}]",
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


def _main_and_rest(
    platform: str, rules: Rules, message: str, tags: Sequence[str], required: Sequence[str]
) -> tuple[list[str], list[str], int]:
    """The tags in the main post (the required ones, then others while they fit) and the rest;
    with how many mentions the message itself leaves room for."""
    if rules.max_hashtags is not None:
        hashtags = len(HASHTAG.findall(message))
        if hashtags > rules.max_hashtags:
            raise FitError(
                f"on {platform} the message has {hashtags} hashtags, over the limit of "
                f"{rules.max_hashtags}",
                f"remove at least {hashtags - rules.max_hashtags}",
            )
    room = len(tags) + 1
    if rules.max_mentions is not None:
        room = rules.max_mentions - len(MENTION.findall(message))
    length = rules.length(message) + _tags_length(required, first=True)
    limit = rules.text_limit
    if limit is not None and length > limit:
        raise _too_long(platform, length, limit, required, rules.length_unit)
    if len(required) > room:
        raise FitError(
            f"on {platform} the message with its required tags ({_mentioned(required)}) mentions "
            f"{len(required) + len(MENTION.findall(message))} accounts, over the limit of "
            f"{rules.max_mentions}",
            "mention fewer accounts in the message itself",
        )
    main = list(required)
    rest = [t for t in tags if t not in required]
    while rest and len(main) < room:
        more = _tag_length(rest[0], first=not main)
        if limit is not None and length + more > limit:
            break
        length += more
        main.append(rest.pop(0))
    return main, rest, room


def fit(platform: str, message: str, tags: Sequence[str], required: Sequence[str]) -> list[Part]:
    """The parts a delivery publishes on ``platform``, by its adapter's rules; ``required`` tags
    must be in the first.

    Raises:
        FitError: the message with its required tags exceeds the platform's limit, or the tags
            cannot all be placed where the platform allows them.
    """
    rules = adapter_class(platform).rules
    if not rules.mentions:
        return [Part("post", message, [])]
    if rules.overflow == "none":  # every tag in the post itself
        text = _with_tags(message, tags)
        length = rules.length(text)
        if rules.text_limit is not None and length > rules.text_limit:
            unit = rules.length_unit
            raise _too_long(platform, length, rules.text_limit, tags, unit)
        return [Part("post", text, list(tags))]
    main, rest, room = _main_and_rest(platform, rules, message, tags, required)
    parts = [Part("post", _with_tags(message, main), main)]
    if not rest:
        return parts
    if rules.overflow == "comment":
        if rules.max_mentions is not None and len(rest) > rules.max_mentions:
            raise FitError(
                f"on {platform} {len(main) + len(rest)} accounts would be mentioned",
                f"the post and its first comment take {room + rules.max_mentions} at most",
            )
        return [*parts, Part("comment", _mentioned(rest), rest)]
    lead = reply_lead(message, rules)
    limit = (rules.text_limit or 0) - rules.length(lead) - 1  # mentions are ASCII: 1 each
    return [*parts, *(Part("reply", lead + "\n" + _mentioned(g), g) for g in _pack(rest, limit))]


def reply_lead(message: str, rules: Rules) -> str:
    """The start of the message's first line, which opens each reply of its thread.

    A platform may refuse a text identical to one the same account posted recently (X does), and
    every post's overflow replies would otherwise be the same tag list; the lead makes them the
    post's own. Cut between whole characters as readers see them (a Devanagari syllable stays
    whole), at ``rules.reply_lead`` as the platform counts.
    """
    first = next((line.strip() for line in message.splitlines() if line.strip()), "")
    if rules.length(first) <= rules.reply_lead:
        return first
    graphemes = regex.findall(r"\X", first)
    while graphemes and rules.length("".join(graphemes) + "…") > rules.reply_lead:
        graphemes.pop()
    return "".join(graphemes).rstrip() + "…"
