"""A fake Facebook Graph API (Pages and Instagram content publishing) on 127.0.0.1.

It speaks Graph's wire format closely enough that facebook-sdk's ``GraphAPI`` (and plain
``requests``) work unchanged once ``https://graph.facebook.com`` (and, for video uploads,
``https://graph-video.facebook.com``: the fake answers on any host) is redirected to ``fake.url``:
any ``v<major>.<minor>`` path prefix (recorded per request); ``access_token`` in the query, the
form or an ``Authorization: Bearer`` header; url-encoded and multipart bodies; JSON answers,
``{"error": {message, type, code, error_subcode, error_data, is_transient, fbtrace_id}}`` error
bodies and ``X-App-Usage`` / ``X-Business-Use-Case-Usage`` headers. Endpoints: Page feed posts
(``message``, ``link`` as a Page shares another post, ``attached_media``, ``published``), photos
(upload or url, published or not), Page videos (below), comments, object lookups with ``fields=``
(unknown fields refused, as Graph does), a Page's posts and videos and an Instagram account's
media listed newest first with Graph's cursor paging (``since``, ``limit`` up to 100, ``after``;
``paging.cursors`` and ``paging.next``), insights, ``/me``, ``/me/permissions``, and Instagram
containers (image, Reel, or carousel of 2-10 image or video items) with status polling,
``media_publish`` and ``content_publishing_limit``.

Page videos, ``POST /{page-id}/videos``: with ``file_url``, with a ``source`` file, or by the
resumable protocol: ``upload_phase=start`` with ``file_size`` answers ``video_id``,
``upload_session_id`` and the first chunk's ``start_offset``/``end_offset`` (numeric strings, as
Graph sends them); each ``upload_phase=transfer`` sends ``upload_session_id``, ``start_offset`` and
the ``video_file_chunk`` file and is answered the next offsets, until ``start_offset`` equals
``end_offset``; ``upload_phase=finish`` with ``upload_session_id`` (and ``title``, ``description``,
``published``) answers ``{"success": true}``. The fake asks for ``fake.video_chunk_size`` bytes a
chunk (1 MiB by default: the first ``end_offset`` Meta usually answers); it keeps a chunk's size and
the sha256 of the reassembled file, never the bytes. A chunk at another offset than the last
answer gave, longer than asked, or missing gets Meta's 6001 / 1363037 with the offsets to send in
``error_data``; a finish before every byte arrived gets 6000 / 1363045. A finished video is
``status.video_status`` ``processing`` for ``fake.video_processing_seconds`` (on ``fake.clock``),
then ``ready`` (or ``error`` after ``fake.fail_videos()``); it is listed by ``/{page-id}/videos``
from the finish on, and its feed post (``message`` = the description, a ``video_inline``
attachment) is in the Page's feed once it is ready.

Instagram video: ``media_type=REELS`` containers (``video_url``, ``caption``, ``cover_url``,
``share_to_feed``, ``thumb_offset``) and ``media_type=VIDEO`` carousel items
(``is_carousel_item=true``; a lone ``VIDEO`` is refused, as Graph has since November 2023). Like
``image_url``, ``video_url`` is recorded, never downloaded. A video container stays ``IN_PROGRESS``
for ``fake.container_polls`` status reads *and* ``fake.reel_processing_seconds`` on ``fake.clock``,
then turns ``FINISHED`` (or what ``fake.fail_containers`` asked, with its ``status`` text naming the
error code); ``media_publish`` before ``FINISHED`` gets 9007 / 2207027. A published Reel is listed
with ``media_type`` ``VIDEO`` and ``media_product_type`` ``REELS``.

Faults (``fake.fail_next``) hit the video paths like any other; ``match={"upload_phase":
"transfer"}`` picks one phase of the shared ``/videos`` path.

Sources: Meta's "Publishing" guide of the Video API (developers.facebook.com/docs/video-api/guides/
publishing: resumable start / transfer / finish on graph-video.facebook.com; its newer edition
moves uploads to the ``/{app-id}/uploads`` Resumable Upload API and ``fbuploader_video_file_chunk``,
not imitated) and the ``/{user,page}/videos`` reference (``file_url`` "cannot be used with
upload_phase"; ``file_size``, ``start_offset``, ``end_offset``); Meta's own uploaders, which show
the exchange from the client side: facebook/facebook-python-business-sdk
``facebook_business/video_uploader.py`` (``int()`` of the offsets, loop while start != end, retry
at ``error_data``'s offsets on subcode 1363037, ``GET /{video-id}?fields=status`` until
``status.video_status`` leaves ``processing``) and facebookarchive/php-graph-sdk
(``FacebookResumableUploader``, ``FacebookTransferChunk::isLastChunk``, its test fixture
``FakeGraphApiForResumableUpload`` answering ``"start_offset":"0"``, and the 1363xxx subcodes of
``FacebookResponseException``); the full 6001 / 1363037 bodies with ``error_data`` in
php-graph-sdk issues #821 and #1012 and restfb issue #737 (HTTP 400); 6000 / 1363045 "declared
file size and uploaded bytes differ" in yikart/AiToEarn issue #592; the ``status`` object
(``video_status``, ``processing_progress``, ``uploading_phase``, ``processing_phase``,
``publishing_phase``) as in a recorded Graph answer of the Reels publishing collection at
developers.qodex.ai. Instagram: the ``POST /{ig-user-id}/media`` reference (REELS parameters),
the content publishing guide (``status_code`` values), the changelog of 2022-06-28 (REELS; VIDEO
unsupported from 2023-11-09), the Instagram error codes page (9007 / 2207027) and the container
``status`` texts ("Error: Media upload has failed with error code 2207082") quoted in
gitroomhq/postiz-app pull request #1992.

Not imitated: Meta's permission model (a token owns exactly the objects registered with it),
``debug_token``, batch requests, deletes, the ``/{app-id}/uploads`` Resumable Upload API,
``rupload.facebook.com`` (Page Reels and Stories, Instagram resumable uploads), Stories,
scheduled posts going live, link scraping, downloading ``image_url`` or ``video_url`` (only
recorded), time-based container or upload-session expiry, video thumbnails and lengths, carousel
children's readiness being checked when the carousel is made, paging backwards (``before``,
``until``, ``paging.previous``), real usage accounting (headers carry ``fake.usage`` unless a
rate-limit fault says otherwise) and fields other than those ``_node`` builds. Meta does not
document the answer to publishing a container twice, to a cursor that points at nothing, to an
unknown or already finished upload session, to a missing or bad ``file_size``, to a lone VIDEO
container, nor the code inside a failed video's ``processing_phase.errors``; the fake's are
assumptions (code 100 where nothing better is known).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

VERSION = re.compile(r"v\d+\.\d+")
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80001})
IDS_MAX = 50  # objects in one GET /?ids=
LIMIT_MAX = 100  # items in one page of an edge, whatever limit= asks
# Graph's error code -> (HTTP status, message); the type is always OAuthException.
ERRORS: dict[int, tuple[int, str]] = {
    1: (500, "An unknown error occurred"),
    2: (503, "An unexpected error has occurred. Please retry your request later."),
    4: (400, "(#4) Application request limit reached"),
    10: (403, "(#10) Application does not have permission for this action"),
    17: (400, "(#17) User request limit reached"),
    32: (400, "(#32) Page request limit reached"),
    190: (400, "Error validating access token: Session has expired."),
    368: (400, "(#368) The action attempted has been deemed abusive or is otherwise disallowed"),
    506: (400, "(#506) Duplicate status message"),
    613: (400, "(#613) Calls to this api have exceeded the rate limit."),
    6000: (
        400,
        "There was a problem uploading your video file. Please try again with another file.",
    ),
    6001: (400, "There was a problem uploading your video. Please try again."),
    9007: (400, "Media ID is not available"),
    80001: (
        400,
        "(#80001) There have been too many calls to this Page account. Wait a bit and try "
        "again. For more info, please refer to "
        "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
    ),
}
SUBCODES = {190: 463, 6000: 1363045, 6001: 1363037, 9007: 2207027}
USER_TEXT = {
    6001: (
        "Error Uploading Video",
        "There was a problem uploading your video. Please try uploading it again.",
    ),
    9007: (
        "Media not ready for publishing",
        "The media is not ready for publishing, please wait for a moment",
    ),
}
CONTAINER_STATUS = {
    "IN_PROGRESS": "In Progress: Media is still being processed.",
    "FINISHED": "Finished: Media has been uploaded and it is ready to be published.",
    "PUBLISHED": "Published: Media has been published.",
    "ERROR": "Error: Media upload has failed with error code {code}",
    "EXPIRED": "Expired: Media was not published within 24 hours.",
}
DEFAULT_FIELDS = {
    "PagePost": "id,message,created_time",
    "Photo": "id,name,created_time",
    "Video": "id,description,updated_time",
}
VIDEO_CHUNK = 1 << 20  # bytes the fake asks for in a transfer, like Meta's first end_offset
VIDEO_MEDIA = ("REELS", "VIDEO")  # Instagram containers holding a video
FAULT_KINDS = ("timeout", "drop_after_store", "drop_before_store", "html")
PAGE_SCOPES = ("pages_manage_posts", "pages_read_engagement", "pages_show_list")
IG_SCOPES = ("instagram_basic", "instagram_content_publish", "instagram_manage_insights",
             "pages_read_engagement")  # fmt: skip
INSIGHTS = re.compile(r"insights\.metric\(([a-z_,]*)\)")


class GraphError(Exception):
    """A Graph error answer. Options: status, message, subcode, transient, type, minutes,
    data (``error_data``)."""

    def __init__(self, code: int, **options: Any) -> None:
        noun = "Permissions error" if 200 <= code <= 299 else "Error"
        status, message = ERRORS.get(
            code, (403 if 200 <= code <= 299 else 400, f"(#{code}) {noun}")
        )
        self.code, self.status = code, int(options.get("status", status))
        self.message: str = options.get("message", message)
        self.subcode: int | None = options.get("subcode", SUBCODES.get(code))
        self.transient: bool = options.get("transient", code in (1, 2))
        self.type: str = options.get("type", "OAuthException")
        self.user_text: tuple[str, str] | None = options.get("user_text", USER_TEXT.get(code))
        self.minutes = int(options.get("minutes", 5))  # estimated_time_to_regain_access
        self.data: dict[str, Any] | None = options.get("data")  # error_data
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.data is not None:
            error["error_data"] = self.data
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["is_transient"] = self.transient
        if self.user_text:
            error["error_user_title"], error["error_user_msg"] = self.user_text
        return {"error": error | {"fbtrace_id": "A" + secrets.token_urlsafe(15)}}


@dataclass
class UploadedFile:
    field: str
    filename: str | None
    content_type: str | None
    data: bytes = dataclasses.field(repr=False)  # b"" once the fake let go of a video's bytes
    size: int = -1  # as received; kept when the data is let go

    def __post_init__(self) -> None:
        if self.size < 0:
            self.size = len(self.data)

    def release(self) -> UploadedFile:
        """The same file without its bytes: videos are counted and hashed, not kept."""
        return UploadedFile(self.field, self.filename, self.content_type, b"", self.size)


@dataclass
class GraphRequest:
    """One request as received; ``access_token`` is moved out of query/form into ``token``."""

    method: str
    version: str | None
    path: str  # without the version: "/123/feed"
    query: dict[str, str]
    form: dict[str, str]
    files: list[UploadedFile]
    token: str | None
    status: int | None = None  # stays None when the fake dropped the connection
    response_headers: dict[str, str] = field(default_factory=dict)
    response: dict[str, Any] | None = None


# Stored objects; most attribute names double as the Graph fields they are read back as.
@dataclass
class Post:
    id: str
    page_id: str
    message: str | None
    link: str | None
    attached_media: list[str]  # photo ids
    is_published: bool
    created_time: str
    video_id: str | None = None  # the post showing a Page video (not a Graph field)


@dataclass
class Photo:
    id: str
    page_id: str
    name: str | None  # the caption
    url: str | None
    file: UploadedFile | None
    published: bool
    created_time: str
    page_story_id: str | None = None  # the feed post showing it
    alt_text: str | None = None  # alt_text_custom


@dataclass
class VideoUpload:
    """A resumable upload session: what arrived is counted and hashed, never kept."""

    id: str  # upload_session_id
    video_id: str
    page_id: str
    file_size: int
    received: int = 0  # bytes so far: the next chunk's start_offset
    chunks: int = 0
    finished: bool = False
    hasher: Any = field(default_factory=hashlib.sha256, repr=False)

    def next_offsets(self, chunk: int) -> dict[str, str]:
        end = min(self.received + chunk, self.file_size)
        return {"start_offset": str(self.received), "end_offset": str(end)}


@dataclass
class Video:
    id: str
    page_id: str
    title: str | None
    description: str | None
    file_url: str | None  # a file_url upload, never fetched
    size: int | None  # bytes received (None for file_url)
    sha256: str | None  # of the bytes received
    published: bool
    created_time: str
    created: datetime = field(repr=False)  # on fake.clock, for the processing delay
    processing_seconds: float = 0.0
    outcome: str = "ready"  # what processing turns into: ready or error
    video_status: str = "processing"  # processing, ready, error
    error: str | None = None  # the processing error's message
    post_id: str | None = None  # its feed post


@dataclass
class Comment:
    id: str
    object_id: str
    message: str
    created_time: str


@dataclass
class IGContainer:
    id: str
    ig_user_id: str
    media_type: str  # IMAGE, CAROUSEL, ...
    media_url: str | None  # image_url or video_url as sent, never fetched
    caption: str | None
    alt_text: str | None
    is_carousel_item: bool
    children: list[str]
    status_code: str
    outcome: str  # what IN_PROGRESS turns into after fake.container_polls reads
    polls: int = 0
    cover_url: str | None = None  # REELS: recorded, never fetched
    share_to_feed: bool | None = None
    thumb_offset: str | None = None
    created: datetime | None = None  # on fake.clock
    processing_seconds: float = 0.0  # a video's time IN_PROGRESS, besides the reads
    error_code: int = 2207001  # named by the status text of an ERROR


@dataclass
class IGMedia:
    id: str
    ig_user_id: str
    container_id: str
    media_type: str  # IMAGE, VIDEO, CAROUSEL_ALBUM
    caption: str | None
    alt_text: str | None
    media_url: str | None
    timestamp: str
    parent_id: str | None = None  # set on a carousel's children
    children: list[str] = field(default_factory=list)
    media_product_type: str = "FEED"  # REELS for a Reel
    thumbnail_url: str | None = None  # a video's cover_url as sent


@dataclass
class _Fault:
    kind: int | str
    count: int
    path_contains: str | None
    method: str | None
    options: dict[str, Any]
    match: dict[str, str] | None = None  # query or form values the request must have


def _summary(total: int) -> dict[str, Any]:
    return {"data": [], "summary": {"total_count": total}}


def _flat(pairs: dict[str, list[str]]) -> dict[str, str]:
    return {key: values[-1] for key, values in pairs.items()}


def _truthy(value: str | None, default: bool) -> bool:
    return default if value is None else value.strip().lower() not in ("false", "0", "")


def _parse_body(ctype: str, body: bytes) -> tuple[dict[str, str], list[UploadedFile]]:
    if ctype.startswith("application/x-www-form-urlencoded"):
        return _flat(parse_qs(body.decode(), keep_blank_values=True)), []
    boundary = re.search(r'boundary="?([^";]+)"?', ctype)
    if not ctype.startswith("multipart/form-data") or not boundary:
        return {}, []
    form, files = {}, []
    for chunk in body.split(b"--" + boundary.group(1).encode())[1:-1]:
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        text, data = head.decode("utf-8", "replace"), data.removesuffix(b"\r\n")
        name = re.search(r' name="([^"]*)"', text)
        filename = re.search(r'filename="([^"]*)"', text)
        part_type = re.search(r"(?im)^content-type:\s*(\S+)", text)
        key = name.group(1) if name else ""
        if filename:
            ptype = part_type.group(1) if part_type else None
            files.append(UploadedFile(key, filename.group(1), ptype, data))
        else:
            form[key] = data.decode()
    return form, files


def _field_names(spec: str) -> list[str]:
    """``a,b.summary(total_count),c{d,e}`` -> ``[a, b, c]``."""
    names, depth, start = [], 0, 0
    for i, char in enumerate(spec + ","):
        depth += (char in "({") - (char in ")}")
        if char == "," and depth == 0:
            if found := re.match(r"\s*([a-z_]+)", spec[start:i]):
                names.append(found.group(1))
            start = i + 1
    return names


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeGraph

    def handle_error(self, request: Any, client_address: Any) -> None:
        """The client went away (timeouts, drops); the fake's own bugs go to ``fake.errors``."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self.server.fake.serve(self)

    do_POST = do_GET  # noqa: N815


