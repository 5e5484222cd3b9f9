"""The X adapter over real HTTP against the fake X API: tweepy and OAuth 1.0a on the wire."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from publisher.adapters.base import Media, Outgoing
from publisher.adapters.x import XAdapter
from publisher.config.organisation import Account
from publisher.config.platforms import PlatformOptions
from publisher.errors import (
    AuthError,
    PermanentError,
    RateLimitedError,
    TransientError,
    UncertainError,
)
from publisher.planning.fit import fit
from publisher.vocabulary import Amplified, Part, Receipt
from tests.fakes.x_api import FakeX

SECRETS = {
    "consumer_key": "ip-app-key",
    "consumer_secret": "ip-app-secret",
    "access_token": "1001-haryana-token",
    "access_token_secret": "haryana-secret",
}
ACCOUNT = Account(platform="x", handle="HaryanaPostal", locales=["hi"], platform_id="1001")


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeX]:
    with FakeX(clock) as server:
        server.add_user("1001", "HaryanaPostal", *SECRETS.values())
        yield server


def adapter(fake: FakeX, clock: Clock, timeout: float = 5, **secrets: str) -> XAdapter:
    options = PlatformOptions(api_base_url=fake.url, timeout_seconds=timeout)
    return XAdapter(ACCOUNT, {**SECRETS, **secrets}, options, clock)


def delivery(
    *parts: str, media: list[Media] | None = None, key: str = "p1|x:HaryanaPostal|hi"
) -> Outgoing:
    return Outgoing(
        delivery_id=1,
        idempotency_key=key,
        account="x:HaryanaPostal",
        platform="x",
        locale="hi",
        parts=[Part("post" if i == 0 else "reply", t, []) for i, t in enumerate(parts)],
        tags=[],
        media=media or [],
    )


def test_publish_posts_the_exact_text_signed_as_the_account(fake: FakeX, clock: Clock) -> None:
    receipt = adapter(fake, clock).publish(delivery("हरियाणा डाक परिमंडल: नए डाक टिकट"))
    [tweet] = fake.tweets
    assert (tweet.author_id, tweet.text) == ("1001", "हरियाणा डाक परिमंडल: नए डाक टिकट")
    assert receipt.remote_id == tweet.id
    assert receipt.url == f"https://x.com/HaryanaPostal/status/{tweet.id}"
    [request] = fake.requests
    assert request.json == {"text": "हरियाणा डाक परिमंडल: नए डाक टिकट"}


def test_overflow_tags_become_a_reply_thread(fake: FakeX, clock: Clock) -> None:
    receipt = adapter(fake, clock).publish(delivery("main @IndiaPostOffice", "@TN @WB", "@MH"))
    main, first, second = fake.tweets
    assert (first.reply_to, second.reply_to) == (main.id, first.id)
    assert receipt.part_ids == [first.id, second.id]


def test_two_posts_overflowing_the_same_tags_each_get_their_replies(
    fake: FakeX, clock: Clock
) -> None:
    """X refuses a text the account posted recently (the fake does too): the overflow replies of
    two posts carry the same tags, so each opens with its own post's words."""
    circles = [f"Circle{n:02d}PostOffice" for n in range(1, 25)]
    x = adapter(fake, clock)
    for n, message in enumerate(["नए डाक टिकट आज से उपलब्ध।", "सुकन्या योजना: 8.2% ब्याज।"]):
        parts = fit("x", message, circles, [])
        receipt = x.publish(
            Outgoing(n, f"p{n}|x:HaryanaPostal|hi", "x:HaryanaPostal", "x", "hi", parts, [], [])
        )
        assert len(receipt.part_ids) == len(parts) - 1  # every reply went out
    replies = [t for t in fake.tweets if t.reply_to]
    assert len({t.text for t in replies}) == len(replies) >= 2


