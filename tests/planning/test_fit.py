"""Each platform's limits, counted the platform's way; nothing is ever cut silently."""

from __future__ import annotations

import re
import unicodedata
from itertools import pairwise

import pytest
import regex
from babel.messages.pofile import read_po
from hypothesis import example, given, settings
from hypothesis import strategies as st
from twitter_text import parse_tweet
from twitter_text.config import config
from twitter_text.regexp.emoji import (
    emoji,
    emoji_list,
    single_codepoint_emoji_ranges,
    single_codepoint_emoji_raw,
)
from twitter_text.regexp.valid_cctld import valid_cctld
from twitter_text.regexp.valid_gtld import valid_gtld
from twitter_text.regexp.valid_punycode import valid_punycode

from publisher.adapters.x import XAdapter
from publisher.adapters.x_length import X_EMOJI, X_ONE_UNIT, needs_parse, x_length
from publisher.errors import FitError
from publisher.planning.fit import HASHTAG, MENTION, fit, reply_lead
from tests.support.files import REPO

CIRCLES = [f"Circle{n:02d}PostOffice" for n in range(1, 25)]  # 24 circles, 18 characters each


def test_280_devanagari_letters_fit_and_281_do_not() -> None:
    assert x_length("क" * 280) == 280
    [part] = fit("x", "क" * 280, [], [])
    assert part.text == "क" * 280
    with pytest.raises(
        FitError, match="is 281 weighted characters, over the limit of 280; cut at least 1"
    ):
        fit("x", "क" * 281, [], [])


def test_tamil_and_bengali_count_one_each() -> None:
    assert x_length("த" * 100 + "ব" * 100) == 200


def test_a_url_counts_23_whatever_its_length() -> None:
    url = "https://www.indiapost.gov.in/VAS/Pages/Schemes/SukanyaSamriddhiAccount.aspx"
    assert x_length(url) == 23
    assert x_length(f"योजना: {url}") == len("योजना: ") + 23


def test_a_family_emoji_counts_2() -> None:
    assert x_length("👨‍👩‍👧‍👦") == 2
    assert x_length("डाक 👍") == 4 + 2


def test_text_is_normalised_before_counting() -> None:
    decomposed = "e\u0301" * 140  # é as e + combining accent: 280 code points, 140 after NFC
    assert x_length(decomposed) == 140


@pytest.mark.parametrize(
    "message",
    [
        "भारतीय डाक: सुकन्या समृद्धि योजना में 8.2% ब्याज। https://indiapost.gov.in",
        "பொங்கல் நல்வாழ்த்துகள்! 🎉 #IndiaPost",
        "ভারতীয় ডাক " * 12,
        "Happy Pongal! " * 15,
    ],
)
def test_tag_lengths_added_arithmetically_match_twitter_text(message: str) -> None:
    """Parsing is done once per message; the tags' lengths are added by arithmetic."""
    parts = fit("x", message, CIRCLES, CIRCLES[:1])
    for part in parts:
        assert parse_tweet(part.text).weightedLength <= 280
    main = parts[0]
    assert parse_tweet(main.text).weightedLength == x_length(main.text)
    # One more tag would not have fitted: the main post is filled, not cut short.
    if len(parts) > 1:
        bigger = main.text + " @" + parts[1].tags[0]
        assert parse_tweet(bigger).weightedLength > 280


def test_x_overflow_goes_into_a_reply_thread_in_order() -> None:
    message = "भारतीय डाक की ओर से सभी को दीपावली की हार्दिक शुभकामनाएँ।"
    parts = fit("x", message, ["IndiaPostOffice", *CIRCLES], ["IndiaPostOffice"])
    assert parts[0].kind == "post"
    assert parts[0].text.startswith(message + "\n\n@IndiaPostOffice ")
    assert [p.kind for p in parts[1:]] == ["reply"] * (len(parts) - 1)
    assert len(parts) >= 2
    tagged = [t for p in parts for t in p.tags]
    assert tagged == ["IndiaPostOffice", *CIRCLES]  # every tag once, in policy order
    for part in parts[1:]:
        assert part.text.split("\n") == [
            reply_lead(message, XAdapter.rules),
            " ".join("@" + t for t in part.tags),
        ]
    for part in parts:
        assert x_length(part.text) <= 280


