"""The fake X API speaks X's wire format: the real tweepy.Client and requests + OAuth1 work against
it over real HTTP on 127.0.0.1, through the RedirectAdapter the X adapter will use."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
import tweepy
from requests_oauthlib import OAuth1

from publisher.adapters.http import redirect
from tests.fakes.x_api import FakeX

HOSTS = ["https://api.twitter.com", "https://api.x.com"]
APP = {"consumer_key": "ip-app-key", "consumer_secret": "ip-app-secret"}
# tweepy reads the user id off the access token, as X's tokens start with it: "<id>-..."
TOKENS = {"1001": ("1001-dak-token", "dak-secret"), "1002": ("1002-circle-token", "circle-secret")}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 3  # binary, with CRLFs inside


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX() as server:
        server.add_user("1001", "IndiaPostOffice", *APP.values(), *TOKENS["1001"])
        server.add_user("1002", "KarnatakaPost", *APP.values(), *TOKENS["1002"])
        yield server


def client(fake: FakeX, user: str = "1001", app: dict[str, str] = APP) -> tweepy.Client:
    token, secret = TOKENS[user]
    api = tweepy.Client(**app, access_token=token, access_token_secret=secret)
    redirect(api.session, HOSTS, fake.url)
    return api


def session(fake: FakeX, user: str = "1001") -> requests.Session:
    """Plain requests with OAuth 1.0a, for the endpoints tweepy.Client lacks."""
    http = requests.Session()
    http.auth = OAuth1(APP["consumer_key"], APP["consumer_secret"], *TOKENS[user])
    redirect(http, HOSTS, fake.url)
    return http


def test_a_post_creates_the_tweet_with_the_exact_text(fake: FakeX) -> None:
    text = "Speed Post bookings open till 8 pm today. स्पीड पोस्ट बुकिंग आज रात 8 बजे तक।"
    response = client(fake).create_tweet(text=text)
    assert response.data["text"] == text
    assert response.data["edit_history_tweet_ids"] == [response.data["id"]]
    (tweet,) = fake.tweets
    assert (tweet.id, tweet.author_id, tweet.text) == (response.data["id"], "1001", text)
    (request,) = fake.requests
    assert (request.method, request.path, request.user_id) == ("POST", "/2/tweets", "1001")
    assert request.json == {"text": text}
    assert request.headers["Authorization"].startswith("OAuth ")
    assert fake.count_posts("1001") == 1
    assert fake.count_posts("1002") == 0


def test_a_reply_chain_keeps_its_conversation(fake: FakeX) -> None:
    api = client(fake)
    first = api.create_tweet(text="1/3 New Aadhaar services at head post offices").data["id"]
    second = api.create_tweet(text="2/3 Bring a photo id", in_reply_to_tweet_id=first).data["id"]
    third = api.create_tweet(text="3/3 Open 9 to 5", in_reply_to_tweet_id=second).data["id"]
    assert [t.reply_to for t in fake.tweets] == [None, first, second]
    assert int(first) < int(second) < int(third)  # snowflake ids grow
    fields = ["conversation_id", "in_reply_to_user_id", "referenced_tweets", "author_id"]
    tweet = api.get_tweet(third, tweet_fields=fields, user_auth=True).data
    assert (tweet.conversation_id, tweet.in_reply_to_user_id, tweet.author_id) == (
        int(first),
        1001,
        1001,
    )
    assert tweet.referenced_tweets[0].id == int(second)
    assert fake.requests[1].json == {
        "text": "2/3 Bring a photo id",
        "reply": {"in_reply_to_tweet_id": first},
    }


def test_a_bad_signature_is_unauthorized_and_stores_nothing(fake: FakeX) -> None:
    with pytest.raises(tweepy.Unauthorized) as raised:
        client(fake, app=APP | {"consumer_secret": "not-the-secret"}).create_tweet(text="hello")
    assert raised.value.response.json()["title"] == "Unauthorized"
    unsigned = requests.post(fake.url + "/2/tweets", json={"text": "hello"}, timeout=5)
    assert unsigned.status_code == 401
    assert unsigned.json() == {"title": "Unauthorized", "type": "about:blank", "status": 401,
                               "detail": "Unauthorized"}  # fmt: skip
    assert fake.tweets == []
    assert [r.user_id for r in fake.requests] == [None, None]


def test_the_same_text_twice_is_forbidden_as_duplicate_content(fake: FakeX) -> None:
    api = client(fake)
    api.create_tweet(text="Post office closed on 26 January")
    with pytest.raises(tweepy.Forbidden, match="duplicate content") as raised:
        api.create_tweet(text="Post office closed on 26 January")
    assert raised.value.response.json()["detail"] == (
        "You are not allowed to create a Tweet with duplicate content."
    )
    client(fake, "1002").create_tweet(text="Post office closed on 26 January")  # another user
    assert fake.count_posts() == 2


def test_a_rate_limit_is_429_with_reset_headers(fake: FakeX) -> None:
    fake.fail_next("rate_limit", reset=1_900_000_000, daily=True)
    api = client(fake)
    with pytest.raises(tweepy.TooManyRequests) as raised:
        api.create_tweet(text="one")
    headers = raised.value.response.headers
    assert headers["x-rate-limit-reset"] == "1900000000"
    assert raised.value.reset_time == 1_900_000_000
    assert (headers["x-rate-limit-remaining"], headers["x-user-limit-24hour-remaining"]) == (
        "0",
        "0",
    )
    assert int(headers["x-user-limit-24hour-reset"]) > datetime.now(UTC).timestamp()
    assert fake.tweets == []
    ok = api.create_tweet(text="one")  # the fault was used up
    assert ok.data["text"] == "one"
    assert fake.requests[-1].headers  # recorded too
    assert fake.count_posts() == 1


def test_a_server_error_is_twitter_server_error_and_faults_match_their_path(fake: FakeX) -> None:
    fake.fail_next("server_error", path_prefix="/2/users")
    fake.fail_next("server_error")
    api = client(fake)
    with pytest.raises(tweepy.TwitterServerError) as raised:
        api.create_tweet(text="Monsoon advisory")
    assert raised.value.response.status_code == 503
    api.create_tweet(text="Monsoon advisory")
    with pytest.raises(tweepy.TwitterServerError):
        api.get_me()
    assert fake.count_posts() == 1


def test_a_dropped_connection_after_storing_leaves_the_client_unsure(fake: FakeX) -> None:
    fake.fail_next("drop_after_store", method="POST")
    with pytest.raises(requests.ConnectionError):
        client(fake).create_tweet(text="Did this go out?")
    assert [t.text for t in fake.tweets] == ["Did this go out?"]

    fake.fail_next("drop_before_store")
    with pytest.raises(requests.ConnectionError):
        session(fake).post("https://api.x.com/2/tweets", json={"text": "Or this?"}, timeout=5)
    assert fake.count_posts() == 1


def test_a_slow_answer_times_the_client_out(fake: FakeX) -> None:
    fake.fail_next("timeout", seconds=2)
    with pytest.raises(requests.Timeout):
        session(fake).post("https://api.twitter.com/2/tweets", json={"text": "slow"}, timeout=0.2)


def test_the_user_timeline_pages_newest_first(fake: FakeX) -> None:
    api = client(fake)
    ids = [api.create_tweet(text=f"Philately day {n}").data["id"] for n in range(7)]
    client(fake, "1002").create_tweet(text="not in 1001's timeline")
    page = api.get_users_tweets(1001, max_results=5, tweet_fields=["created_at"], user_auth=True)
    assert [str(t.id) for t in page.data] == ids[:1:-1]
    assert page.meta["result_count"] == 5
    assert (page.meta["newest_id"], page.meta["oldest_id"]) == (ids[6], ids[2])
    assert page.data[0].created_at.tzinfo is not None
    rest = api.get_users_tweets(
        1001, max_results=5, pagination_token=page.meta["next_token"], user_auth=True
    )
    assert [str(t.id) for t in rest.data] == [ids[1], ids[0]]
    assert "next_token" not in rest.meta
    later = datetime.now(UTC) + timedelta(hours=1)
    none = api.get_users_tweets(1001, start_time=later, user_auth=True)
    assert (none.data, none.meta) == (None, {"result_count": 0})
    assert fake.requests[-1].query["start_time"] == later.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_public_metrics_and_retweets_come_back(fake: FakeX) -> None:
    tweet_id = client(fake).create_tweet(text="Dak Seva Jan Seva").data["id"]
    fake.set_metrics(tweet_id, like_count=12, impression_count=340)
    circle = client(fake, "1002")
    assert circle.retweet(tweet_id).data == {"retweeted": True}
    assert circle.retweet(tweet_id).data == {"retweeted": True}  # again: no change
    assert fake.retweets == [("1002", tweet_id)]
    found = circle.get_tweets([tweet_id, "42"], tweet_fields=["public_metrics"], user_auth=True)
    assert found.data[0].public_metrics == {
        "retweet_count": 1,
        "reply_count": 0,
        "like_count": 12,
        "quote_count": 0,
        "bookmark_count": 0,
        "impression_count": 340,
    }
    assert found.errors[0]["detail"] == "Could not find tweet with ids: [42]."
    assert circle.get_me().data.username == "KarnatakaPost"


def test_retweeters_come_back_newest_first_in_pages(fake: FakeX) -> None:
    tweet_id = client(fake).create_tweet(text="Dak Seva Jan Seva").data["id"]
    api = client(fake, "1002")
    assert api.get_retweeters(tweet_id, user_auth=True).meta == {"result_count": 0}
    api.retweet(tweet_id)
    fake.retweet_as("1001", tweet_id)
    first = api.get_retweeters(tweet_id, max_results=1, user_auth=True)
    assert [u.username for u in first.data] == ["IndiaPostOffice"]
    assert first.meta["result_count"] == 1
    rest = api.get_retweeters(
        tweet_id, max_results=1, pagination_token=first.meta["next_token"], user_auth=True
    )
    assert [(str(u.id), u.username) for u in rest.data] == [("1002", "KarnatakaPost")]
    assert "next_token" not in rest.meta
    missing = api.get_retweeters("42", user_auth=True)
    assert missing.errors[0]["detail"] == "Could not find tweet with id: [42]."


def test_a_repeated_retweet_can_be_refused_as_v1_did(fake: FakeX) -> None:
    tweet_id = client(fake).create_tweet(text="Dak Seva Jan Seva").data["id"]
    fake.refuse_repeated_retweets = True
    api = client(fake, "1002")
    api.retweet(tweet_id)
    with pytest.raises(tweepy.Forbidden, match="You have already retweeted this Tweet"):
        api.retweet(tweet_id)
    assert fake.retweets == [("1002", tweet_id)]


def test_media_upload_alt_text_and_a_tweet_with_it(fake: FakeX) -> None:
    http = session(fake)
    form = {"media_category": "tweet_image"}
    files = {"media": ("seal.png", PNG, "image/png")}
    upload = http.post("https://api.x.com/2/media/upload", data=form, files=files, timeout=5)
    assert upload.status_code == 200
    data = upload.json()["data"]
    assert data["media_key"] == "3_" + data["id"]
    assert (data["size"], data["expires_after_secs"]) == (len(PNG), 86400)
    alt = "The India Post seal, red on white"
    metadata = {"id": data["id"], "metadata": {"alt_text": {"text": alt}}}
    answer = http.post("https://api.x.com/2/media/metadata", json=metadata, timeout=5)
    assert answer.json()["data"]["associated_metadata"]["alt_text"]["text"] == alt
    media = fake.media[data["id"]]
    assert (media.size, media.content_type, media.category, media.alt_text) == (
        len(PNG),
        "image/png",
        "tweet_image",
        alt,
    )
    assert fake.requests[0].files["media"] == (PNG, "image/png")
    api = client(fake)
    tweet = api.create_tweet(text="Our seal", media_ids=[data["id"]])
    assert fake.tweets[0].media_ids == [data["id"]]
    lookup = api.get_tweet(tweet.data["id"], tweet_fields=["attachments"], user_auth=True)
    assert lookup.data.attachments == {"media_keys": [data["media_key"]]}
    with pytest.raises(tweepy.BadRequest, match="Your media IDs are invalid"):
        client(fake, "1002").create_tweet(text="Not my media", media_ids=[data["id"]])


def test_unknown_replies_and_routes_are_refused_in_xs_shapes(fake: FakeX) -> None:
    api = client(fake)
    with pytest.raises(tweepy.BadRequest) as raised:
        api.create_tweet(text="reply to nothing", in_reply_to_tweet_id="123")
    assert raised.value.response.json()["title"] == "Invalid Request"
    gone = api.create_tweet(text="soon gone").data["id"]
    assert api.delete_tweet(gone).data == {"deleted": True}
    with pytest.raises(tweepy.Forbidden, match="deleted or not visible"):
        api.create_tweet(text="reply to a deleted tweet", in_reply_to_tweet_id=gone)
    assert session(fake).get("https://api.twitter.com/2/spaces", timeout=5).status_code == 404


def test_a_lookup_of_more_than_100_ids_is_refused_as_x_does(fake: FakeX) -> None:
    api = client(fake)
    with pytest.raises(tweepy.BadRequest) as refused:
        api.get_tweets([str(n) for n in range(1, 102)], user_auth=True)
    assert "is not between 1 and 100" in refused.value.api_messages[0]
    found = api.get_tweets([str(n) for n in range(1, 101)], user_auth=True)
    assert len(found.errors) == 100  # 100 is accepted: none of these ids exists