def test_photos_are_uploaded_with_alt_text_and_attached(
    fake: FakeX, clock: Clock, tmp_path: Path
) -> None:
    photo = tmp_path / "stamp.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    adapter(fake, clock).publish(delivery("नया टिकट", media=[Media(photo, "मोर का डाक टिकट")]))
    [(media_id, media)] = fake.media.items()
    assert media.size == 208
    assert media.alt_text == "मोर का डाक टिकट"
    assert fake.tweets[0].media_ids == [media_id]


def test_rate_limit_is_honoured_to_the_second(fake: FakeX, clock: Clock) -> None:
    reset = int(clock().timestamp()) + 437
    fake.fail_next("rate_limit", reset=reset)
    with pytest.raises(RateLimitedError) as err:
        adapter(fake, clock).publish(delivery("text"))
    assert err.value.retry_after == 437
    assert fake.tweets == []


def test_spent_daily_allowance_waits_for_its_reset(fake: FakeX, clock: Clock) -> None:
    fake.fail_next("rate_limit", reset=int(clock().timestamp()) + 60, daily=True,
                   daily_reset=int(clock().timestamp()) + 7200)  # fmt: skip
    with pytest.raises(RateLimitedError) as err:
        adapter(fake, clock).publish(delivery("text"))
    assert err.value.retry_after == 7200


def test_server_error_is_transient(fake: FakeX, clock: Clock) -> None:
    fake.fail_next("server_error", status=503)
    with pytest.raises(TransientError, match="503"):
        adapter(fake, clock).publish(delivery("text"))


def test_revoked_token_is_an_auth_error(fake: FakeX, clock: Clock) -> None:
    with pytest.raises(AuthError, match="HaryanaPostal"):
        adapter(fake, clock, access_token_secret="revoked").publish(delivery("text"))


def test_duplicate_content_is_reconciled_not_posted_again(fake: FakeX, clock: Clock) -> None:
    x = adapter(fake, clock)
    first = x.publish(delivery("एक ही पोस्ट"))
    again = x.publish(delivery("एक ही पोस्ट"))
    assert again.remote_id == first.remote_id
    assert fake.count_posts() == 1


def test_connection_dropped_after_storing_is_uncertain_then_reconciled(
    fake: FakeX, clock: Clock
) -> None:
    fake.fail_next("drop_after_store")
    x = adapter(fake, clock)
    with pytest.raises(UncertainError):
        x.publish(delivery("पोस्ट जो पहुँच गई"))
    found = x.find_existing(delivery("पोस्ट जो पहुँच गई"))
    assert isinstance(found, Receipt)
    assert found.remote_id == fake.tweets[0].id
    assert fake.count_posts() == 1


def test_connection_dropped_before_storing_reconciles_to_nothing(fake: FakeX, clock: Clock) -> None:
    fake.fail_next("drop_before_store")
    x = adapter(fake, clock)
    with pytest.raises(UncertainError):
        x.publish(delivery("पोस्ट जो नहीं पहुँची"))
    assert x.find_existing(delivery("पोस्ट जो नहीं पहुँची")) is None


def test_a_silent_server_times_out_as_uncertain(fake: FakeX, clock: Clock) -> None:
    fake.fail_next("timeout", seconds=3)
    with pytest.raises(UncertainError, match="no answer"):
        adapter(fake, clock, timeout=0.5).publish(delivery("text"))


def test_unreachable_server_is_transient(clock: Clock) -> None:
    options = PlatformOptions(api_base_url="http://127.0.0.1:9", timeout_seconds=2)
    with pytest.raises(TransientError, match="cannot reach X"):
        XAdapter(ACCOUNT, SECRETS, options, clock).publish(delivery("text"))


def test_refused_content_is_permanent(fake: FakeX, clock: Clock) -> None:
    fake.fail_next("server_error", status=400)
    with pytest.raises(PermanentError, match="400"):
        adapter(fake, clock).publish(delivery("text"))


def test_metrics_read_public_metrics(fake: FakeX, clock: Clock) -> None:
    x = adapter(fake, clock)
    receipt = x.publish(delivery("text"))
    fake.set_metrics(receipt.remote_id, like_count=12, retweet_count=3, quote_count=1,
                     reply_count=2, impression_count=450)  # fmt: skip
    assert x.metrics([receipt])[str(receipt.remote_id)].__dict__ == {
        "likes": 12,
        "shares": 4,
        "comments": 2,
        "views": 450,
    }


