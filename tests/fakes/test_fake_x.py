"""The fake X API speaks X's wire format: the real tweepy.Client and requests + OAuth1 work against
it over real HTTP on 127.0.0.1, through the RedirectAdapter the X adapter will use."""

from __future__ import annotations

import base64
import hashlib
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

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
UPLOAD = "https://api.x.com/2/media/upload"
MB = 1024 * 1024
INVALID = {"title": "Invalid Request", "type": "https://api.twitter.com/2/problems/invalid-request",
           "detail": "One or more parameters to your request was invalid."}  # fmt: skip


def with_users(server: FakeX) -> FakeX:
    server.add_user("1001", "IndiaPostOffice", *APP.values(), *TOKENS["1001"])
    server.add_user("1002", "KarnatakaPost", *APP.values(), *TOKENS["1002"])
    return server


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX() as server:
        yield with_users(server)


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


# Chunked media upload: initialize, append, finalize, status


def random_bytes(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def initialize(http: requests.Session, total: int, media_type: str = "video/mp4",
               category: str = "tweet_video") -> requests.Response:  # fmt: skip
    body = {"media_type": media_type, "total_bytes": total, "media_category": category}
    return http.post(f"{UPLOAD}/initialize", json=body, timeout=5)


def append(http: requests.Session, media_id: str, index: int, chunk: bytes) -> requests.Response:
    """A segment as X's own clients send it: multipart ``media`` and ``segment_index``."""
    files = {"media": ("blob", chunk, "application/octet-stream")}
    url = f"{UPLOAD}/{media_id}/append"
    return http.post(url, data={"segment_index": str(index)}, files=files, timeout=10)


def finalize(http: requests.Session, media_id: str) -> requests.Response:
    return http.post(f"{UPLOAD}/{media_id}/finalize", timeout=5)


def status(http: requests.Session, media_id: str) -> requests.Response:
    return http.get(UPLOAD, params={"command": "STATUS", "media_id": media_id}, timeout=5)


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[at : at + size] for at in range(0, len(data), size)]


def upload(http: requests.Session, data: bytes, media_type: str = "video/mp4",
           category: str = "tweet_video", chunk: int = MB) -> str:  # fmt: skip
    """A whole chunked upload, finalized; the media id."""
    media_id: str = initialize(http, len(data), media_type, category).json()["data"]["id"]
    for index, segment in enumerate(chunks(data, chunk)):
        assert append(http, media_id, index, segment).status_code == 200
    assert finalize(http, media_id).status_code == 200
    return media_id