class FakeGraph:
    """``with FakeGraph() as fake:`` serves Graph on ``fake.url`` until the block ends."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.lock = threading.RLock()
        self.default_version = "v21.0"  # facebook-api-version answered to unversioned calls
        self.container_polls = 2  # status reads before a container leaves IN_PROGRESS
        self.reel_processing_seconds = 0.0  # and, for a video container, time on self.clock
        self.video_chunk_size = VIDEO_CHUNK  # bytes asked for in each resumable transfer
        self.video_processing_seconds = 0.0  # a Page video's time in processing, on self.clock
        self.ig_quota_total = 50
        self.usage = {"call_count": 1, "total_cputime": 1, "total_time": 1}  # in both headers
        self.pages: dict[str, str] = {}  # id -> name
        self.instagram: dict[str, str] = {}  # id -> username
        self.tokens: dict[str, list[str]] = {}  # token -> the page / IG user ids it may use
        self.scopes: dict[str, list[str]] = {}
        self.expired: set[str] = set()
        self.posts: dict[str, Post] = {}
        self.photos: dict[str, Photo] = {}
        self.comments: dict[str, Comment] = {}
        self.videos: dict[str, Video] = {}
        self.video_uploads: dict[str, VideoUpload] = {}  # upload_session_id -> session
        self.ig_containers: dict[str, IGContainer] = {}
        self.ig_media: dict[str, IGMedia] = {}
        self.metrics: dict[str, dict[str, int]] = {}
        self.requests: list[GraphRequest] = []
        self.errors: list[BaseException] = []
        self._owners: dict[str, str] = {}  # object id -> its page or IG user
        self._faults: list[_Fault] = []
        self._outcomes: list[tuple[str, int]] = []  # containers': status, error code
        self._video_errors: list[str] = []  # the next videos' processing errors
        self._ids = itertools.count(122_100_000_000_000_001)  # Page objects
        self._ig_ids = itertools.count(17_890_000_000_000_001)  # Instagram objects
        self._server: _Server | None = None

    def start(self) -> FakeGraph:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGraph:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server, "FakeGraph is not running"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- set-up and inspection --------------------------------------------------------------
    def add_page(
        self, page_id: str, name: str, token: str, scopes: tuple[str, ...] = PAGE_SCOPES
    ) -> None:
        self.pages[page_id], self._owners[page_id] = name, page_id
        self.tokens.setdefault(token, []).append(page_id)
        self.scopes[token] = list(scopes)

    def add_instagram(
        self, ig_user_id: str, username: str, token: str, scopes: tuple[str, ...] = IG_SCOPES
    ) -> None:
        self.instagram[ig_user_id], self._owners[ig_user_id] = username, ig_user_id
        self.tokens.setdefault(token, []).append(ig_user_id)
        self.scopes[token] = list(scopes)

    def expire_token(self, token: str) -> None:
        """From now on every call with ``token`` gets 190, subcode 463."""
        self.expired.add(token)

    def set_metrics(self, object_id: str, **counts: int) -> None:
        """Page posts and photos: shares, reactions, comments; IG media: like_count,
        comments_count; any name is also an insights metric (reach, impressions, ...)."""
        with self.lock:
            self.metrics.setdefault(object_id, {}).update(counts)

    def fail_containers(self, count: int = 1, status: str = "ERROR", code: int = 2207001) -> None:
        """The next ``count`` containers end in ``status`` (ERROR, EXPIRED) after polling; an
        ERROR's ``status`` text names ``code`` (2207026: an unsupported video format, ...)."""
        self._outcomes.extend([(status, code)] * count)

    def fail_videos(
        self,
        count: int = 1,
        message: str = "There was a problem processing your video. Please try again.",
    ) -> None:
        """The next ``count`` Page videos to finish uploading end their processing in
        ``error`` (``status.processing_phase.errors`` holds ``message``), and never get a post."""
        self._video_errors.extend([message] * count)

    def video_status(self, video_id: str) -> str:
        """``processing``, ``ready`` or ``error``, as ``GET /{video-id}?fields=status`` says."""
        with self.lock:
            self._settle_videos()
            return self.videos[video_id].video_status

    def fail_next(
        self,
        kind: int | str,
        count: int = 1,
        path_contains: str | None = None,
        method: str | None = None,
        match: dict[str, str] | None = None,
        **options: Any,
    ) -> None:
        """Answer the next ``count`` matching requests with Graph error code ``kind`` (options:
        status, message, subcode, transient, type, minutes, data) or a non-Graph fault:
        "timeout" (sleep ``seconds``, then serve and store as usual), "drop_after_store" (store,
        then close without answering) or "drop_before_store". ``match`` narrows it to requests
        whose query or form hold those values (``{"upload_phase": "transfer"}``)."""
        if isinstance(kind, str) and kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}: give an int code or one of {FAULT_KINDS}")
        with self.lock:
            verb = method.upper() if method else None
            self._faults.append(_Fault(kind, count, path_contains, verb, options, match))

    def count_published(self, owner_id: str | None = None) -> int:
        with self.lock:
            self._settle_videos()
        owners = [p.page_id for p in self.posts.values() if p.is_published]
        owners += [m.ig_user_id for m in self.ig_media.values() if m.parent_id is None]
        return sum(owner_id in (None, owner) for owner in owners)

    # -- serving ----------------------------------------------------------------------------
    def serve(self, handler: _Handler) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        query = _flat(parse_qs(url.query, keep_blank_values=True))
        form, files = _parse_body(handler.headers["Content-Type"] or "", handler.rfile.read(length))
        segments = [unquote(s) for s in url.path.split("/") if s]
        version = segments.pop(0) if segments and VERSION.fullmatch(segments[0]) else None
        bearer = handler.headers.get("Authorization", "").partition(" ")[2] or None
        token = query.pop("access_token", None) or form.pop("access_token", None) or bearer
        path = "/" + "/".join(segments)
        req = GraphRequest(handler.command, version, path, query, form, files, token)
        with self.lock:
            self.requests.append(req)
            fault = self._take_fault(req)
        kind = fault.kind if fault else None
        if fault and kind == "timeout":
            time.sleep(float(fault.options.get("seconds", 1.0)))
        error = GraphError(kind, **fault.options) if fault and isinstance(kind, int) else None
        payload: dict[str, Any] = {}
        if kind not in ("drop_before_store", "html") and not error:
            try:
                with self.lock:
                    payload = self._answer(req, segments)
            except GraphError as exc:
                error = exc
            except Exception as exc:  # a bug in the fake: keep it, answer like Graph's code 1
                self.errors.append(exc)
                error = GraphError(1)
        if kind in ("drop_before_store", "drop_after_store"):
            handler.close_connection = True
            return
        if fault and kind == "html":  # a proxy's or load balancer's error page, not Graph's JSON
            page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            handler.send_response(int(fault.options.get("status", 502)))
            handler.send_header("Content-Type", "text/html")
            handler.send_header("Content-Length", str(len(page)))
            handler.end_headers()
            handler.wfile.write(page)
            return
        self._send(handler, req, error.body() if error else payload, error)

    def _take_fault(self, req: GraphRequest) -> _Fault | None:
        sent = req.query | req.form
        for fault in self._faults:
            if fault.match and any(sent.get(k) != v for k, v in fault.match.items()):
                continue
            if fault.method in (None, req.method) and (fault.path_contains or "") in req.path:
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _send(
        self,
        handler: _Handler,
        req: GraphRequest,
        payload: dict[str, Any],
        error: GraphError | None,
    ) -> None:
        usage, regain = dict(self.usage), 0
        if error and error.code in RATE_LIMIT_CODES:
            usage["call_count"], regain = 100, error.minutes
        headers = {
            "Content-Type": "application/json; charset=UTF-8",
            "facebook-api-version": req.version or self.default_version,
            "x-fb-trace-id": secrets.token_urlsafe(8),
            "X-App-Usage": json.dumps(usage),
        }
        if owner := self._owners.get(req.path.split("/")[1]):
            kind = "instagram" if owner in self.instagram else "pages"
            bucket = {"type": kind, **usage, "estimated_time_to_regain_access": regain}
            headers["X-Business-Use-Case-Usage"] = json.dumps({owner: [bucket]})
        data = json.dumps(payload).encode()
        req.status = error.status if error else 200
        req.response_headers, req.response = headers, payload
        try:
            handler.send_response(req.status)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            handler.close_connection = True  # the client timed out and left

    # -- the API ----------------------------------------------------------------------------
    def _answer(self, req: GraphRequest, seg: list[str]) -> dict[str, Any]:
        if seg in ([], [""]) and "ids" in req.query:  # GET /?ids=a,b: several objects at once
            ids = req.query["ids"].split(",")
            if len(ids) > IDS_MAX:
                text = f"(#100) Too many IDs. Maximum: {IDS_MAX}. Provided: {len(ids)}."
                raise GraphError(100, message=text)
            return {i: self._dispatch(req, [i]) for i in ids}
        return self._dispatch(req, seg)

    def _dispatch(self, req: GraphRequest, seg: list[str]) -> dict[str, Any]:
        token, query, form = req.token or "", req.query, req.form
        self._settle_videos()
        if token in self.expired:
            raise GraphError(190)
        if token not in self.tokens:
            bad = "Invalid OAuth access token - Cannot parse access token"
            raise GraphError(190, subcode=None, message=bad)
        obj = self.tokens[token][0] if seg[:1] == ["me"] else (seg or [""])[0]
        owner, edge = self._owners.get(obj), (req.method, "/".join(seg[1:]))
        if owner is None or len(seg) > 2:
            raise self._unsupported(req.method, obj)
        if owner not in self.tokens[token]:
            wrong = f"Error validating access token: not a token of object {obj} (FakeGraph)"
            raise GraphError(190, subcode=None, message=wrong)
        if edge == ("GET", ""):
            if "insights" in _field_names(query.get("fields") or ""):
                self._check_insights(token, query.get("fields") or "")
            return self._view(obj, query.get("fields"))
        if edge == ("POST", "comments"):
            return {"id": self._comment(obj, form.get("message", ""))}
        if edge == ("GET", "permissions"):
            return {"data": [{"permission": s, "status": "granted"} for s in self.scopes[token]]}
        if edge == ("GET", "insights"):
            counts, names = self.metrics.get(obj, {}), query.get("metric", "").split(",")
            values = {n: [{"value": counts.get(n, 0)}] for n in names if n}
            rows = [{"name": n, "period": "lifetime", "values": v} for n, v in values.items()]
            return {"data": rows}
        if obj in self.pages:
            return self._page_edge(obj, edge, req)
        if obj in self.instagram:
            return self._instagram_edge(obj, edge, req)
        raise self._unsupported(req.method, obj)

    def _check_insights(self, token: str, fields: str) -> None:
        """Insights through field expansion (``insights.metric(views)``) need a metric and the
        insights permission, as Graph's do."""
        if "instagram_manage_insights" not in self.scopes.get(token, []):
            raise GraphError(10)
        if not INSIGHTS.search(fields):
            raise GraphError(
                100, message="(#100) For field 'insights': The parameter metric is required"
            )

    @staticmethod
    def _unsupported(method: str, obj: str) -> GraphError:
        text = (
            f"Unsupported {method.lower()} request. Object with ID '{obj}' does not exist, "
            "cannot be loaded due to missing permissions, or does not support this operation."
        )
        return GraphError(100, subcode=33, message=text)

    def _page_edge(self, page_id: str, edge: tuple[str, str], req: GraphRequest) -> dict[str, Any]:
        if edge == ("POST", "feed"):
            return {"id": self._post(page_id, req.form)}
        if edge == ("POST", "photos"):
            return self._photo(page_id, req)
        if edge == ("POST", "videos"):
            return self._video_upload(page_id, req)
        if edge == ("GET", "videos"):  # uploaded videos, newest first, processed or not
            videos = [(v.id, v.created_time) for v in self.videos.values() if v.page_id == page_id]
            return self._listing(req, videos[::-1], DEFAULT_FIELDS["Video"])
        if edge in (("GET", "feed"), ("GET", "published_posts"), ("GET", "posts")):
            posts = [
                (p.id, p.created_time)
                for p in self.posts.values()
                if p.page_id == page_id and p.is_published
            ]
            return self._listing(req, posts[::-1], "id,message,created_time")
        raise self._unsupported(req.method, page_id)

    def _instagram_edge(
        self, ig_id: str, edge: tuple[str, str], req: GraphRequest
    ) -> dict[str, Any]:
        form = req.form
        if edge == ("GET", "media"):  # the account's media, newest first
            own = [
                (m.id, m.timestamp)
                for m in self.ig_media.values()
                if m.ig_user_id == ig_id and not m.parent_id
            ]
            return self._listing(req, own[::-1], "id")
        if edge == ("POST", "media"):
            return {"id": self._container(ig_id, form)}
        if edge == ("POST", "media_publish"):
            return {"id": self._publish(ig_id, form.get("creation_id", ""))}
        if edge == ("GET", "content_publishing_limit"):
            config = {"quota_total": self.ig_quota_total, "quota_duration": 86400}
            return {"data": [{"quota_usage": self.count_published(ig_id), "config": config}]}
        raise self._unsupported(edge[0], ig_id)

    def _now(self) -> str:
        return self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")

    def _new_id(self, owner: str) -> str:
        new = str(next(self._ig_ids if owner in self.instagram else self._ids))
        self._owners[new] = owner
        return new

    def _post(self, page_id: str, form: dict[str, str], photo: str | None = None) -> str:
        keys = sorted(k for k in form if k.startswith("attached_media["))
        attached = [str(json.loads(form[k])["media_fbid"]) for k in keys]
        for media_id in attached:
            found = self.photos.get(media_id)
            if not found or found.page_id != page_id or found.published:
                raise GraphError(100, message=f"(#100) Invalid attached_media id {media_id}")
        if not (form.get("message") or form.get("link") or attached or photo):
            raise GraphError(100, message="(#100) Missing message or attachment")
        post_id = f"{page_id}_{photo or self._new_id(page_id)}"
        self._owners[post_id] = page_id
        published = _truthy(form.get("published"), True)
        attached = attached or ([photo] if photo else [])
        post = Post(
            post_id,
            page_id,
            form.get("message"),
            form.get("link"),
            attached,
            published,
            self._now(),
        )
        self.posts[post_id] = post
        for media_id in attached:
            self.photos[media_id].page_story_id = post_id
        return post_id

    def _photo(self, page_id: str, req: GraphRequest) -> dict[str, Any]:
        upload = next((u for u in req.files if u.field == "source"), None)
        url, caption = req.form.get("url"), req.form.get("caption") or req.form.get("message")
        if not upload and not url:
            raise GraphError(324, message="(#324) Requires upload file")
        photo_id, published = self._new_id(page_id), _truthy(req.form.get("published"), True)
        self.photos[photo_id] = Photo(
            photo_id, page_id, caption, url, upload, published, self._now(),
            alt_text=req.form.get("alt_text_custom"),
        )  # fmt: skip
        if not published:
            return {"id": photo_id}
        post_id = self._post(page_id, {"message": caption or ""}, photo_id)
        return {"id": photo_id, "post_id": post_id}

    # -- Page videos ------------------------------------------------------------------------
    def _video_upload(self, page_id: str, req: GraphRequest) -> dict[str, Any]:
        """``POST /{page-id}/videos``: the parameters may come in the query or the form."""
        args = req.query | req.form
        phase = args.get("upload_phase")
        if phase and args.get("file_url"):
            raise GraphError(100, message="(#100) file_url cannot be used with upload_phase")
        if phase == "start":
            return self._video_start(page_id, args)
        if phase == "transfer":
            return self._video_transfer(page_id, args, req)
        if phase == "finish":
            return self._video_finish(page_id, args)
        if phase:
            raise GraphError(100, message=f"(#100) Unsupported upload_phase {phase} (FakeGraph)")
        source = next((u for u in req.files if u.field == "source"), None)
        if source is None and not args.get("file_url"):
            raise GraphError(100, message="(#100) Requires a source file, file_url or upload_phase")
        video_id = self._new_id(page_id)
        if source is None:
            self._add_video(page_id, video_id, args, args.get("file_url"), None, None)
        else:  # the non-resumable upload: one request holds the whole file
            digest = hashlib.sha256(source.data).hexdigest()
            req.files[req.files.index(source)] = source.release()
            self._add_video(page_id, video_id, args, None, source.size, digest)
        return {"id": video_id}

    def _video_start(self, page_id: str, args: dict[str, str]) -> dict[str, Any]:
        size = args.get("file_size", "")
        if not size.isdigit() or int(size) <= 0:
            raise GraphError(100, message="(#100) Invalid parameter file_size")  # assumed
        video_id, session_id = self._new_id(page_id), self._new_id(page_id)
        del self._owners[video_id], self._owners[session_id]  # an object once it is finished
        upload = VideoUpload(session_id, video_id, page_id, int(size))
        self.video_uploads[session_id] = upload
        offsets = upload.next_offsets(self.video_chunk_size)
        return {"video_id": video_id, **offsets, "upload_session_id": session_id}

    def _session(self, page_id: str, args: dict[str, str]) -> VideoUpload:
        upload = self.video_uploads.get(args.get("upload_session_id", ""))
        if upload is None or upload.page_id != page_id:
            raise GraphError(100, message="(#100) Invalid upload_session_id")  # assumed
        if upload.finished:  # assumed, like the rest of a finished session's answers
            raise GraphError(100, message="(#100) The upload session is already finished")
        return upload

    def _video_transfer(
        self, page_id: str, args: dict[str, str], req: GraphRequest
    ) -> dict[str, Any]:
        """One chunk, exactly where the last answer said; anything else is answered 6001 /
        1363037 with the offsets to send (``error_data``), as Graph does."""
        upload = self._session(page_id, args)
        chunk = next((u for u in req.files if u.field == "video_file_chunk"), None)
        offsets = upload.next_offsets(self.video_chunk_size)
        asked = int(offsets["end_offset"]) - upload.received
        start = args.get("start_offset", "")
        if (
            chunk is None
            or not start.isdigit()
            or int(start) != upload.received
            or not 0 < chunk.size <= asked
        ):
            raise GraphError(6001, data={k: int(v) for k, v in offsets.items()})
        upload.hasher.update(chunk.data)
        upload.received += chunk.size
        upload.chunks += 1
        req.files[req.files.index(chunk)] = chunk.release()
        return upload.next_offsets(self.video_chunk_size)

    def _video_finish(self, page_id: str, args: dict[str, str]) -> dict[str, Any]:
        upload = self._session(page_id, args)
        if upload.received < upload.file_size:  # the declared file_size never arrived
            raise GraphError(6000)
        upload.finished = True
        digest = upload.hasher.hexdigest()
        self._add_video(page_id, upload.video_id, args, None, upload.received, digest)
        return {"success": True}

    def _add_video(
        self,
        page_id: str,
        video_id: str,
        args: dict[str, str],
        file_url: str | None,
        size: int | None,
        digest: str | None,
    ) -> Video:
        """The video, and (unless ``published=false``) its feed post, published once the video
        is processed."""
        error = self._video_errors.pop(0) if self._video_errors else None
        description, now = args.get("description"), self._now()
        video = Video(
            video_id, page_id, args.get("title"), description, file_url, size, digest,
            _truthy(args.get("published"), True), now, self.clock(),
            self.video_processing_seconds, "error" if error else "ready", error=error,
        )  # fmt: skip
        self.videos[video_id], self._owners[video_id] = video, page_id
        if video.published and not error:
            post_id = f"{page_id}_{self._new_id(page_id)}"
            self._owners[post_id] = page_id
            self.posts[post_id] = Post(
                post_id, page_id, description, None, [], False, now, video_id=video_id
            )
            video.post_id = post_id
        self._settle_videos()
        return video

    def _settle_videos(self) -> None:
        """Processing ends ``processing_seconds`` after the upload, on ``self.clock``."""
        now = self.clock()
        for video in self.videos.values():
            waited = (now - video.created).total_seconds()
            if video.video_status == "processing" and waited >= video.processing_seconds:
                video.video_status = video.outcome
                if video.post_id and video.outcome == "ready":
                    self.posts[video.post_id].is_published = True

    def _video_view(self, video: Video) -> dict[str, Any]:
        state = video.video_status
        progress = {"processing": 0, "ready": 100, "error": 0}[state]
        if state == "processing" and video.processing_seconds > 0:
            waited = (self.clock() - video.created).total_seconds()
            progress = min(99, int(100 * waited / video.processing_seconds))
        uploading: dict[str, Any] = {"status": "complete"}
        if video.size is not None:
            uploading["bytes_transferred"] = video.size
        processing: dict[str, Any] = {
            "status": {"processing": "in_progress", "ready": "complete", "error": "error"}[state]
        }
        if video.error:  # the code is not documented: assumed
            processing["errors"] = [{"code": 6000, "message": video.error}]
        publishing: dict[str, Any] = {"status": "not_started"}
        if state == "ready":
            publish_status = "published" if video.published else "not_published"
            publishing = {"status": "complete", "publish_status": publish_status}
            if video.published:
                publishing["publish_time"] = video.created_time
        status = {
            "video_status": state,
            "processing_progress": progress,
            "uploading_phase": uploading,
            "processing_phase": processing,
            "publishing_phase": publishing,
        }
        return {
            "id": video.id,
            "title": video.title,
            "description": video.description,
            "created_time": video.created_time,
            "updated_time": video.created_time,
            "published": video.published,
            "permalink_url": f"/{video.page_id}/videos/{video.id}/",  # Graph's is relative
            "post_id": video.post_id,
            "status": status,
        }

    def _comment(self, obj: str, message: str) -> str:
        number = self._new_id(self._owners[obj])
        comment_id = f"{obj.rpartition('_')[2]}_{number}" if obj in self.posts else number
        self._owners[comment_id] = self._owners[obj]
        self.comments[comment_id] = Comment(comment_id, obj, message, self._now())
        return comment_id

    def _container(self, ig_user_id: str, form: dict[str, str]) -> str:
        children = [c.strip(' "') for c in form.get("children", "").strip("[]").split(",") if c]
        media_type = form.get("media_type", "CAROUSEL" if children else "IMAGE").upper()
        flag, video = _truthy(form.get("is_carousel_item"), False), media_type in VIDEO_MEDIA
        if media_type not in ("IMAGE", "CAROUSEL", *VIDEO_MEDIA):
            raise GraphError(100, message=f"(#100) media_type {media_type} (not in FakeGraph)")
        if media_type == "VIDEO" and not flag:  # assumed wording: VIDEO is carousel-only now
            raise GraphError(100, message="(#100) The media_type VIDEO is not supported; use REELS")
        if media_type == "REELS" and flag:
            raise GraphError(100, message="(#100) A Reel cannot be a carousel item")
        items = [self.ig_containers.get(c) for c in children]
        if any(not i or i.ig_user_id != ig_user_id or not i.is_carousel_item for i in items):
            raise GraphError(100, message=f"(#100) Invalid carousel children {children}")
        if media_type == "CAROUSEL" and not 2 <= len(children) <= 10:
            text = ("Invalid carousel", "A carousel holds 2 to 10 items.")
            raise GraphError(100, message="(#100) Invalid parameter", user_text=text)
        wanted = "video_url" if video else "image_url"
        url = form.get(wanted)
        if media_type != "CAROUSEL" and not url:
            raise GraphError(100, message=f"(#100) The parameter {wanted} is required")
        outcome, code = self._outcomes.pop(0) if self._outcomes else ("FINISHED", 2207001)
        seconds = self.reel_processing_seconds if video else 0.0
        waits = self.container_polls > 0 or seconds > 0
        status, container_id = "IN_PROGRESS" if waits else outcome, self._new_id(ig_user_id)
        share = form.get("share_to_feed")
        self.ig_containers[container_id] = IGContainer(
            container_id,
            ig_user_id,
            media_type,
            url,
            form.get("caption"),
            form.get("alt_text"),
            flag,
            children,
            status,
            outcome,
            cover_url=form.get("cover_url"),
            share_to_feed=None if share is None else _truthy(share, True),
            thumb_offset=form.get("thumb_offset"),
            created=self.clock(),
            processing_seconds=seconds,
            error_code=code,
        )
        return container_id

    def _settle_container(self, container: IGContainer) -> None:
        """IN_PROGRESS ends after ``container_polls`` reads and, for a video, its time."""
        if container.status_code != "IN_PROGRESS" or container.polls < self.container_polls:
            return
        if container.created is not None:
            waited = (self.clock() - container.created).total_seconds()
            if waited < container.processing_seconds:
                return
        container.status_code = container.outcome

    def _publish(self, ig_user_id: str, creation_id: str) -> str:
        container = self.ig_containers.get(creation_id)
        if not container or container.ig_user_id != ig_user_id or container.is_carousel_item:
            raise GraphError(100, message=f"(#100) Invalid creation_id {creation_id}")
        self._settle_container(container)
        if container.status_code == "PUBLISHED":  # undocumented by Meta: shape assumed
            text = ("Already published", "This media container has already been published.")
            raise GraphError(100, message="(#100) Invalid parameter", user_text=text)
        if container.status_code != "FINISHED":
            raise GraphError(9007)
        if self.count_published(ig_user_id) >= self.ig_quota_total:
            raise GraphError(9, subcode=2207042, message="(#9) Application request limit reached")
        media = self._media(container)
        children = [self.ig_containers[c] for c in container.children]
        media.children = [self._media(child, media.id).id for child in children]
        return media.id

    def _media(self, container: IGContainer, parent_id: str | None = None) -> IGMedia:
        kinds = {"CAROUSEL": "CAROUSEL_ALBUM", "REELS": "VIDEO"}
        kind = kinds.get(container.media_type, container.media_type)
        media_id, caption = self._new_id(container.ig_user_id), container.caption
        media = IGMedia(
            media_id,
            container.ig_user_id,
            container.id,
            kind,
            caption,
            container.alt_text,
            container.media_url,
            self._now(),
            parent_id,
            media_product_type="REELS" if container.media_type == "REELS" else "FEED",
            thumbnail_url=container.cover_url,
        )
        self.ig_media[media_id], container.status_code = media, "PUBLISHED"
        return media

    def _view(self, obj: str, fields: str | None, default: str = "") -> dict[str, Any]:
        node_type, view = self._node(obj)
        wanted = _field_names(fields or default or DEFAULT_FIELDS.get(node_type, "id"))
        if missing := [name for name in wanted if name not in view]:
            text = f"(#100) Tried accessing nonexisting field ({missing[0]})"
            raise GraphError(100, message=f"{text} on node type ({node_type})")
        shown = {name: view[name] for name in wanted if view[name] is not None}
        return {"id": view["id"], **shown} if "id" in view else shown  # Graph always adds the id

    def _node(self, obj: str) -> tuple[str, dict[str, Any]]:
        counts = self.metrics.get(obj, {})
        comments = counts.get("comments", sum(c.object_id == obj for c in self.comments.values()))
        social = {"comments": _summary(comments), "reactions": _summary(counts.get("reactions", 0))}
        if obj in self.pages or obj in self.instagram:
            name = self.pages.get(obj) or self.instagram[obj]
            node_type = "Page" if obj in self.pages else "IGUser"
            return node_type, {"id": obj, "name": name, "username": name}
        if post := self.posts.get(obj):
            permalink = f"https://www.facebook.com/{post.page_id}/posts/{obj.split('_')[1]}"
            view = vars(post) | social | {"permalink_url": permalink}
            # Graph leaves shares out until there is one
            view["shares"] = {"count": counts["shares"]} if counts.get("shares") else None
            media = [{"type": "photo", "target": {"id": m}} for m in post.attached_media]
            if video_id := view.pop("video_id"):
                inline = {"type": "video_inline", "media_type": "video"}
                media = [inline | {"target": {"id": video_id}}]
            view["attachments"] = {"data": media} if media else None
            return "PagePost", view
        if photo := self.photos.get(obj):
            link = f"https://www.facebook.com/photo.php?fbid={obj}"
            return "Photo", vars(photo) | social | {"link": link}
        if video := self.videos.get(obj):
            return "Video", self._video_view(video) | social
        if obj in self.ig_containers or obj in self.ig_media:
            return self._instagram_node(obj, counts, comments)
        return "Comment", dict(vars(self.comments[obj]))

    def _instagram_node(
        self, obj: str, counts: dict[str, int], comments: int
    ) -> tuple[str, dict[str, Any]]:
        if container := self.ig_containers.get(obj):
            container.polls += 1
            self._settle_container(container)
            status = container.status_code
            text = CONTAINER_STATUS[status].format(code=container.error_code)
            return "ShadowIGMediaBuilder", {"id": obj, "status_code": status, "status": text}
        media = self.ig_media[obj]
        code = base64.urlsafe_b64encode(int(obj).to_bytes(8, "big")).decode().strip("=")
        view = vars(media) | {"shortcode": code, "username": self.instagram[media.ig_user_id]}
        kind = "reel" if media.media_product_type == "REELS" else "p"
        view["permalink"] = f"https://www.instagram.com/{kind}/{code}/"
        children = [{"id": c} for c in media.children]
        view["children"] = {"data": children} if children else None
        view["like_count"] = counts.get("like_count", 0)
        view["comments_count"] = counts.get("comments_count", comments)
        view["insights"] = self._insights(obj)
        return "IGMedia", view

    def _insights(self, obj: str) -> dict[str, Any]:
        """Every metric set on the media, as field expansion returns them (the request's
        ``metric(...)`` list is checked, not used to filter)."""
        counts = self.metrics.get(obj, {})
        rows = [
            {"name": n, "period": "lifetime", "values": [{"value": v}], "title": n.title(),
             "id": f"{obj}/insights/{n}/lifetime"}
            for n, v in counts.items() if n not in ("like_count", "comments_count")
        ]  # fmt: skip
        return {"data": rows}

    def _listing(
        self, req: GraphRequest, items: list[tuple[str, str]], default: str
    ) -> dict[str, Any]:
        """Graph's cursor paging of an edge's ``(id, created time)`` items, newest first:
        ``since`` (unix seconds) leaves older ones out; each cursor is the base64 of the id it
        points at (as Graph's are), so a page asked ``after`` one stays right while new posts
        arrive; ``paging.next`` is there while more follow, and holds the whole query again."""
        since = int(req.query.get("since") or 0)
        ids = [i for i, created in items if datetime.fromisoformat(created).timestamp() >= since]
        limit = min(int(req.query.get("limit") or 25), LIMIT_MAX)
        start = 0
        if cursor := req.query.get("after"):
            after = base64.b64decode(cursor.encode()).decode()
            if after not in ids:
                raise GraphError(100, message=f"(#100) Invalid cursor: {cursor}")
            start = ids.index(after) + 1
        shown = ids[start : start + limit]
        data = [self._view(i, req.query.get("fields"), default) for i in shown]
        if not shown:
            return {"data": data}  # Graph leaves paging out of an empty page
        before, after = (base64.b64encode(i.encode()).decode() for i in (shown[0], shown[-1]))
        paging: dict[str, Any] = {"cursors": {"before": before, "after": after}}
        if start + limit < len(ids):
            query = urlencode({**req.query, "access_token": req.token, "after": after})
            prefix = f"{req.version}/" if req.version else ""
            paging["next"] = f"https://graph.facebook.com/{prefix}{req.path.lstrip('/')}?{query}"
        return {"data": data, "paging": paging}