def test_check_reports_the_signed_in_account(fake: FakeX, clock: Clock) -> None:
    assert adapter(fake, clock).check().detail == "signed in as @HaryanaPostal"
    bad = adapter(fake, clock, access_token_secret="revoked").check()
    assert not bad.valid


def test_missing_credential_fields_are_named(clock: Clock) -> None:
    with pytest.raises(AuthError, match="lacks access_token_secret"):
        XAdapter(ACCOUNT, {k: v for k, v in SECRETS.items() if k != "access_token_secret"},
                 PlatformOptions(), clock)  # fmt: skip


def test_reconcile_looks_only_after_the_delivery_was_due(fake: FakeX, clock: Clock) -> None:
    x = adapter(fake, clock)
    x.publish(delivery("पुरानी पोस्ट"))
    clock.now += timedelta(days=2)
    later = delivery("पुरानी पोस्ट")
    later = Outgoing(**{**later.__dict__, "not_before": clock.now})
    assert x.find_existing(later) is None


def test_reconcile_finds_a_post_hundreds_of_posts_back(fake: FakeX, clock: Clock) -> None:
    """A burst: the post whose answer was lost is followed by 250 more before it is looked for."""
    fake.fail_next("drop_after_store")
    x = adapter(fake, clock)
    with pytest.raises(UncertainError):
        x.publish(delivery("पोस्ट जो पहुँच गई"))
    for n in range(250):
        x.publish(delivery(f"सूचना {n}"))
    found = x.find_existing(delivery("पोस्ट जो पहुँच गई"))
    assert isinstance(found, Receipt)
    assert found.remote_id == fake.tweets[0].id


def test_retweet_shares_another_accounts_post(fake: FakeX, clock: Clock) -> None:
    fake.add_user(
        "1002", "IndiaPostOffice", "ip-app-key", "ip-app-secret", "1002-dop", "dop-secret"
    )
    directorate = XAdapter(
        Account(platform="x", handle="IndiaPostOffice", locales=["en"], platform_id="1002"),
        {**SECRETS, "access_token": "1002-dop", "access_token_secret": "dop-secret"},
        PlatformOptions(api_base_url=fake.url),
        clock,
    )
    original = directorate.publish(delivery("Dak Seva, Jan Seva"))
    adapter(fake, clock).retweet(str(original.remote_id))
    assert fake.retweets == [("1001", original.remote_id)]


def test_a_429_without_a_reset_waits_a_whole_window(fake: FakeX, clock: Clock) -> None:
    fake.fail_next("rate_limit", reset=0)
    with pytest.raises(RateLimitedError) as err:
        adapter(fake, clock).publish(delivery("text"))
    assert err.value.retry_after == 900


def test_reconcile_sees_through_links_and_entities_as_x_returns_them(
    fake: FakeX, clock: Clock
) -> None:
    text = (
        "Fake SMS about parcel fees & Q&A: see www.indiapost.gov.in or https://indiapost.gov.in/faq"
    )
    fake.fail_next("drop_after_store")
    x = adapter(fake, clock)
    with pytest.raises(UncertainError):
        x.publish(delivery(text))
    found = x.find_existing(delivery(text))
    assert found is not None and found.remote_id == fake.tweets[0].id


def retweet_of(remote_id: str | None, kind: str = "retweet") -> Outgoing:
    return Outgoing(
        delivery_id=2,
        idempotency_key="p1|x:HaryanaPostal|retweet",
        account="x:HaryanaPostal",
        platform="x",
        locale="en",
        parts=[],
        tags=[],
        media=[],
        kind=kind,
        source=Amplified(
            "x:IndiaPostOffice", remote_id, f"https://x.com/IndiaPostOffice/status/{remote_id}"
        ),
    )


