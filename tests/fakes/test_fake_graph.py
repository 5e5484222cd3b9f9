"""FakeGraph driven by the real facebook-sdk client over HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import facebook
import pytest
import requests

from publisher.adapters.http import redirect
from tests.fakes.graph_api import FakeGraph

PAGE, IG = "104000000000001", "17841400000000001"
PAGE_TOKEN, IG_TOKEN = "EAAB-page-dak-sewa", "EAAB-ig-dak-sewa"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # binary, with CR LF and boundary-like bytes


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph() as server:
        server.add_page(PAGE, "India Post", PAGE_TOKEN)
        server.add_instagram(IG, "indiapost", IG_TOKEN)
        yield server
    assert server.errors == []  # a bug in the fake would otherwise pass as a code-1 answer


def client(fake: FakeGraph, token: str, timeout: float = 5) -> facebook.GraphAPI:
    graph = facebook.GraphAPI(access_token=token, timeout=timeout)
    redirect(graph.session, ["https://graph.facebook.com"], fake.url)
    graph.version = "v21.0"  # the constructor stops at v3.1; the project pins a current one
    return graph


@pytest.fixture
def page(fake: FakeGraph) -> facebook.GraphAPI:
    return client(fake, PAGE_TOKEN)


@pytest.fixture
def ig(fake: FakeGraph) -> facebook.GraphAPI:
    return client(fake, IG_TOKEN)


def test_feed_post_is_recorded_exactly(fake: FakeGraph, page: facebook.GraphAPI) -> None:
    message = "डाक सेवा, जन सेवा: Aadhaar camp at GPO Mumbai on 12 May"
    post_id = page.put_object(PAGE, "feed", message=message, link="https://indiapost.gov.in")["id"]

    sent = fake.requests[-1]
    assert (sent.method, sent.version, sent.path) == ("POST", "v21.0", f"/{PAGE}/feed")
    assert sent.form == {"message": message, "link": "https://indiapost.gov.in"}
    assert sent.token == PAGE_TOKEN
    assert sent.status == 200
    assert sent.response_headers["facebook-api-version"] == "v21.0"
    assert post_id.startswith(f"{PAGE}_")
    assert fake.posts[post_id].message == message
    assert fake.posts[post_id].is_published
    assert fake.count_published(PAGE) == 1

    fake.set_metrics(post_id, shares=3, reactions=12)
    summaries = "reactions.summary(total_count),comments.summary(total_count)"
    fields = f"message,shares,{summaries},permalink_url,created_time"
    got = page.get_object(post_id, fields=fields)
    assert got["message"] == message
    assert got["shares"] == {"count": 3}
    assert got["reactions"]["summary"]["total_count"] == 12
    assert got["comments"]["summary"]["total_count"] == 0
    assert got["permalink_url"] == f"https://www.facebook.com/{PAGE}/posts/{post_id.split('_')[1]}"
    assert got["created_time"].endswith("+0000")
    fake.set_metrics(post_id, shares=0)
    assert "shares" not in page.get_object(post_id, fields="shares")  # Graph omits zero shares

    with pytest.raises(facebook.GraphAPIError) as caught:
        page.get_object(post_id, fields="message,sharez")
    assert caught.value.code == 100
    assert "nonexisting field (sharez)" in caught.value.message


def test_unpublished_photos_then_a_post_with_attached_media(
    fake: FakeGraph, page: facebook.GraphAPI
) -> None:
    photo_ids = [
        page.put_photo(
            image=(f"camp{n}.png", PNG, "image/png"),
            album_path=f"{PAGE}/photos",
            published="false",
            caption=f"camp {n}",
        )["id"]
        for n in (1, 2)
    ]
    upload = fake.requests[-1].files[0]
    assert (upload.field, upload.filename, upload.content_type) == (
        "source",
        "camp2.png",
        "image/png",
    )
    assert upload.data == PNG
    assert fake.requests[-1].form == {"published": "false", "caption": "camp 2"}
    assert [fake.photos[i].published for i in photo_ids] == [False, False]
    assert fake.count_published() == 0

    media = {f"attached_media[{n}]": json.dumps({"media_fbid": i}) for n, i in enumerate(photo_ids)}
    post_id = page.put_object(PAGE, "feed", message="Two photos", **media)["id"]

    assert fake.posts[post_id].attached_media == photo_ids
    assert [fake.photos[i].page_story_id for i in photo_ids] == [post_id, post_id]
    feed = page.get_connections(PAGE, "feed")["data"]
    assert [item["id"] for item in feed] == [post_id]

    published = page.put_photo(image=("p.png", PNG, "image/png"), album_path=f"{PAGE}/photos")
    assert published["post_id"] == f"{PAGE}_{published['id']}"
    assert fake.count_published(PAGE) == 2


def test_feed_listing_pages_through_cursors(fake: FakeGraph, page: facebook.GraphAPI) -> None:
    ids = [page.put_object(PAGE, "feed", message=f"post {n}")["id"] for n in range(3)]
    first = page.get_connections(PAGE, "published_posts", limit=2, fields="id,message")
    assert [p["id"] for p in first["data"]] == ids[:0:-1]
    cursors = first["paging"]["cursors"]
    assert base64.b64decode(cursors["before"]).decode() == ids[2]  # Graph's are base64 of an id
    assert parse_qs(urlsplit(first["paging"]["next"]).query)["after"] == [cursors["after"]]

    page.put_object(PAGE, "feed", message="newer")  # a cursor names a post, not a position
    rest = page.get_connections(PAGE, "published_posts", limit=2, after=cursors["after"])
    assert [p["id"] for p in rest["data"]] == [ids[0]]
    assert "next" not in rest["paging"]
    assert [p["id"] for p in page.get_all_connections(PAGE, "feed", limit=2)][1:] == ids[::-1]


def test_a_listing_page_holds_100_at_most(fake: FakeGraph, page: facebook.GraphAPI) -> None:
    for n in range(101):
        page.put_object(PAGE, "feed", message=f"post {n}")
    first = page.get_connections(PAGE, "published_posts", limit=500)
    assert len(first["data"]) == 100
    assert "next" in first["paging"]


def test_listings_leave_out_what_is_older_than_since(
    fake: FakeGraph, page: facebook.GraphAPI, ig: facebook.GraphAPI
) -> None:
    fake.container_polls = 0
    now = [datetime(2026, 11, 23, 9, 0, tzinfo=UTC)]
    fake.clock = lambda: now[0]
    page.put_object(PAGE, "feed", message="old")
    container = ig.put_object(IG, "media", image_url="https://cdn.example/old.jpg")["id"]
    ig.put_object(IG, "media_publish", creation_id=container)
    now[0] += timedelta(hours=2)
    newer = page.put_object(PAGE, "feed", message="new")["id"]
    container = ig.put_object(IG, "media", image_url="https://cdn.example/new.jpg")["id"]
    newer_media = ig.put_object(IG, "media_publish", creation_id=container)["id"]

    since = int((now[0] - timedelta(hours=1)).timestamp())
    posts = page.get_connections(PAGE, "published_posts", since=since)["data"]
    assert [p["id"] for p in posts] == [newer]
    assert [m["id"] for m in ig.get_connections(IG, "media", since=since)["data"]] == [newer_media]
    assert page.get_connections(PAGE, "published_posts", since=since + 7200) == {"data": []}


def test_instagram_container_polling_publish_and_first_comment(
    fake: FakeGraph, ig: facebook.GraphAPI
) -> None:
    fake.container_polls = 2
    container = ig.put_object(
        IG, "media", image_url="https://cdn.example/a.jpg", caption="Stamps!", alt_text="A stamp"
    )["id"]
    assert fake.ig_containers[container].alt_text == "A stamp"
    assert fake.requests[-1].form["image_url"] == "https://cdn.example/a.jpg"

    with pytest.raises(facebook.GraphAPIError) as early:
        ig.put_object(IG, "media_publish", creation_id=container)
    assert early.value.code == 9007
    assert early.value.result["error"]["error_subcode"] == 2207027

    polls = [ig.get_object(container, fields="status_code")["status_code"] for _ in range(2)]
    assert polls == ["IN_PROGRESS", "FINISHED"]
    media_id = ig.put_object(IG, "media_publish", creation_id=container)["id"]
    assert ig.get_object(container, fields="status_code")["status_code"] == "PUBLISHED"
    with pytest.raises(facebook.GraphAPIError) as twice:
        ig.put_object(IG, "media_publish", creation_id=container)
    assert twice.value.code == 100

    comment_id = ig.put_comment(media_id, "Apply at your nearest post office")["id"]
    assert fake.comments[comment_id].object_id == media_id
    fake.set_metrics(media_id, like_count=40, reach=900)
    got = ig.get_object(media_id, fields="like_count,comments_count,permalink,timestamp,alt_text")
    assert (got["like_count"], got["comments_count"], got["alt_text"]) == (40, 1, "A stamp")
    assert got["permalink"].startswith("https://www.instagram.com/p/")
    insights = ig.get_connections(media_id, "insights", metric="reach")["data"]
    assert insights[0]["values"] == [{"value": 900}]
    limit = ig.get_connections(IG, "content_publishing_limit", fields="quota_usage,config")
    assert limit["data"][0] == {
        "quota_usage": 1,
        "config": {"quota_total": 50, "quota_duration": 86400},
    }
    assert fake.count_published(IG) == 1


def test_carousel_and_failed_containers(fake: FakeGraph, ig: facebook.GraphAPI) -> None:
    fake.container_polls = 0
    items = [
        ig.put_object(
            IG, "media", image_url=f"https://cdn.example/{n}.jpg", is_carousel_item="true"
        )["id"]
        for n in range(3)
    ]
    album = ig.put_object(IG, "media", media_type="CAROUSEL", children=",".join(items), caption="3")
    media_id = ig.put_object(IG, "media_publish", creation_id=album["id"])["id"]
    assert fake.ig_media[media_id].media_type == "CAROUSEL_ALBUM"
    assert len(ig.get_object(media_id, fields="children")["children"]["data"]) == 3
    assert fake.count_published(IG) == 1

    with pytest.raises(facebook.GraphAPIError) as too_many:
        ig.put_object(IG, "media", media_type="CAROUSEL", children=",".join(items * 4))
    assert too_many.value.code == 100

    fake.container_polls = 1
    fake.fail_containers(1, status="ERROR")
    broken = ig.put_object(IG, "media", image_url="https://cdn.example/x.jpg")["id"]
    assert ig.get_object(broken, fields="status_code")["status_code"] == "ERROR"


ERROR_CASES = [
    # code, HTTP status, message fragment, subcode, is_transient
    (1, 500, "unknown error", None, True),
    (2, 503, "unexpected error", None, True),
    (4, 400, "Application request limit", None, False),
    (17, 400, "User request limit", None, False),
    (32, 400, "Page request limit", None, False),
    (613, 400, "exceeded the rate limit", None, False),
    (80001, 400, "too many calls to this Page", None, False),
    (190, 400, "Session has expired", 463, False),
    (10, 403, "does not have permission", None, False),
    (200, 403, "(#200) Permissions error", None, False),
    (506, 400, "Duplicate status message", None, False),
    (368, 400, "deemed abusive", None, False),
    (9007, 400, "Media ID is not available", 2207027, False),
]


@pytest.mark.parametrize(("code", "status", "fragment", "subcode", "transient"), ERROR_CASES)
def test_fault_codes_become_graph_api_errors(
    fake: FakeGraph,
    page: facebook.GraphAPI,
    code: int,
    status: int,
    fragment: str,
    subcode: int | None,
    transient: bool,
) -> None:
    fake.fail_next(code, path_contains="/feed", method="POST")
    with pytest.raises(facebook.GraphAPIError) as caught:
        page.put_object(PAGE, "feed", message="hello")
    error = caught.value
    assert (error.code, error.type) == (code, "OAuthException")
    assert fragment in error.message
    assert error.result["error"].get("error_subcode") == subcode
    assert error.result["error"]["is_transient"] is transient
    assert error.result["error"]["fbtrace_id"]
    assert fake.requests[-1].status == status
    assert fake.posts == {}
    assert page.put_object(PAGE, "feed", message="hello")["id"]  # the fault was used up


def test_rate_limit_headers_reach_the_adapter(fake: FakeGraph, page: facebook.GraphAPI) -> None:
    # GraphAPIError keeps only the body; a response hook on the session sees every header.
    seen: list[requests.structures.CaseInsensitiveDict[str]] = []
    page.session.hooks["response"].append(lambda response, *a, **k: seen.append(response.headers))
    fake.fail_next(80001, minutes=17)
    with pytest.raises(facebook.GraphAPIError):
        page.put_object(PAGE, "feed", message="hello")

    usage = json.loads(seen[-1]["x-business-use-case-usage"])[PAGE][0]
    assert usage["type"] == "pages"
    assert usage["estimated_time_to_regain_access"] == 17
    assert json.loads(seen[-1]["x-app-usage"])["call_count"] == 100
    assert (
        fake.requests[-1].response_headers["X-Business-Use-Case-Usage"]
        == seen[-1]["X-Business-Use-Case-Usage"]
    )

    fake.fail_next(4)  # the raw session: status code and headers without facebook-sdk
    raw = page.session.get(
        f"https://graph.facebook.com/v21.0/{PAGE}", params={"access_token": PAGE_TOKEN}
    )
    assert raw.status_code == 400
    assert raw.json()["error"]["code"] == 4
    assert json.loads(raw.headers["X-App-Usage"])["call_count"] == 100


def test_tokens_are_checked(fake: FakeGraph, page: facebook.GraphAPI) -> None:
    assert page.get_permissions("me") >= {"pages_manage_posts"}
    assert page.get_object("me", fields="id,name") == {"id": PAGE, "name": "India Post"}
    with pytest.raises(facebook.GraphAPIError) as other_object:
        client(fake, IG_TOKEN).put_object(PAGE, "feed", message="x")
    assert other_object.value.code == 190
    with pytest.raises(facebook.GraphAPIError) as unknown:
        client(fake, "not-a-token").get_object(PAGE)
    assert unknown.value.code == 190

    fake.expire_token(PAGE_TOKEN)
    with pytest.raises(facebook.GraphAPIError) as expired:
        page.get_object(PAGE)
    assert (expired.value.code, expired.value.result["error"]["error_subcode"]) == (190, 463)


def test_drops_and_timeouts(fake: FakeGraph, page: facebook.GraphAPI) -> None:
    fake.fail_next("drop_after_store", path_contains="/feed")
    with pytest.raises(requests.exceptions.ConnectionError):
        page.put_object(PAGE, "feed", message="stored, unanswered")
    assert [p.message for p in fake.posts.values()] == ["stored, unanswered"]
    assert fake.requests[-1].status is None

    fake.fail_next("drop_before_store")
    with pytest.raises(requests.exceptions.ConnectionError):
        page.put_object(PAGE, "feed", message="lost")
    assert fake.count_published(PAGE) == 1

    fake.fail_next("timeout", seconds=0.4)
    with pytest.raises(requests.exceptions.Timeout):
        client(fake, PAGE_TOKEN, timeout=0.1).put_object(PAGE, "feed", message="late")
    deadline = time.monotonic() + 2
    while fake.count_published(PAGE) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.count_published(PAGE) == 2  # the platform still stored what timed out

    with pytest.raises(ValueError, match="unknown fault"):
        fake.fail_next("explode")


def test_ids_lookups_take_50_and_insights_need_a_metric_and_the_permission(
    fake: FakeGraph, ig: facebook.GraphAPI
) -> None:
    fake.container_polls = 1
    container = ig.put_object(IG, "media", image_url="https://cdn.example/a.jpg", caption="x")
    assert ig.get_object(container["id"], fields="status_code")["status_code"] == "FINISHED"
    media_id = ig.put_object(IG, "media_publish", creation_id=container["id"])["id"]
    fake.set_metrics(media_id, like_count=3, views=75)
    found = ig.get_objects([media_id], fields="like_count,insights.metric(views)")
    [views] = found[media_id]["insights"]["data"]
    assert (found[media_id]["like_count"], views["name"], views["values"]) == (
        3,
        "views",
        [{"value": 75}],
    )
    with pytest.raises(facebook.GraphAPIError) as no_metric:
        ig.get_objects([media_id], fields="insights")
    assert "The parameter metric is required" in no_metric.value.message
    with pytest.raises(facebook.GraphAPIError) as too_many:
        ig.get_objects([media_id] * 51, fields="like_count")
    assert too_many.value.message == "(#100) Too many IDs. Maximum: 50. Provided: 51."
    fake.scopes[IG_TOKEN].remove("instagram_manage_insights")
    with pytest.raises(facebook.GraphAPIError) as refused:
        ig.get_objects([media_id], fields="insights.metric(views)")
    assert refused.value.code == 10


# -- videos ---------------------------------------------------------------------------------
MIB = 1 << 20
VIDEO = b"".join(hashlib.sha256(str(n).encode()).digest() for n in range(114_700))  # ~3.5 MiB


def videos(page: facebook.GraphAPI, **args: str) -> dict[str, Any]:
    """``POST /{page-id}/videos`` through facebook-sdk (graph.facebook.com)."""
    answer: dict[str, Any] = page.request(f"{page.version}/{PAGE}/videos", post_args=args)
    return answer


def transfer(fake: FakeGraph, session: str, start: int, chunk: bytes) -> dict[str, Any]:
    """A transfer on graph-video.facebook.com with plain requests, as Meta's uploaders send it."""
    http = requests.Session()
    redirect(http, ["https://graph-video.facebook.com"], fake.url)
    answer = http.post(
        f"https://graph-video.facebook.com/v21.0/{PAGE}/videos",
        data={
            "access_token": PAGE_TOKEN,
            "upload_phase": "transfer",
            "upload_session_id": session,
            "start_offset": str(start),
        },
        files={"video_file_chunk": ("chunk.mp4", chunk, "application/octet-stream")},
        timeout=5,
    )
    body: dict[str, Any] = answer.json()
    if "error" in body:
        raise facebook.GraphAPIError(body)
    return body


