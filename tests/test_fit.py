"""Each platform's limits, counted the platform's way; nothing is ever cut silently."""

from __future__ import annotations

import pytest
from twitter_text import parse_tweet

from publisher.fit import FitError, fit, x_length

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
    for part in parts:
        assert x_length(part.text) <= 280
        assert part.text.split() == ["@" + t for t in part.tags] or part.kind == "post"


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