handles = st.text("abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=15)


@settings(max_examples=300, deadline=None)
@given(st.lists(handles, unique=True, max_size=60), st.integers(0, 250))
def test_x_fills_the_post_then_each_reply_as_far_as_it_goes(tags: list[str], size: int) -> None:
    """Every tag once, in order; no text over 280; a reply starts only where the tag would not
    fit into the text before it."""
    message = "क" * size
    parts = fit("x", message, tags, [])
    assert [t for p in parts for t in p.tags] == tags
    for before, after in pairwise(parts):
        assert x_length(f"{before.text} @{after.tags[0]}") > 280 or not before.tags
    for part in parts:
        assert x_length(part.text) <= 280
        lead = reply_lead(message, XAdapter.rules)
        assert part.kind == "post" or part.text == lead + "\n" + " ".join(
            "@" + t for t in part.tags
        )


def test_each_reply_opens_with_its_own_posts_words() -> None:
    """X refuses a text identical to one the account posted recently: two posts overflowing
    the same tags get replies that differ, each opened by the start of its own message."""
    stamps = fit("x", "नए डाक टिकट आज से उपलब्ध।", CIRCLES, [])
    savings = fit("x", "सुकन्या योजना: 8.2% ब्याज।", CIRCLES, [])
    assert len(stamps) > 1 and len(savings) > 1
    assert {p.text for p in stamps[1:]}.isdisjoint(p.text for p in savings[1:])
    assert stamps[1].text.startswith("नए डाक टिकट आज से उपलब्ध।\n@")


def test_a_long_first_line_opens_replies_cut_whole_to_40_weighted_characters() -> None:
    message = "हरियाणा डाक परिमंडल की ओर से सभी नागरिकों को नववर्ष की हार्दिक शुभकामनाएँ\nदूसरी पंक्ति"
    lead = reply_lead(message, XAdapter.rules)
    assert lead.endswith("…")
    assert x_length(lead) <= 40
    assert message.startswith(lead.removesuffix("…"))
    assert regex.fullmatch(r"\X*", lead)  # no syllable cut in half: the next is whole or absent
    whole = regex.findall(r"\X", message)
    kept = regex.findall(r"\X", lead.removesuffix("…"))
    assert whole[: len(kept)] == kept


def test_required_tags_that_do_not_fit_are_a_clear_refusal() -> None:
    with pytest.raises(FitError) as err:
        fit("x", "अ" * 270, ["IndiaPostOffice"], ["IndiaPostOffice"])  # 270 + 2 + 16
    assert str(err.value) == (
        "on x the message with its required tags (@IndiaPostOffice) is 288 weighted characters, "
        "over the limit of 280; cut at least 8 weighted characters, or give x its own shorter "
        "text under [platform_text.x]"
    )


def test_instagram_mentions_over_20_go_to_the_first_comment() -> None:
    parts = fit("instagram", "भारतीय डाक", ["indiapost", *CIRCLES], ["indiapost"])
    assert [p.kind for p in parts] == ["post", "comment"]
    assert len(parts[0].tags) == 20
    assert parts[0].tags[0] == "indiapost"
    assert parts[1].tags == CIRCLES[19:]
    assert parts[1].text == " ".join("@" + t for t in CIRCLES[19:])


def test_instagram_counts_mentions_already_in_the_message() -> None:
    message = "With " + " ".join(f"@friend{n}" for n in range(18))
    parts = fit("instagram", message, CIRCLES[:5], [])
    assert len(parts[0].tags) == 2
    assert parts[1].tags == CIRCLES[2:5]


@given(st.text(alphabet="ab_1#@ .,\nकि\u094d\u200dé", max_size=30))
@example("mail@example.org @a #b c#d ##e @@f")
def test_hashtags_and_mentions_count_where_a_word_starts(text: str) -> None:
    """Instagram's hashtag and mention counts: a # or @ where a word starts (not in a@b.org or
    c#d), each with the word after it, exactly as the plain look-behind pattern finds them."""
    assert HASHTAG.findall(text) == re.findall(r"(?<!\w)#\w+", text)
    assert MENTION.findall(text) == re.findall(r"(?<!\w)@\w+", text)


def test_instagram_refuses_more_than_30_hashtags() -> None:
    with pytest.raises(FitError, match="31 hashtags, over the limit of 30; remove at least 1"):
        fit("instagram", " ".join(f"#tag{n}" for n in range(31)), [], [])


def test_instagram_caption_limit_is_2200() -> None:
    assert len(fit("instagram", "क" * 2200, [], [])[0].text) == 2200
    with pytest.raises(FitError, match="2201 characters, over the limit of 2200"):
        fit("instagram", "क" * 2201, [], [])


def test_facebook_takes_every_tag_in_the_post() -> None:
    [part] = fit("facebook", "India Post", CIRCLES, CIRCLES[:1])
    assert part.tags == CIRCLES
    assert part.text == "India Post\n\n" + " ".join("@" + t for t in CIRCLES)


def test_email_carries_no_tags() -> None:
    [part] = fit("email", "Photographs of the Pongal cover release are attached.", CIRCLES, [])
    assert part.tags == []
    assert "@" not in part.text


def catalog_words() -> list[str]:
    """Every word of every shipped translation: each script the circles write in (Telugu,
    Gurmukhi, Odia, Urdu's Arabic with its marks and punctuation, …), as the catalogs write it."""
    words: set[str] = set()
    for path in sorted((REPO / "templates" / "locale").glob("*/LC_MESSAGES/messages.po")):
        with path.open("rb") as f:
            for message in read_po(f):
                if message.id and isinstance(message.string, str):
                    words.update(re.sub(r"%\(\w+\)s", " ", message.string).split())
    return sorted(words)


# Pieces of the texts the templates write (every catalog's words, digits, punctuation, rates,
# rupees, mentions, hashtags, joiners, the isolates around left-to-right pieces of Urdu), and
# pieces that send a text to twitter-text's parse (URLs, emoji, \r\n, a dot before a letter), or
# weigh 2 (CJK, symbols).
PLAIN = [
    *(w for w in catalog_words() if not needs_parse(unicodedata.normalize("NFC", w))),
    "\u2066",
    "\u2069",
    "सुकन्या समृद्धि योजना",
    "ब्याज दर",
    "न्यूनतम जमा",
    "சேமிப்பு திட்டம்",
    "வட்டி",
    "সঞ্চয় প্রকল্প",
    "সুদ",
    "बचत योजना",
    "Sukanya Samriddhi Yojana",
    "8.2%",
    "8.20%",
    "₹250",
    "₹1,50,000",
    "२५०",
    "௨௫௦",
    "২৫০",
    "@IndiaPostOffice",
    "@TNPostalCircle",
    "#SSY",
    "#डाक",
    " ",
    "\n",
    "\n\n",
    ".",
    ", ",
    ": ",
    "! ",
    "? ",
    "(",
    ")",
    "-",
    "\u2013",
    "\u2014",
    "'",
    '"',
    "\u201c",
    "\u201d",
    "/",
    "%",
    "e\u0301",
    "\u200c",
    "\u200d",
    "क्\u200dष",
    "Rs. ",
    "No. 5",
    "...",
    "…",
    "日本",
    "한국",
]
PARSED = [
    "indiapost.gov.in",
    "www.indiapost.gov.in/SSY",
    "https://x.com/IndiaPostOffice",
    "http://t.co",
    "डाक.भारत",
    "a.b",
    "ok.Next",
    "©",
    "®",
    "™",
    "😀",
    "👨\u200d👩\u200d👧",
    "#\ufe0f\u20e3",
    "1\ufe0f\u20e3",
    "\r\n",
    "\r",
    "\U0001f1ee\U0001f1f3",
    "\u203c",
    "\u2b50",
]
plain_texts = st.lists(st.sampled_from(PLAIN), max_size=60).map(" ".join)
any_texts = st.lists(
    st.one_of(st.sampled_from(PLAIN), st.sampled_from(PARSED), st.text(max_size=3)),
    max_size=60,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(plain_texts)
@example("सुकन्या समृद्धि योजना: ब्याज 8.2%, न्यूनतम जमा ₹250\n\n@IndiaPostOffice")
def test_plain_texts_are_weighed_without_a_parse_as_twitter_text_weighs_them(text: str) -> None:
    """The texts the templates write need no twitter-text parse, and get its length."""
    assert not needs_parse(unicodedata.normalize("NFC", text))
    assert x_length(text) == parse_tweet(text).weightedLength


@settings(max_examples=1500, deadline=None)
@given(any_texts)
def test_x_length_of_any_text_is_twitter_texts(text: str) -> None:
    assert x_length(text) == parse_tweet(text).weightedLength


@pytest.mark.parametrize("piece", PARSED)
def test_texts_with_urls_or_emoji_are_parsed(piece: str) -> None:
    text = f"योजना {piece} 8.2%"
    assert needs_parse(unicodedata.normalize("NFC", text))
    assert x_length(text) == parse_tweet(text).weightedLength


def test_weighing_without_a_parse_rests_on_twitter_texts_own_tables() -> None:
    """If twitter-text-parser changes its weights, emoji or domains, this fails before a length
    goes wrong: every premise of needs_parse, read from the package."""
    defaults = config["defaults"]
    assert defaults["scale"] == 100
    assert defaults["default_weight"] == 200
    assert defaults["transformed_url_length"] == 23
    ranges = defaults["ranges"]
    assert tuple((r["start"], r["end"]) for r in ranges) == X_ONE_UNIT
    assert {r["weight"] for r in ranges} == {100}
    # Every emoji the package finds holds a character that sends the text to its parse.
    for e in emoji_list:
        assert {chr(int(c, 16)) for c in e.codepoint.split()} & set(X_EMOJI), e
    single = {chr(c) for a, b in single_codepoint_emoji_ranges for c in range(a, b + 1)}
    assert single <= set(X_EMOJI)
    assert f"[{single_codepoint_emoji_raw}]" in emoji.pattern
    # A URL needs a '.' before a top-level domain, and each starts with a letter.
    for pattern in (valid_gtld, valid_cctld):
        tlds = pattern.pattern.removeprefix("(?:(?:").partition(")(?=")[0].split("|")
        assert len(tlds) > 300
        assert all(tld[0].isalpha() for tld in tlds)
    assert valid_punycode.pattern.startswith("(?:xn--")


def test_required_tags_beyond_instagrams_mentions_are_refused_as_too_many_mentions() -> None:
    """A short caption whose message and required tags mention more than 20 accounts: the
    officer is told it is the mentions, not the length (it was "over the limit of 2200")."""
    message = "भारतीय डाक " + " ".join(f"@office{n}" for n in range(18))
    with pytest.raises(FitError, match="mentions 21 accounts, over the limit of 20") as err:
        fit("instagram", message, CIRCLES[:3], CIRCLES[:3])
    assert "2200" not in str(err.value)