@pytest.fixture
def clock(fake: FakeGraph) -> list[datetime]:
    now = [datetime(2026, 11, 23, 9, 0, tzinfo=UTC)]
    fake.clock = lambda: now[0]
    return now


def test_resumable_page_video_upload_in_chunks_is_listed(
    fake: FakeGraph, page: facebook.GraphAPI
) -> None:
    start = videos(page, upload_phase="start", file_size=str(len(VIDEO)))
    assert set(start) == {"video_id", "upload_session_id", "start_offset", "end_offset"}
    assert (start["start_offset"], start["end_offset"]) == ("0", str(MIB))  # strings, as Graph's
    session, offsets, sent = start["upload_session_id"], start, 0
    while offsets["start_offset"] != offsets["end_offset"]:
        begin, end = int(offsets["start_offset"]), int(offsets["end_offset"])
        offsets = transfer(fake, session, begin, VIDEO[begin:end])
        sent += 1
    assert sent == 4 and offsets == {"start_offset": str(len(VIDEO)), "end_offset": str(len(VIDEO))}
    upload = fake.video_uploads[session]
    assert (upload.received, upload.chunks) == (len(VIDEO), 4)
    chunk = fake.requests[-1].files[0]  # counted and hashed, not kept
    assert (chunk.field, chunk.size, chunk.data) == ("video_file_chunk", len(VIDEO) - 3 * MIB, b"")
    assert fake.requests[-1].form["upload_phase"] == "transfer"

    description = "डाक सेवा: the Aadhaar camp, on video"
    done = videos(
        page,
        upload_phase="finish",
        upload_session_id=session,
        title="Camp",
        description=description,
    )
    assert done == {"success": True}
    video = fake.videos[start["video_id"]]
    assert (video.size, video.sha256) == (len(VIDEO), hashlib.sha256(VIDEO).hexdigest())
    assert fake.video_status(video.id) == "ready"  # fake.video_processing_seconds is 0

    got = page.get_object(video.id, fields="status,description,title,permalink_url,post_id")
    assert got["status"]["video_status"] == "ready"
    assert got["status"]["processing_progress"] == 100
    assert got["status"]["uploading_phase"] == {
        "status": "complete",
        "bytes_transferred": len(VIDEO),
    }
    assert (got["description"], got["title"]) == (description, "Camp")
    assert got["permalink_url"] == f"/{PAGE}/videos/{video.id}/"
    listed = page.get_connections(PAGE, "videos")["data"]
    assert [(v["id"], v["description"]) for v in listed] == [(video.id, description)]
    [post] = page.get_connections(PAGE, "published_posts", fields="message,attachments")["data"]
    assert (post["id"], post["message"]) == (got["post_id"], description)
    assert post["attachments"]["data"][0]["target"] == {"id": video.id}
    assert fake.count_published(PAGE) == 1


