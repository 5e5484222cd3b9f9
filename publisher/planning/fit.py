"""Fitting a message and its tags to each platform's limits, never cutting the message.

The message always goes whole into the main post with the tags that must be there (the policy's
``main`` groups); other tags follow in the main post while they fit, then overflow where the
platform allows it: replies under the post, or a first comment. A message that cannot fit
even with only its required tags is refused with the numbers needed to fix it.

Each platform's limits and where its overflow goes are its adapter's ``Rules``
(publisher.adapters.base). A text is measured as the platform counts it (``Rules.length``: X's
weights) once; each mention, plain ASCII, is added arithmetically.

In right-to-left text (Urdu) a line of mentions is isolated left to right (``bidi.py``), or a
reader would see ``IndiaPost@``; the two invisible characters count towards the limit like any.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import regex

from publisher.adapters.base import Rules
from publisher.adapters.registry import adapter_class
from publisher.errors import FitError
from publisher.planning.bidi import LRI, PDI, closed
from publisher.vocabulary import Part

SEPARATOR = "\n\n"  # between the message and its tags
# A hashtag or mention starts a word: "(?<!\w)#\w+". Written with the "#" first, so that the
# regex engine skips from one "#" to the next instead of trying the look-behind at every
# character: ten times faster on a message, the same matches (tests/planning/test_fit.py).
HASHTAG = re.compile(r"#(?<!\w#)\w+")
MENTION = re.compile(r"@(?<!\w@)\w+")


@dataclass(frozen=True)
class _Lines:
    """How a line of mentions is written: ``@a @b``, wrapped in ``open`` and ``close`` (an
    isolate in right-to-left text) that add ``cost`` as the platform counts them."""

    open: str = ""
    close: str = ""
    cost: int = 0

    def of(self, tags: Sequence[str]) -> str:
        return self.open + _mentioned(tags) + self.close

    def after(self, message: str, tags: Sequence[str]) -> str:
        """The message, then its line of tags if it has any."""
        return message + SEPARATOR + self.of(tags) if tags else message

    def more(self, tag: str, opens: bool) -> int:
        """What one more ASCII ``@tag`` adds to a line: the wrapping where it opens the line,
        else a space."""
        return (self.cost if opens else 1) + len(tag) + 1

    def length(self, tags: Sequence[str]) -> int:
        return sum(self.more(t, opens=i == 0) for i, t in enumerate(tags))


def _mentioned(tags: Sequence[str]) -> str:
    return " ".join("@" + t for t in tags)


def _too_long(
    platform: str, length: int, limit: int, required: Sequence[str], unit: str
) -> FitError:
    tags = f" with its required tags ({_mentioned(required)})" if required else ""
    return FitError(
        f"on {platform} the message{tags} is {length} {unit}, over the limit of {limit}",
        f"cut at least {length - limit} {unit}, or give {platform} its own shorter text under "
        f"[platform_text.{platform}]",
    )


def _pack(tags: Sequence[str], limit: int, lines: _Lines) -> list[list[str]]:
    """ASCII mentions into as few lines (``@a @b``) of at most ``limit`` as possible, keeping
    their order."""
    groups: list[list[str]] = []
    length = 0  # of the last group's line
    for tag in tags:
        if groups and length + lines.more(tag, opens=False) <= limit:
            groups[-1].append(tag)
            length += lines.more(tag, opens=False)
        else:
            groups.append([tag])
            length = lines.more(tag, opens=True)
    return groups


def _main_and_rest(
    platform: str,
    rules: Rules,
    message: str,
    tags: Sequence[str],
    required: Sequence[str],
    lines: _Lines,
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
    length = rules.length(message) + (len(SEPARATOR) + lines.length(required) if required else 0)
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
        more = lines.more(rest[0], opens=not main) + (0 if main else len(SEPARATOR))
        if limit is not None and length + more > limit:
            break
        length += more
        main.append(rest.pop(0))
    return main, rest, room


def fit(
    platform: str,
    message: str,
    tags: Sequence[str],
    required: Sequence[str],
    *,
    rtl: bool = False,
) -> list[Part]:
    """The parts a delivery publishes on ``platform``, by its adapter's rules; ``required`` tags
    must be in the first. ``rtl``: the message is right-to-left, so its lines of mentions are
    isolated left to right.

    Raises:
        FitError: the message with its required tags exceeds the platform's limit, or the tags
            cannot all be placed where the platform allows them.
    """
    rules = adapter_class(platform).rules
    if not rules.mentions:
        return [Part("post", message, [])]
    lines = _Lines(LRI, PDI, rules.length(LRI + PDI)) if rtl else _Lines()
    if rules.overflow == "none":  # every tag in the post itself
        text = lines.after(message, tags)
        length = rules.length(text)
        if rules.text_limit is not None and length > rules.text_limit:
            unit = rules.length_unit
            raise _too_long(platform, length, rules.text_limit, tags, unit)
        return [Part("post", text, list(tags))]
    main, rest, room = _main_and_rest(platform, rules, message, tags, required, lines)
    parts = [Part("post", lines.after(message, main), main)]
    if not rest:
        return parts
    if rules.overflow == "comment":
        if rules.max_mentions is not None and len(rest) > rules.max_mentions:
            raise FitError(
                f"on {platform} {len(main) + len(rest)} accounts would be mentioned",
                f"the post and its first comment take {room + rules.max_mentions} at most",
            )
        return [*parts, Part("comment", lines.of(rest), rest)]
    lead = reply_lead(message, rules)
    limit = (rules.text_limit or 0) - rules.length(lead) - 1  # mentions are ASCII: 1 each
    replies = _pack(rest, limit, lines)
    return [*parts, *(Part("reply", lead + "\n" + lines.of(g), g) for g in replies)]


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
    return closed("".join(graphemes).rstrip() + "…")