def processed(http: requests.Session, media_id: str, seconds: float = 5) -> dict[str, Any]:
    """STATUS polled until the processing ends; its last processing_info."""
    deadline = time.monotonic() + seconds
    while True:
        info: dict[str, Any] = status(http, media_id).json()["data"]["processing_info"]
        if info["state"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return info
        time.sleep(0.05)


def test_a_chunked_video_is_appended_processed_and_posted() -> None:
    now = [datetime(2026, 3, 1, 9, 30, tzinfo=UTC)]
    with FakeX(clock=lambda: now[0], processing_seconds=4) as fake:
        with_users(fake)
        http, video = session(fake), random_bytes(3 * MB + 12345)
        init = initialize(http, len(video))
        assert init.status_code == 200
        data = init.json()["data"]
        media_id = data["id"]
        assert data == {"id": media_id, "media_key": f"7_{media_id}", "expires_after_secs": 86400}
        for index, segment in enumerate(chunks(video, MB)):
            appended = append(http, media_id, index, segment)
            assert appended.status_code == 200
            assert appended.json() == {"data": {"expires_at": int(now[0].timestamp()) + 86400}}
        final = finalize(http, media_id)
        assert final.status_code == 200
        assert final.json()["data"] == {
            "id": media_id,
            "media_key": f"7_{media_id}",
            "size": len(video),
            "expires_after_secs": 86400,
            "processing_info": {"state": "pending", "check_after_secs": 4},
        }
        assert status(http, media_id).json()["data"]["processing_info"]["state"] == "pending"
        now[0] += timedelta(seconds=1)
        during = status(http, media_id).json()["data"]
        assert during["processing_info"] == {
            "state": "in_progress",
            "check_after_secs": 3,
            "progress_percent": 25,
        }
        assert during["expires_after_secs"] == 86399
        now[0] += timedelta(seconds=3)
        done = status(http, media_id).json()["data"]["processing_info"]
        assert done == {"state": "succeeded", "progress_percent": 100}

        api = client(fake)
        tweet = api.create_tweet(text="Dak Seva: our new video", media_ids=[media_id])
        lookup = api.get_tweet(tweet.data["id"], tweet_fields=["attachments"], user_auth=True)
        assert lookup.data.attachments == {"media_keys": [f"7_{media_id}"]}
        medium = fake.media[media_id]
        assert (medium.size, medium.total_bytes, medium.sha256, medium.category,
                medium.content_type, medium.state, medium.appends) == (
            len(video), len(video), hashlib.sha256(video).hexdigest(), "tweet_video",
            "video/mp4", "succeeded", 4,
        )  # fmt: skip
        appends = [r for r in fake.requests if r.path.endswith("/append")]
        assert [r.form["segment_index"] for r in appends if r.form] == ["0", "1", "2", "3"]
        assert [("media" in r.files, r.file_sizes) for r in appends] == [
            (False, {"media": MB}), (False, {"media": MB}), (False, {"media": MB}),
            (False, {"media": 12345}),
        ]  # fmt: skip  # the log keeps no segment's bytes


def test_segments_may_come_in_any_order_but_each_only_once(fake: FakeX) -> None:
    http, image = session(fake), random_bytes(4 * MB + 100, seed=11)
    media_id = initialize(http, len(image), "image/png", "tweet_image").json()["data"]["id"]
    first, second, last = chunks(image, 2 * MB)
    assert append(http, media_id, 2, last).status_code == 200
    assert append(http, media_id, 0, first).status_code == 200
    again = append(http, media_id, 0, first)
    assert again.status_code == 400
    assert again.json() == INVALID | {
        "errors": [{"message": f"Segment [0] of media [{media_id}] was appended already"}]
    }
    as_json = {"media": base64.b64encode(second).decode(), "segment_index": 1}  # X takes both
    assert http.post(f"{UPLOAD}/{media_id}/append", json=as_json, timeout=10).status_code == 200
    final = finalize(http, media_id)
    assert final.json() == {  # an image: no processing_info, usable at once
        "data": {"id": media_id, "media_key": f"3_{media_id}", "size": len(image),
                 "expires_after_secs": 86400}
    }  # fmt: skip
    medium = fake.media[media_id]
    assert (medium.sha256, medium.appends, medium.state) == (
        hashlib.sha256(image).hexdigest(),
        3,
        "succeeded",
    )
    assert fake.requests[-2].json == {"segment_index": 1}  # the base64 segment is not logged
    assert fake.requests[-2].file_sizes == {"media": len(second)}
    unprocessed = status(http, media_id)
    assert unprocessed.status_code == 400
    assert unprocessed.json()["errors"] == [{"message": "BadRequest: Not found"}]
    late = append(http, media_id, 3, b"more")
    assert late.status_code == 400
    assert "finalized" in late.json()["errors"][0]["message"]
    client(fake).create_tweet(text="Our seal, large", media_ids=[media_id])
    assert fake.tweets[0].media_ids == [media_id]


def test_finalize_refuses_a_wrong_total_a_gap_and_an_unknown_id(fake: FakeX) -> None:
    http = session(fake)
    media_id = initialize(http, 1000).json()["data"]["id"]
    append(http, media_id, 0, bytes(999))
    short = finalize(http, media_id)
    assert short.status_code == 400
    assert short.json() == INVALID | {
        "errors": [{"message": "Segments do not add up to provided total file size."}]
    }
    assert fake.media[media_id].state == "uploading"
    append(http, media_id, 1, b"\x00")  # the missing byte
    assert finalize(http, media_id).json()["data"]["processing_info"]["state"] == "pending"

    gap = initialize(http, 300).json()["data"]["id"]
    append(http, gap, 0, bytes(100))
    append(http, gap, 2, bytes(200))  # 300 bytes, but segment 1 is missing
    assert finalize(http, gap).status_code == 400

    unknown = finalize(http, "1234567890123456789")
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == [{"message": "BadRequest: Not found"}]
    assert finalize(session(fake, "1002"), media_id).status_code == 400  # another user's
    assert status(http, "1234567890123456789").status_code == 400


def test_oversize_uploads_and_bodies_x_does_not_take_are_refused(fake: FakeX) -> None:
    http = session(fake)
    for category, media_type, limit in [("tweet_image", "image/jpeg", 5 * MB),
                                        ("tweet_gif", "image/gif", 15 * MB),
                                        ("tweet_video", "video/mp4", 512 * MB)]:  # fmt: skip
        over = initialize(http, limit + 1, media_type, category)
        assert over.status_code == 400
        assert over.json()["errors"] == [{"message": f"File size exceeds {limit} bytes."}]
        assert initialize(http, limit, media_type, category).status_code == 200
    media_id = initialize(http, 6 * MB).json()["data"]["id"]
    big = append(http, media_id, 0, bytes(5 * MB + 1))
    assert big.status_code == 400
    assert big.json()["errors"] == [{"message": "Segment size exceeds 5242880 bytes."}]
    assert (fake.media[media_id].size, fake.media[media_id].appends) == (0, 0)
    assert append(http, media_id, 0, bytes(5 * MB)).status_code == 200

    form = {"media_type": "video/mp4", "total_bytes": "10", "media_category": "tweet_video"}
    not_json = http.post(f"{UPLOAD}/initialize", data=form, timeout=5)
    assert not_json.json()["errors"] == [
        {"message": "Requests with bodies must have content-type of application/json."}
    ]
    files = {"media": ("clip.mp4", b"\x00" * 64, "video/mp4")}
    one_shot = http.post(UPLOAD, data={"media_category": "tweet_video"}, files=files, timeout=5)
    assert one_shot.status_code == 400  # videos go through the chunked upload
    retired = http.post(UPLOAD, params={"command": "INIT", "total_bytes": "10",
                                        "media_type": "video/mp4"}, timeout=5)  # fmt: skip
    assert retired.status_code == 400


def test_a_post_takes_processed_media_one_video_or_up_to_four_images(fake: FakeX) -> None:
    fake.processing_seconds = 3600
    http, api = session(fake), client(fake)
    video = upload(http, random_bytes(2 * MB + 5))
    with pytest.raises(tweepy.BadRequest, match="Your media IDs are invalid") as raised:
        api.create_tweet(text="Too soon", media_ids=[video])
    assert raised.value.response.json()["errors"] == [
        {"parameters": {"media.media_ids": [video]}, "message": "Your media IDs are invalid."}
    ]
    assert fake.media[video].state == "in_progress"
    fake.finish_processing(video)
    api.create_tweet(text="Now it is ready", media_ids=[video])

    files = {"media": ("seal.png", PNG, "image/png")}
    images = [http.post(UPLOAD, files=files, timeout=5).json()["data"]["id"] for _ in range(5)]
    api.create_tweet(text="Four stamps", media_ids=images[:4])
    with pytest.raises(tweepy.BadRequest, match="maximum of 4 items"):
        api.create_tweet(text="Five stamps", media_ids=images)
    with pytest.raises(tweepy.BadRequest, match="Your media IDs are invalid"):
        api.create_tweet(text="A video and a stamp", media_ids=[video, images[0]])
    other = upload(http, random_bytes(1000, seed=3))
    fake.finish_processing(other)
    with pytest.raises(tweepy.BadRequest, match="Your media IDs are invalid"):
        api.create_tweet(text="Two videos", media_ids=[video, other])
    assert [len(t.media_ids) for t in fake.tweets] == [1, 4]


def test_a_failed_processing_is_reported_by_status_and_refused_in_a_post(fake: FakeX) -> None:
    fake.processing_seconds = 0.2  # real time
    fake.fail_processing()  # the next upload's
    http = session(fake)
    media_id = upload(http, random_bytes(MB + 1), "image/gif", "tweet_gif")
    info = processed(http, media_id)
    assert info["state"] == "failed"
    assert info["error"] == {
        "code": 1,
        "name": "InvalidMedia",
        "message": "Unsupported video format",
    }
    assert set(info) == {"state", "progress_percent", "error"}
    assert fake.media[media_id].error == info["error"]
    with pytest.raises(tweepy.BadRequest, match="Your media IDs are invalid"):
        client(fake).create_tweet(text="A GIF that failed", media_ids=[media_id])

    healthy = upload(http, random_bytes(MB, seed=5))
    assert processed(http, healthy) == {"state": "succeeded", "progress_percent": 100}

    fake.processing_seconds = 3600
    slow = upload(http, random_bytes(MB, seed=6))
    fake.fail_processing(slow, code=3, name="UnsupportedMedia", message="Duration too long")
    failed = status(http, slow).json()["data"]["processing_info"]
    assert (failed["state"], failed["error"]["name"]) == ("failed", "UnsupportedMedia")


def test_faults_reach_the_upload_endpoints_so_retries_can_be_tested(fake: FakeX) -> None:
    http, video = session(fake), random_bytes(2 * MB)
    fake.fail_next("server_error", path_prefix="/2/media/upload/", path_suffix="/append", skip=1)
    media_id = initialize(http, len(video)).json()["data"]["id"]
    first, second = chunks(video, MB)
    ok = append(http, media_id, 0, first)
    assert ok.status_code == 200
    assert ok.headers["x-rate-limit-limit"] == "100"
    assert append(http, media_id, 1, second).status_code == 503  # the second APPEND
    assert append(http, media_id, 1, second).status_code == 200  # sent again
    assert fake.media[media_id].appends == 2

    fake.fail_next("drop_after_store", path_prefix="/2/media/upload/", path_suffix="/finalize")
    with pytest.raises(requests.ConnectionError):
        finalize(http, media_id)
    assert fake.media[media_id].state in ("pending", "in_progress")  # FINALIZE took effect
    again = finalize(http, media_id)  # a second FINALIZE answers the state
    assert again.status_code == 200
    assert again.json()["data"]["processing_info"]["state"] in ("pending", "in_progress")
    assert processed(http, media_id)["state"] == "succeeded"