def test_a_chunk_at_a_wrong_offset_is_refused_with_the_offsets_to_send(
    fake: FakeGraph, page: facebook.GraphAPI
) -> None:
    fake.video_chunk_size = MIB // 2
    size = 2 * MIB
    session = videos(page, upload_phase="start", file_size=str(size))["upload_session_id"]
    transfer(fake, session, 0, VIDEO[: MIB // 2])

    with pytest.raises(facebook.GraphAPIError) as skipped:  # a chunk skipped
        transfer(fake, session, MIB, VIDEO[MIB : MIB + MIB // 2])
    error = skipped.value.result["error"]
    assert (error["code"], error["error_subcode"], error["is_transient"]) == (6001, 1363037, False)
    assert error["error_data"] == {"start_offset": MIB // 2, "end_offset": MIB}
    assert error["error_user_title"] == "Error Uploading Video"
    assert fake.requests[-1].status == 400
    with pytest.raises(facebook.GraphAPIError) as too_long:  # more than the fake asked for
        transfer(fake, session, MIB // 2, VIDEO[MIB // 2 : MIB + 1])
    assert too_long.value.result["error"]["error_subcode"] == 1363037

    fake.fail_next(1, path_contains="/videos", match={"upload_phase": "transfer"})
    with pytest.raises(facebook.GraphAPIError) as failed:  # a 500: nothing was stored
        transfer(fake, session, MIB // 2, VIDEO[MIB // 2 : MIB])
    assert (failed.value.result["error"]["code"], fake.requests[-1].status) == (1, 500)
    assert fake.video_uploads[session].received == MIB // 2

    fake.fail_next("drop_after_store", path_contains="/videos", match={"upload_phase": "transfer"})
    with pytest.raises(requests.exceptions.ConnectionError):  # stored, the answer lost
        transfer(fake, session, MIB // 2, VIDEO[MIB // 2 : MIB])
    with pytest.raises(facebook.GraphAPIError) as again:  # resending it: Graph says where to go on
        transfer(fake, session, MIB // 2, VIDEO[MIB // 2 : MIB])
    resume = again.value.result["error"]["error_data"]
    assert resume == {"start_offset": MIB, "end_offset": MIB + MIB // 2}
    transfer(fake, session, MIB, VIDEO[MIB : MIB + MIB // 2])

    with pytest.raises(facebook.GraphAPIError) as early:  # finish before every byte arrived
        videos(page, upload_phase="finish", upload_session_id=session, description="early")
    assert (early.value.code, early.value.result["error"]["error_subcode"]) == (6000, 1363045)
    assert fake.videos == {}
    left = transfer(fake, session, MIB + MIB // 2, VIDEO[MIB + MIB // 2 : size])
    assert left == {"start_offset": str(size), "end_offset": str(size)}

    fake.fail_next("drop_after_store", match={"upload_phase": "finish"})
    with pytest.raises(requests.exceptions.ConnectionError):  # finished, the answer lost
        videos(page, upload_phase="finish", upload_session_id=session, description="lost answer")
    assert [v["description"] for v in page.get_connections(PAGE, "videos")["data"]] == [
        "lost answer"  # what a reconcile finds
    ]
    assert fake.videos[fake.video_uploads[session].video_id].sha256 == (
        hashlib.sha256(VIDEO[:size]).hexdigest()
    )
    with pytest.raises(facebook.GraphAPIError) as twice:
        videos(page, upload_phase="finish", upload_session_id=session, description="again")
    assert twice.value.code == 100


def test_page_video_processing_then_ready_or_error(
    fake: FakeGraph, page: facebook.GraphAPI, clock: list[datetime]
) -> None:
    fake.video_processing_seconds = 60
    video_id = videos(page, file_url="https://cdn.example/camp.mp4", description="by url")["id"]
    assert fake.videos[video_id].file_url == "https://cdn.example/camp.mp4"
    status = page.get_object(video_id, fields="status")["status"]
    assert (status["video_status"], status["processing_phase"]) == (
        "processing",
        {"status": "in_progress"},
    )
    assert page.get_connections(PAGE, "published_posts")["data"] == []  # not out yet
    clock[0] += timedelta(seconds=30)
    assert page.get_object(video_id, fields="status")["status"]["processing_progress"] == 50
    clock[0] += timedelta(seconds=30)
    assert page.get_object(video_id, fields="status")["status"]["video_status"] == "ready"
    [post] = page.get_connections(PAGE, "published_posts")["data"]
    assert post["message"] == "by url"

    fake.fail_videos(1, message="The video is corrupt")
    upload = page.request(
        f"{page.version}/{PAGE}/videos",
        post_args={"description": "broken"},
        files={"source": ("broken.mp4", VIDEO[:1000], "video/mp4")},
    )
    assert fake.requests[-1].files[0].data == b""  # hashed, not kept
    clock[0] += timedelta(minutes=5)
    status = page.get_object(upload["id"], fields="status")["status"]
    assert status["video_status"] == "error"
    assert status["processing_phase"]["errors"][0]["message"] == "The video is corrupt"
    assert [p["message"] for p in page.get_connections(PAGE, "published_posts")["data"]] == [
        "by url"
    ]
    with pytest.raises(facebook.GraphAPIError) as both:
        videos(page, upload_phase="start", file_size="10", file_url="https://cdn.example/x.mp4")
    assert both.value.code == 100


def test_reel_container_in_progress_then_finished_then_published(
    fake: FakeGraph, ig: facebook.GraphAPI, clock: list[datetime]
) -> None:
    fake.container_polls, fake.reel_processing_seconds = 1, 30
    reel = ig.put_object(
        IG,
        "media",
        media_type="REELS",
        video_url="https://cdn.example/camp.mp4",
        caption="Aadhaar camp #GPO",
        cover_url="https://cdn.example/cover.jpg",
        share_to_feed="true",
    )["id"]
    container = fake.ig_containers[reel]
    assert (container.media_url, container.cover_url, container.share_to_feed) == (
        "https://cdn.example/camp.mp4",
        "https://cdn.example/cover.jpg",
        True,
    )
    polled = ig.get_object(reel, fields="status_code,status")
    assert polled["status_code"] == "IN_PROGRESS"  # read once, but not 30 s yet
    assert polled["status"] == "In Progress: Media is still being processed."
    with pytest.raises(facebook.GraphAPIError) as early:
        ig.put_object(IG, "media_publish", creation_id=reel)
    assert (early.value.code, early.value.result["error"]["error_subcode"]) == (9007, 2207027)
    assert early.value.message == "Media ID is not available"

    clock[0] += timedelta(seconds=30)
    assert ig.get_object(reel, fields="status_code")["status_code"] == "FINISHED"
    media_id = ig.put_object(IG, "media_publish", creation_id=reel)["id"]
    got = ig.get_object(media_id, fields="media_type,media_product_type,permalink,caption")
    assert (got["media_type"], got["media_product_type"]) == ("VIDEO", "REELS")
    assert got["permalink"].startswith("https://www.instagram.com/reel/")
    listed = ig.get_connections(IG, "media", fields="caption,media_type,media_product_type")
    assert listed["data"] == [
        {
            "id": media_id,
            "caption": "Aadhaar camp #GPO",
            "media_type": "VIDEO",
            "media_product_type": "REELS",
        }
    ]
    assert fake.count_published(IG) == 1


def test_video_containers_that_fail_or_are_refused_and_video_carousel_items(
    fake: FakeGraph, ig: facebook.GraphAPI
) -> None:
    fake.container_polls = 1
    fake.fail_containers(1, code=2207026)
    broken = ig.put_object(IG, "media", media_type="REELS", video_url="https://cdn.example/x.mov")
    polled = ig.get_object(broken["id"], fields="status_code,status")
    assert polled == {
        "id": broken["id"],
        "status_code": "ERROR",
        "status": "Error: Media upload has failed with error code 2207026",
    }
    with pytest.raises(facebook.GraphAPIError) as refused:
        ig.put_object(IG, "media_publish", creation_id=broken["id"])
    assert refused.value.code == 9007
    for wrong in (
        {"media_type": "REELS", "image_url": "https://cdn.example/a.jpg"},  # no video_url
        {"media_type": "VIDEO", "video_url": "https://cdn.example/a.mp4"},  # VIDEO: items only
        {"media_type": "REELS", "video_url": "https://cdn.example/a.mp4", "is_carousel_item": "1"},
    ):
        with pytest.raises(facebook.GraphAPIError) as caught:
            ig.put_object(IG, "media", **wrong)
        assert caught.value.code == 100

    fake.container_polls = 0
    items = [
        ig.put_object(
            IG,
            "media",
            media_type="VIDEO",
            video_url="https://cdn.example/v.mp4",
            is_carousel_item="true",
        )["id"],
        ig.put_object(IG, "media", image_url="https://cdn.example/p.jpg", is_carousel_item="true")[
            "id"
        ],
    ]
    album = ig.put_object(IG, "media", media_type="CAROUSEL", children=",".join(items), caption="2")
    media_id = ig.put_object(IG, "media_publish", creation_id=album["id"])["id"]
    children = ig.get_object(media_id, fields="children")["children"]["data"]
    kinds = [ig.get_object(c["id"], fields="media_type")["media_type"] for c in children]
    assert kinds == ["VIDEO", "IMAGE"]
    assert ig.get_object(media_id, fields="media_product_type")["media_product_type"] == "FEED"