@pytest.fixture
def directorate_tweet(fake: FakeX, clock: Clock) -> str:
    fake.add_user("1002", "IndiaPostOffice", "ip-app-key", "ip-app-secret", "1002-dop", "dop-s")
    directorate = XAdapter(
        Account(platform="x", handle="IndiaPostOffice", locales=["en"], platform_id="1002"),
        {**SECRETS, "access_token": "1002-dop", "access_token_secret": "dop-s"},
        PlatformOptions(api_base_url=fake.url),
        clock,
    )
    return str(directorate.publish(delivery("Dak Seva, Jan Seva")).remote_id)


def test_a_retweet_delivery_retweets_the_source_and_names_it(
    fake: FakeX, clock: Clock, directorate_tweet: str
) -> None:
    receipt = adapter(fake, clock).deliver(retweet_of(directorate_tweet))
    assert fake.retweets == [("1001", directorate_tweet)]
    assert receipt.remote_id == directorate_tweet
    assert receipt.url == f"https://x.com/IndiaPostOffice/status/{directorate_tweet}"
    [request] = [r for r in fake.requests if r.path == "/2/users/1001/retweets"]
    assert request.json == {"tweet_id": directorate_tweet}


def test_already_retweeted_means_done(fake: FakeX, clock: Clock, directorate_tweet: str) -> None:
    fake.refuse_repeated_retweets = True
    fake.retweet_as("1001", directorate_tweet)  # from the X app, by the nodal officer
    receipt = adapter(fake, clock).deliver(retweet_of(directorate_tweet))
    assert receipt.remote_id == directorate_tweet
    assert fake.requests[-1].path == "/2/users/1001/retweets"  # X was asked, and said 403
    assert fake.retweets == [("1001", directorate_tweet)]


def test_whether_the_account_has_retweeted_is_read_from_the_retweeters(
    fake: FakeX, clock: Clock, directorate_tweet: str
) -> None:
    x = adapter(fake, clock)
    assert x.find_delivered(retweet_of(directorate_tweet)) is None
    fake.retweet_as("1001", directorate_tweet)
    for n in range(150):  # after it, so it is on the second page of retweeters
        user = str(5000 + n)
        fake.add_user(user, f"follower{n}", "k", "s", f"{user}-t", "ts")
        fake.retweet_as(user, directorate_tweet)
    found = x.find_delivered(retweet_of(directorate_tweet))
    assert found is not None and found.remote_id == directorate_tweet
    pages = [r for r in fake.requests if r.path.endswith("/retweeted_by")]
    assert len(pages) == 3  # one before, two after
    assert pages[-1].query["pagination_token"]


def test_a_retweet_without_the_sources_id_fails_for_good(fake: FakeX, clock: Clock) -> None:
    with pytest.raises(PermanentError):
        adapter(fake, clock).deliver(retweet_of(None))
    with pytest.raises(PermanentError, match="cannot share"):
        adapter(fake, clock).deliver(retweet_of("1", kind="share"))
    assert fake.requests == []


def test_a_lost_retweet_answer_is_uncertain(
    fake: FakeX, clock: Clock, directorate_tweet: str
) -> None:
    fake.fail_next("drop_after_store", path_prefix="/2/users/1001/retweets")
    x = adapter(fake, clock)
    with pytest.raises(UncertainError):
        x.deliver(retweet_of(directorate_tweet))
    assert x.find_delivered(retweet_of(directorate_tweet)) is not None


@pytest.mark.parametrize(
    ("fault", "error"),
    [("rate_limit", RateLimitedError), ("server_error", TransientError)],
)
def test_retweet_errors_are_classified_like_publishing(
    fake: FakeX, clock: Clock, directorate_tweet: str, fault: str, error: type[Exception]
) -> None:
    fake.fail_next(fault, path_prefix="/2/users/1001/retweets")
    with pytest.raises(error):
        adapter(fake, clock).deliver(retweet_of(directorate_tweet))
    assert fake.retweets == []


def test_a_retweet_refused_for_good_is_permanent(fake: FakeX, clock: Clock) -> None:
    with pytest.raises(PermanentError, match="X refused"):
        adapter(fake, clock).deliver(retweet_of("1234567"))  # no such post on X
