"""A fake X (Twitter) API v2 on 127.0.0.1, for tests that drive the X adapter over real HTTP.

It speaks X's wire format closely enough that ``tweepy.Client`` and ``requests`` with
``requests_oauthlib.OAuth1`` work against it unchanged once their sessions carry a RedirectAdapter:

- OAuth 1.0a: every request needs a valid HMAC-SHA1 ``Authorization`` header for a consumer and
  access token given to ``add_user``, signed (as the client did, before the redirect) over
  ``https://api.twitter.com`` or ``https://api.x.com`` + path. Anything else is 401.
- ``POST /2/tweets`` (text, reply, media ids; duplicate text is 403), ``GET /2/tweets/:id``,
  ``GET /2/tweets?ids=`` (100 ids at most, else 400), ``DELETE /2/tweets/:id``, ``GET /2/users/me``,
  ``GET /2/users/:id/tweets`` (paged, newest first), ``POST /2/users/:id/retweets``,
  ``GET /2/tweets/:id/retweeted_by`` (paged, most recent retweeter first),
  ``POST /2/media/metadata`` (alt text) and media upload (below).
- X's bodies: ``data``/``meta``; problem details for 401/403/404/429/5xx; ``errors`` with "Invalid
  Request" for 400; 200 with ``errors`` for unknown ids. ``x-rate-limit-*`` headers count each
  user's calls per route in 15-minute windows.
- A retweet repeated changes nothing and is answered with success, as v2 does; with
  ``refuse_repeated_retweets`` it is a 403 "You have already retweeted this Tweet." instead, as
  v1.1 answered (code 327).
- Faults on demand (``fail_next``, on any route: a path prefix and suffix, a method, and how many
  matching requests to let through first): 429 with rate-limit headers (and 24-hour limits), 5xx,
  slow answers, answers held until the test releases them (``hang``; ``holding`` counts those held
  now), connections closed with no answer before or after the request took effect.
- An enforced posting limit on demand (``limit_posts``): POST /2/tweets per user in fixed windows,
  429 beyond it; ``refused`` counts those 429s.

Media upload, as X has had it since its 2025 move off v1.1:

- One-shot multipart ``POST /2/media/upload`` (``media``, ``media_category``), for images only (X
  keeps it for images and subtitles): 5 MB at most; tweet_video, amplify_video and tweet_gif are
  refused there, and so is the retired ``command=INIT|APPEND|FINALIZE`` form.
- Chunked upload on X's dedicated endpoints: ``POST /2/media/upload/initialize`` (JSON
  ``media_type``, ``total_bytes``, ``media_category``; a total over the category's limit is refused:
  tweet_image 5 MB, tweet_gif 15 MB, tweet_video and amplify_video 512 MB) answers ``data.id``,
  ``media_key``, ``expires_after_secs``; ``POST /2/media/upload/{id}/append`` (multipart ``media`` +
  ``segment_index``, or JSON with ``media`` in base64; indexes 0-999 in any order, each once; a
  segment over 5 MB is refused) answers ``data.expires_at``; ``POST /2/media/upload/{id}/finalize``
  is 400 "Segments do not add up to provided total file size." unless the segments make up
  ``total_bytes`` (a second FINALIZE answers the state again); ``GET
  /2/media/upload?command=STATUS&media_id=`` answers ``processing_info``, and is 400 "BadRequest:
  Not found" for media with no processing (images), unfinished uploads and unknown ids.
- Videos and GIFs are processed: FINALIZE answers ``processing_info`` ``pending`` with
  ``check_after_secs``; STATUS then answers ``in_progress`` with ``progress_percent`` and, once
  ``processing_seconds`` (per server, default 1) have passed on the fake's clock, ``succeeded``, or
  ``failed`` with X's ``error`` object (``fail_processing``; ``finish_processing`` ends it at
  once). Images finalize without ``processing_info``, usable at once.
- The bytes are not kept: ``Media`` counts them (``size``, ``appends``) and keeps the sha256 of the
  file (segments in index order; only segments that arrive ahead of a missing one wait in memory);
  the request log keeps an APPEND's ``segment_index`` and the segment's length (``file_sizes``),
  not its bytes.
- ``POST /2/tweets`` takes one video or GIF, or up to 4 images, not both, and only media whose
  processing succeeded: else 400 "Your media IDs are invalid." (more than 4: X's schema message).

Sources for the media upload: docs.x.com/x-api/media (initialize, append, finalize and "Get Media
upload status" references: bodies, enums, 0 <= total_bytes <= 536870912, segment_index 0-999, APPEND
answering ``data.expires_at``); the v1.1 references X's v2 ones grew from (developer.x.com
.../post-media-upload-append, -finalize, get-media-upload-status: APPEND <= 5 MB, processing_info
pending -> in_progress -> failed|succeeded, check_after_secs, progress_percent, error {code, name,
message} with 1 InvalidMedia "Unsupported video format"; media best practices: image 5 MB, GIF 15
MB, video 512 MB; 4 photos or 1 GIF or 1 video a post); X's announcement retiring the ``command``
form by 30 May 2025 ("Media upload endpoints update and extended migration deadline",
devcommunity.x.com/t/241818), as relayed in sferik/x-ruby#51, plhery/node-twitter-api-v2#584 and
takke/twitter4j-v2#33; X's own clients on the new endpoints (xdevplatform/samples#199,
xdevplatform/xurl api/media.go: STATUS stays ``GET /2/media/upload?command=STATUS``); answers
recorded from X in sns-sdks/python-twitter testdata/apis/media_upload_v2; and X's refusals as users
met them: "Requests with bodies must have content-type of application/json." and "Request body is
not valid JSON." (sferik/x-ruby#62, #71), STATUS of an image "BadRequest: Not found"
(xdevplatform/xurl#18), "Segments do not add up to provided total file size." (v1.1,
sferik/twitter-ruby#811), a tweet with a video still pending "Your media IDs are invalid."
(abraham/twitteroauth#1222), more than 4 ids (plhery/node-twitter-api-v2#539), a failed processing's
error (plhery/node-twitter-api-v2#243). The wording of these refusals is ours, X's being unknown: an
unknown ``media_type`` or category, a bad ``total_bytes`` or ``segment_index``, an oversize or
repeated segment, an APPEND after FINALIZE, the retired ``command`` form, a video category on the
one-shot endpoint. "File size exceeds N bytes." is v1.1's (tweepy/tweepy#2002); "BadRequest: Not
found", X's for an image's STATUS, is given here for any media id unknown to the user too (APPEND,
FINALIZE, STATUS) and for the STATUS of an unfinished upload; a second FINALIZE answering the state,
not a refusal, and APPEND answering 200 with a body (X's reference; v1.1 answered 204) are guesses.

Not imitated: OAuth 2.0 and bearer tokens (call tweepy's read methods with ``user_auth=True``),
rate limits of other routes (only ``fail_next`` refuses), nonce and timestamp checks, the
280-character limit, media content checks (bytes are never decoded: no codec, duration or pixel
checks, no ``image``/``video`` objects in answers), the expiry of media ids (``expires_after_secs``
counts down, nothing expires), ``additional_owners``/``shared``, dm_* and subtitles categories,
expansions and any fields but ``tweet.fields``, since_id/until_id, quotes, polls, edits, likes, v1.1
endpoints, chunked request bodies, TLS.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import json
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import Message
from email.parser import HeaderParser
from hmac import compare_digest
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from oauthlib.oauth1.rfc5849 import signature, utils

Answer = tuple[int, Any]  # HTTP status, JSON body
SIGNED_BASES = ("https://api.twitter.com", "https://api.x.com")
TWITTER_EPOCH_MS = 1288834974657  # snowflake ids count milliseconds from here
METRICS = ("retweet_count", "reply_count", "like_count", "quote_count", "bookmark_count",
           "impression_count")  # fmt: skip
FAULTS = ("rate_limit", "server_error", "timeout", "hang", "drop_after_store", "drop_before_store")
WINDOW_LIMIT, WINDOW_SECONDS, DAY_SECONDS = 100, 900, 86400
LOOKUP_MAX = 100  # ids in one GET /2/tweets?ids=
INVALID = "https://api.twitter.com/2/problems/invalid-request"
NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"
MEDIA_KEY_PREFIX = {"tweet_video": "7", "amplify_video": "13", "tweet_gif": "16"}  # else photo: 3
MB = 1024 * 1024  # X's "5 MB" is 5,242,880 bytes, its 512 MB the 536,870,912 its reference allows
SIZE_LIMITS = {"tweet_image": 5 * MB, "tweet_gif": 15 * MB, "tweet_video": 512 * MB,
               "amplify_video": 512 * MB}  # fmt: skip
SEGMENT_MAX, SEGMENT_INDEXES = 5 * MB, range(1000)  # one APPEND's bytes; segment_index 0-999
PROCESSED = frozenset({"tweet_video", "amplify_video", "tweet_gif"})  # processed after FINALIZE
MEDIA_TYPES = frozenset({
    "video/mp4", "video/webm", "video/mp2t", "video/quicktime", "text/srt", "text/vtt",
    "image/jpeg", "image/gif", "image/bmp", "image/png", "image/webp", "image/pjpeg", "image/tiff",
    "model/gltf-binary", "model/vnd.usdz+zip",
})  # fmt: skip
APPEND_PATH = re.compile(r"/2/media/upload/\d+/append")
INVALID_MEDIA = "Your media IDs are invalid."
PROCESSING_ERROR = {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"}


@dataclass
class User:
    id: str
    username: str
    name: str
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_secret: str


@dataclass
class Tweet:
    id: str
    author_id: str
    text: str
    created_at: datetime
    conversation_id: str
    reply_to: str | None = None
    reply_to_user_id: str | None = None
    media_ids: list[str] = field(default_factory=list)
    metrics: dict[str, int] = field(default_factory=lambda: dict.fromkeys(METRICS, 0))


@dataclass
class Media:
    """An upload. Its bytes are not kept: ``size`` counts those received so far, ``sha256`` is the
    hex digest of the whole file (segments in index order) once it is complete. ``total_bytes``
    is what INITIALIZE declared (None for a one-shot upload), ``appends`` the APPEND calls taken.
    ``state``: "uploading" (chunked, before FINALIZE), then X's "pending", "in_progress",
    "succeeded" or "failed"; media with no processing (images) are "succeeded" once complete.
    ``error`` is a failed processing's error object; times are on the fake's clock."""

    id: str
    user_id: str
    category: str
    content_type: str
    size: int
    alt_text: str | None = None
    total_bytes: int | None = None
    sha256: str | None = None
    state: str = "succeeded"
    appends: int = 0
    segments: set[int] = field(default_factory=set)
    progress_percent: int = 0
    error: dict[str, Any] | None = None
    created_at: datetime | None = None
    finalized_at: datetime | None = None
    processing_seconds: float = 0.0
    _digest: Any = field(default_factory=hashlib.sha256, repr=False, compare=False)
    _next_segment: int = field(default=0, repr=False, compare=False)
    _held: dict[int, bytes] = field(default_factory=dict, repr=False, compare=False)
    _failure: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def media_key(self) -> str:
        return f"{MEDIA_KEY_PREFIX.get(self.category, '3')}_{self.id}"

    @property
    def processed(self) -> bool:
        """Whether X processes it after FINALIZE (videos and GIFs)."""
        return self.category in PROCESSED

    def add_segment(self, index: int, data: bytes) -> None:
        """Hash the segments in index order as they become contiguous; hold only those that
        arrive ahead of a missing one."""
        self.segments.add(index)
        self.size += len(data)
        self.appends += 1
        self._held[index] = data
        while self._next_segment in self._held:
            self._digest.update(self._held.pop(self._next_segment))
            self._next_segment += 1

    @property
    def complete(self) -> bool:
        """Every byte declared has arrived, with no segment missing between them."""
        return self.size == self.total_bytes and not self._held


@dataclass
class Request:
    """A request as X would have seen it. ``user_id`` is None when authentication failed;
    ``files`` maps multipart file fields to (bytes, content type). An APPEND's segment is not
    kept: its ``media`` is left out of ``files`` (or of ``json``) and ``file_sizes`` has its
    length in bytes."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    form: dict[str, str] | None = None
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    user_id: str | None = None
    file_sizes: dict[str, int] = field(default_factory=dict)


@dataclass
class Fault:
    kind: str
    count: int
    path_prefix: str
    method: str | None
    options: dict[str, Any]
    path_suffix: str = ""
    skip: int = 0  # matching requests let through before the fault strikes


class _RefusedError(Exception):
    """Raised by an endpoint to answer with an error instead."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer[0])
        self.answer = answer


_LINKS = re.compile(
    r"https?://\S+|(?<![\w@#])(?:[a-z0-9-]+\.)+(?:in|com|org|gov|net)(?:/\S*)?", re.I
)


def _as_x_shows(text: str) -> str:
    """How X returns a post's text: links (bare domains too) as t.co links, & < > escaped."""
    return html.escape(_LINKS.sub("https://t.co/AbCdEf1234", text), quote=False)


def _problem(status: int, detail: str | None = None) -> Answer:
    title = HTTPStatus(status).phrase
    return status, {
        "title": title,
        "type": "about:blank",
        "status": status,
        "detail": detail or title,
    }


def _invalid(message: str, parameters: dict[str, list[str]]) -> _RefusedError:
    return _RefusedError((400, {
        "errors": [{"parameters": parameters, "message": message}], "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.", "type": INVALID,
    }))  # fmt: skip


def _bad_request(message: str) -> _RefusedError:
    """X's 400 for a request it cannot take, as the media endpoints answer it: "Invalid Request"
    with one error that has a message and no parameters."""
    return _RefusedError((400, {
        "errors": [{"message": message}], "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.", "type": INVALID,
    }))  # fmt: skip


def _mime(request: Request) -> str:
    """The request body's media type, without parameters."""
    header = Message()
    header["Content-Type"] = next(
        (v for k, v in request.headers.items() if k.lower() == "content-type"), ""
    )
    return header.get_content_type() if header["Content-Type"] else ""


def _json_object(request: Request) -> dict[str, Any]:
    """The JSON object the dedicated media endpoints require, or X's refusal."""
    if _mime(request) != "application/json":
        raise _bad_request("Requests with bodies must have content-type of application/json.")
    if request.json is None:
        raise _bad_request("Request body is not valid JSON.")
    if not isinstance(request.json, dict):
        raise _bad_request("Request body must be a JSON object.")
    return request.json


def _for_log(request: Request) -> Request:
    """The request as the log keeps it: an APPEND without its segment's bytes."""
    if request.method != "POST" or not APPEND_PATH.fullmatch(request.path):
        return request
    files, body, sizes = dict(request.files), request.json, {}
    if "media" in files:
        sizes["media"] = len(files.pop("media")[0])
    if isinstance(body, dict) and isinstance(body.get("media"), str):
        try:
            sizes["media"] = len(base64.b64decode(body["media"], validate=True))
        except (binascii.Error, ValueError):
            sizes["media"] = len(body["media"])
        body = {k: v for k, v in body.items() if k != "media"}
    return replace(request, files=files, json=body, file_sizes=sizes)


def _not_found(resource: str, parameter: str, value: str) -> dict[str, str]:
    return {"value": value, "detail": f"Could not find {resource} with {parameter}: [{value}].",
            "title": "Not Found Error", "resource_type": resource, "parameter": parameter,
            "resource_id": value, "type": NOT_FOUND}  # fmt: skip


def _time(text: str | None, default: datetime) -> datetime:
    """An RFC 3339 time from a query (naive: UTC), or ``default``."""
    moment = datetime.fromisoformat(text) if text else default
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _read_body(request: Request, content_type: str, body: bytes) -> None:
    """Fill ``request.json``, ``.form`` and ``.files`` from a JSON, form or multipart body."""
    header = Message()
    header["Content-Type"] = content_type or "application/octet-stream"
    mime, boundary = header.get_content_type(), header.get_param("boundary")
    if mime == "application/json" and body:
        try:
            request.json = json.loads(body)
        except ValueError:
            request.json = None
    elif mime == "application/x-www-form-urlencoded":
        request.form = dict(parse_qsl(body.decode(), keep_blank_values=True))
    elif mime == "multipart/form-data" and isinstance(boundary, str):
        request.form = {}
        for chunk in body.split(b"--" + boundary.encode())[1:-1]:
            head, _, data = chunk.partition(b"\r\n\r\n")
            data = data.removesuffix(b"\r\n")
            part = HeaderParser().parsestr(head.decode("utf-8", "replace").strip())
            name = str(part.get_param("name", "", header="content-disposition"))
            if part.get_filename() is not None or name == "media":
                request.files[name] = (data, part.get_content_type())
            else:
                request.form[name] = data.decode("utf-8", "replace")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as X does
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart
    server: _Server

    def do_GET(self) -> None:
        self.server.fake.serve(self)

    do_POST = do_DELETE = do_PUT = do_GET  # noqa: N815 (http.server's naming)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``FakeX.requests`` instead."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeX


class FakeX:
    """The fake X API: ``with FakeX() as fake:`` or ``start()``/``stop()``, then ``fake.url``.

    ``clock`` (default: the real UTC time) stamps tweets and rate-limit windows and times media
    processing: a video or GIF finalized now is processed ``processing_seconds`` later (settable
    per server at any time; each upload keeps the value it was finalized with)."""

    def __init__(
        self, clock: Callable[[], datetime] | None = None, *, processing_seconds: float = 1.0
    ) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self.processing_seconds = processing_seconds
        self._fail_next_processing: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._users: dict[str, User] = {}
        self._tweets: dict[str, Tweet] = {}  # in order of creation, so of id
        self._deleted: set[str] = set()
        self._media: dict[str, Media] = {}
        self._retweets: list[tuple[str, str]] = []
        self.refuse_repeated_retweets = False
        self._requests: list[Request] = []
        self._faults: list[Fault] = []
        self._windows: dict[tuple[str, str, int], int] = {}
        self._post_limit: tuple[int, int] | None = None  # posts, window seconds
        self._posts_in_window: dict[tuple[str, int], int] = {}
        self._released = threading.Event()
        self.refused = 0  # 429s of the enforced posting limit
        self.holding = 0  # requests a "hang" fault holds right now
        self._last_id = 0
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def start(self) -> FakeX:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in a "timeout" or "hang" fault
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeX:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # Test controls

    def add_user(self, user_id: str, username: str, consumer_key: str, consumer_secret: str,
                 access_token: str, access_secret: str, *, name: str = "") -> User:  # fmt: skip
        """A user of the consumer (app) ``consumer_key``, authorized with ``access_token``."""
        user = User(user_id, username, name or username, consumer_key, consumer_secret,
                    access_token, access_secret)  # fmt: skip
        with self._lock:
            self._users[user_id] = user
        return user

    @property
    def tweets(self) -> list[Tweet]:
        """Stored tweets, oldest first; deleted ones are gone."""
        with self._lock:
            return list(self._tweets.values())

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    @property
    def media(self) -> dict[str, Media]:
        """Uploads by id, their processing brought up to the clock's now."""
        with self._lock:
            for medium in self._media.values():
                self._refresh(medium)
            return dict(self._media)

    def fail_processing(self, media_id: str | None = None, *, code: int = 1,
                        name: str = "InvalidMedia", message: str = "Unsupported video format",
                        ) -> None:  # fmt: skip
        """Make a video's or GIF's processing fail with X's error object {code, name, message}:
        ``media_id``'s at once if it is being processed, else (still uploading) when its
        processing would have ended; without ``media_id``, that of the next upload finalized."""
        error = {"code": code, "name": name, "message": message}
        with self._lock:
            if media_id is None:
                self._fail_next_processing = error
                return
            medium = self._media[media_id]
            if not medium.processed:
                raise ValueError(f"{medium.category} media are not processed")
            self._refresh(medium)
            if medium.state in ("pending", "in_progress"):
                medium.state, medium.error = "failed", error
            elif medium.state == "uploading":
                medium._failure = error
            else:
                raise ValueError(f"media {media_id} is {medium.state} already")

    def finish_processing(self, media_id: str) -> None:
        """End a video's or GIF's processing now, successfully (as if its time had passed)."""
        with self._lock:
            medium = self._media[media_id]
            if medium.state not in ("pending", "in_progress"):
                raise ValueError(f"media {media_id} is {medium.state}, not being processed")
            medium.state, medium.progress_percent = "succeeded", 100

    @property
    def retweets(self) -> list[tuple[str, str]]:
        """(user id, tweet id) pairs."""
        with self._lock:
            return list(self._retweets)

    def retweet_as(self, user_id: str, tweet_id: str) -> None:
        """Record a retweet made elsewhere (the X app), as the endpoint would."""
        with self._lock:
            self._retweets.append((user_id, tweet_id))
            self._tweets[tweet_id].metrics["retweet_count"] += 1

    def count_posts(self, user_id: str | None = None) -> int:
        with self._lock:
            return sum(user_id in (None, t.author_id) for t in self._tweets.values())

    def set_metrics(self, tweet_id: str, **counts: int) -> None:
        if unknown := set(counts) - set(METRICS):
            raise ValueError(f"not public metrics: {sorted(unknown)}")
        with self._lock:
            self._tweets[tweet_id].metrics.update(counts)

    def fail_next(self, kind: str, count: int = 1, path_prefix: str = "/2/tweets",
                  method: str | None = None, *, path_suffix: str = "", skip: int = 0,
                  **options: Any) -> None:  # fmt: skip
        """Make the next ``count`` authenticated requests whose path starts with ``path_prefix``
        and ends with ``path_suffix`` (and whose method is ``method``, if given) fail, after
        letting ``skip`` such requests through: ``fail_next("server_error", path_prefix=
        "/2/media/upload/", path_suffix="/append", skip=1)`` fails the second APPEND. Options by
        kind:
        rate_limit: ``reset`` (epoch seconds, default now + 900), ``remaining`` (default 0),
          ``daily`` (True or "user": x-user-limit-24hour-* exhausted; "app": x-app-limit-24hour-*),
          ``daily_limit`` (17), ``daily_reset`` (now + 86400);
        server_error: ``status`` (503); timeout: ``seconds`` (5) of silence, then the answer;
        hang: silence until ``release()``, then ``then`` ("server_error", or "" for the usual
        answer, the tweet stored); drop_after_store (the request takes effect: a tweet stored, a
        segment appended, an upload finalized) / drop_before_store (it does not): none."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULTS}")
        with self._lock:
            self._faults.append(Fault(kind, count, path_prefix, method, options, path_suffix, skip))

    def release(self) -> None:
        """Let every request held by a "hang" fault, and any later one, go on."""
        self._released.set()

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def limit_posts(self, posts: int, seconds: int) -> None:
        """From now on, refuse with 429 each user's POST /2/tweets beyond ``posts`` in a fixed
        window of ``seconds`` (windows start at multiples of it, as X's do)."""
        with self._lock:
            self._post_limit = (posts, seconds)

    # Serving

    def serve(self, handler: _Handler) -> None:
        url = urlsplit(handler.path)
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        content_type = handler.headers.get("Content-Type", "")
        request = Request(handler.command, url.path, dict(parse_qsl(url.query)),
                          dict(handler.headers.items()))  # fmt: skip
        _read_body(request, content_type, body)
        auth = handler.headers.get("Authorization", "")
        user = self._authenticate(request.method, url.path, url.query, content_type, body, auth)
        request.user_id = user.id if user else None
        with self._lock:
            self._requests.append(_for_log(request))
            fault = self._take_fault(request) if user else None
        kind, options = (fault.kind, fault.options) if fault else ("", {})
        if kind == "timeout" and self._stopping.wait(options.get("seconds", 5)):
            kind = "drop_before_store"  # stopped while sleeping
        if kind == "hang":
            with self._lock:
                self.holding += 1
            while not (self._released.is_set() or self._stopping.wait(0.05)):
                pass
            with self._lock:
                self.holding -= 1
            stopped = self._stopping.is_set()
            kind = "drop_before_store" if stopped else options.get("then", "server_error")
        if not kind and user and self._over_post_limit(user.id, request):
            kind, options = "rate_limit", {"reset": self._post_window_end()}
        if kind == "drop_before_store":
            handler.close_connection = True  # closed with no answer, nothing done
            return
        headers: dict[str, str] = {}
        if user is None:
            status, answer = _problem(401)
        elif kind == "server_error":
            status, answer = _problem(options.get("status", 503))
        else:
            with self._lock:
                headers = self._window(user.id, request, options if kind == "rate_limit" else None)
                status, answer = (
                    _problem(429) if kind == "rate_limit" else self._route(user, request)
                )
        if kind == "drop_after_store":
            handler.close_connection = True  # done, but closed with no answer
            return
        data = json.dumps(answer).encode()
        problem = isinstance(answer, dict) and answer.get("type") == "about:blank"
        handler.send_response(status)
        handler.send_header("Content-Type", "application/problem+json" if problem
                            else "application/json; charset=utf-8")  # fmt: skip
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _authenticate(self, method: str, path: str, query: str, content_type: str, body: bytes,
                      header: str) -> User | None:  # fmt: skip
        """The user whose OAuth 1.0a HMAC-SHA1 signature (RFC 5849) the request carries."""
        try:
            oauth = {k: utils.unescape(v) for k, v in utils.parse_authorization_header(header)}
        except ValueError:
            return None
        keys = (oauth.get("oauth_consumer_key"), oauth.get("oauth_token"))
        with self._lock:
            user = next((u for u in self._users.values()
                         if (u.consumer_key, u.access_token) == keys), None)  # fmt: skip
        if user is None or oauth.get("oauth_signature_method") != "HMAC-SHA1":
            return None
        form = content_type.startswith("application/x-www-form-urlencoded")  # only such bodies
        params = signature.collect_parameters(query, body.decode() if form else None,
                                              {"Authorization": header})  # fmt: skip
        normalized = signature.normalize_parameters(params)
        secrets = SimpleNamespace(client_secret=user.consumer_secret,
                                  resource_owner_secret=user.access_secret)  # fmt: skip
        for base in SIGNED_BASES:
            uri = signature.base_string_uri(base + path)
            text = signature.signature_base_string(method, uri, normalized)
            expected = signature.sign_hmac_sha1_with_client(text, secrets)
            if compare_digest(expected, oauth.get("oauth_signature", "")):
                return user
        return None

    def _take_fault(self, request: Request) -> Fault | None:
        for fault in self._faults:
            path = request.path
            if not (path.startswith(fault.path_prefix) and path.endswith(fault.path_suffix)
                    and fault.method in {None, request.method}):  # fmt: skip
                continue
            if fault.skip > 0:
                fault.skip -= 1
                continue
            fault.count -= 1
            if fault.count <= 0:
                self._faults.remove(fault)
            return fault
        return None

    def _over_post_limit(self, user_id: str, request: Request) -> bool:
        """Counts this user's POST /2/tweets in the current window; True beyond the limit."""
        if self._post_limit is None or (request.method, request.path) != ("POST", "/2/tweets"):
            return False
        posts, seconds = self._post_limit
        now = int(self._clock().timestamp())
        with self._lock:
            key = (user_id, now - now % seconds)
            used = self._posts_in_window[key] = self._posts_in_window.get(key, 0) + 1
            if used > posts:
                self.refused += 1
        return used > posts

    def _post_window_end(self) -> int:
        assert self._post_limit is not None
        seconds = self._post_limit[1]
        now = int(self._clock().timestamp())
        return now - now % seconds + seconds

    def _window(
        self, user_id: str, request: Request, limited: dict[str, Any] | None
    ) -> dict[str, str]:
        """Rate-limit headers: this user's calls to this route in this 15-minute window, or
        (``limited``: a rate_limit fault's options) the limit exhausted."""
        now = int(self._clock().timestamp())
        start = now - now % WINDOW_SECONDS
        route = (user_id, request.method + re.sub(r"/\d+", "/:id", request.path), start)
        used = self._windows[route] = self._windows.get(route, 0) + 1
        headers = {"x-rate-limit-limit": str(WINDOW_LIMIT),
                   "x-rate-limit-remaining": str(max(0, WINDOW_LIMIT - used)),
                   "x-rate-limit-reset": str(start + WINDOW_SECONDS)}  # fmt: skip
        if limited is None:
            return headers
        headers["x-rate-limit-remaining"] = str(limited.get("remaining", 0))
        headers["x-rate-limit-reset"] = str(limited.get("reset", now + WINDOW_SECONDS))
        if daily := limited.get("daily"):
            prefix = "x-app-limit-24hour" if daily == "app" else "x-user-limit-24hour"
            headers[f"{prefix}-limit"] = str(limited.get("daily_limit", 17))
            headers[f"{prefix}-remaining"] = "0"
            headers[f"{prefix}-reset"] = str(limited.get("daily_reset", now + DAY_SECONDS))
        return headers

    def _route(self, user: User, request: Request) -> Answer:
        for method, pattern, endpoint in ROUTES:
            if method == request.method and (match := re.fullmatch(pattern, request.path)):
                try:
                    answer: Answer = endpoint(self, user, request, *match.groups())
                except _RefusedError as refused:
                    return refused.answer
                return answer
        return _problem(404)

    def _next_id(self) -> str:
        ms = int(self._clock().timestamp() * 1000) - TWITTER_EPOCH_MS
        self._last_id = max(ms << 22, self._last_id + 1)  # snowflake-like, always increasing
        return str(self._last_id)

    def _tweet_json(self, tweet: Tweet, request: Request) -> dict[str, Any]:
        fields = set(request.query.get("tweet.fields", "").split(","))
        reply_to = tweet.reply_to and [{"type": "replied_to", "id": tweet.reply_to}]
        keys = tweet.media_ids and {
            "media_keys": [self._media[m].media_key for m in tweet.media_ids]
        }
        created = f"{tweet.created_at.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}"[:-3] + "Z"  # ms
        optional = {"author_id": tweet.author_id, "conversation_id": tweet.conversation_id,
                    "created_at": created,
                    "public_metrics": dict(tweet.metrics), "referenced_tweets": reply_to,
                    "in_reply_to_user_id": tweet.reply_to_user_id, "attachments": keys}  # fmt: skip
        shown = {
            "id": tweet.id,
            "text": _as_x_shows(tweet.text),
            "edit_history_tweet_ids": [tweet.id],
        }
        return shown | {k: v for k, v in optional.items() if k in fields and v}

    def _refresh(self, medium: Media) -> None:
        """Bring a video's or GIF's processing up to now: pending until the clock moves past
        FINALIZE, in progress (a percentage of its time) until its time is up, then succeeded,
        or failed if a failure was asked for."""
        if medium.state not in ("pending", "in_progress") or medium.finalized_at is None:
            return
        elapsed = (self._clock() - medium.finalized_at).total_seconds()
        if elapsed >= medium.processing_seconds:
            if medium._failure:
                medium.state, medium.error = "failed", medium._failure
            else:
                medium.state, medium.progress_percent = "succeeded", 100
        elif elapsed > 0:
            medium.state = "in_progress"
            share = int(100 * elapsed / medium.processing_seconds)
            medium.progress_percent = min(99, max(1, share))

    def _check_after(self, medium: Media) -> int:
        """Whole seconds until the processing is due to end, 1 at least (X's check_after_secs)."""
        assert medium.finalized_at is not None
        elapsed = (self._clock() - medium.finalized_at).total_seconds()
        return max(1, math.ceil(medium.processing_seconds - elapsed))

    def _media_json(self, medium: Media) -> dict[str, Any]:
        """An upload as FINALIZE and STATUS show it: processing_info for a video or GIF."""
        assert medium.created_at is not None
        age = int((self._clock() - medium.created_at).total_seconds())
        data: dict[str, Any] = {"id": medium.id, "media_key": medium.media_key,
                                "size": medium.size,
                                "expires_after_secs": max(0, DAY_SECONDS - age)}  # fmt: skip
        if not medium.processed:
            return data
        info: dict[str, Any] = {"state": medium.state}
        if medium.state in ("pending", "in_progress"):
            info["check_after_secs"] = self._check_after(medium)
        if medium.state != "pending":
            info["progress_percent"] = medium.progress_percent
        if medium.state == "failed":
            info["error"] = medium.error
        return data | {"processing_info": info}

    def _own_media(self, user: User, media_id: str) -> Media:
        medium = self._media.get(media_id)
        if medium is None or medium.user_id != user.id:
            raise _bad_request("BadRequest: Not found")
        return medium

    # Endpoints: called under the lock; return (status, body) or raise _RefusedError.

    def _create_tweet(self, user: User, request: Request) -> Answer:
        body = request.json if isinstance(request.json, dict) else {}
        text = str(body.get("text") or "")
        media_ids = [str(m) for m in (body.get("media") or {}).get("media_ids") or []]
        reply_to = str((body.get("reply") or {}).get("in_reply_to_tweet_id") or "")
        if not text and not media_ids:
            raise _invalid("Tweet text is empty.", {"text": [text]})
        parent = self._tweets.get(reply_to)
        if reply_to in self._deleted:
            raise _RefusedError(_problem(403, "You attempted to reply to a Tweet that is deleted "
                                              "or not visible to you."))  # fmt: skip
        if reply_to and parent is None:
            raise _invalid(f"The `reply.in_reply_to_tweet_id` value [{reply_to}] is not valid",
                           {"reply.in_reply_to_tweet_id": [reply_to]})  # fmt: skip
        self._check_tweet_media(user, media_ids)
        if text and any(t.author_id == user.id and t.text == text for t in self._tweets.values()):
            detail = "You are not allowed to create a Tweet with duplicate content."
            raise _RefusedError(_problem(403, detail))
        tweet_id = self._next_id()
        tweet = Tweet(tweet_id, user.id, text, self._clock(), tweet_id, media_ids=media_ids)
        if parent:
            tweet.conversation_id, tweet.reply_to = parent.conversation_id, parent.id
            tweet.reply_to_user_id = parent.author_id
            parent.metrics["reply_count"] += 1
        self._tweets[tweet_id] = tweet
        return 201, {"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}}

    def _check_tweet_media(self, user: User, media_ids: list[str]) -> None:
        """X's rule for a post's media: up to 4 images, or one video or GIF, each the user's and
        each usable (a video or GIF processed successfully)."""
        if len(media_ids) > 4:
            raise _bad_request("$.media.media_ids: there must be a maximum of 4 items in the array")
        media = [self._media.get(m) for m in media_ids]
        for medium in media:
            if medium is not None:
                self._refresh(medium)
        usable = [m for m in media if m and m.user_id == user.id and m.state == "succeeded"]
        single = any(m.processed for m in usable)  # a video or a GIF goes alone
        if len(usable) != len(media_ids) or (single and len(usable) > 1):
            raise _invalid(INVALID_MEDIA, {"media.media_ids": media_ids})

    def _get_tweet(self, user: User, request: Request, tweet_id: str) -> Answer:
        if tweet_id not in self._tweets:
            return 200, {"errors": [_not_found("tweet", "id", tweet_id)]}
        return 200, {"data": self._tweet_json(self._tweets[tweet_id], request)}

    def _lookup_tweets(self, user: User, request: Request) -> Answer:
        ids = [i for i in request.query.get("ids", "").split(",") if i]
        if not ids:
            raise _invalid("The `ids` query parameter can not be empty", {"ids": []})
        if len(ids) > LOOKUP_MAX:
            text = (
                f"The number of values in the `ids` query parameter list [{len(ids)}] is not "
                f"between 1 and {LOOKUP_MAX}"
            )
            raise _invalid(text, {"ids": [",".join(ids)]})
        found = [self._tweet_json(self._tweets[i], request) for i in ids if i in self._tweets]
        missing = [_not_found("tweet", "ids", i) for i in ids if i not in self._tweets]
        return 200, {k: v for k, v in (("data", found), ("errors", missing)) if v}

    def _delete_tweet(self, user: User, request: Request, tweet_id: str) -> Answer:
        tweet = self._tweets.get(tweet_id)
        if tweet is None:
            return 200, {"errors": [_not_found("tweet", "id", tweet_id)]}
        if tweet.author_id != user.id:
            raise _RefusedError(_problem(403, "You are not authorized to delete this Tweet."))
        del self._tweets[tweet_id]
        self._deleted.add(tweet_id)
        return 200, {"data": {"deleted": True}}

    def _me(self, user: User, request: Request) -> Answer:
        return 200, {"data": {"id": user.id, "name": user.name, "username": user.username}}

    def _timeline(self, user: User, request: Request, user_id: str) -> Answer:
        query = request.query
        if user_id not in self._users:
            return 200, {"errors": [_not_found("user", "id", user_id)]}
        try:
            size = int(query.get("max_results", "10"))
            start = _time(query.get("start_time"), datetime.min.replace(tzinfo=UTC))
            end = _time(query.get("end_time"), datetime.max.replace(tzinfo=UTC))
            below = int(query.get("pagination_token", "0"), 16)  # next_token: an id, in hex
        except ValueError as error:
            raise _invalid(str(error), {}) from error
        if not 5 <= size <= 100:
            raise _invalid(f"The `max_results` query parameter value [{size}] is not between 5 "
                           "and 100", {"max_results": [str(size)]})  # fmt: skip
        tweets = [t for t in reversed(self._tweets.values())  # newest first
                  if t.author_id == user_id and start <= t.created_at <= end
                  and (not below or int(t.id) <= below)]  # fmt: skip
        page, rest = tweets[:size], tweets[size:]
        if not page:
            return 200, {"meta": {"result_count": 0}}
        meta = {"result_count": len(page), "newest_id": page[0].id, "oldest_id": page[-1].id}
        if rest:
            meta["next_token"] = format(int(rest[0].id), "x")
        return 200, {"data": [self._tweet_json(t, request) for t in page], "meta": meta}

    def _retweet(self, user: User, request: Request, user_id: str) -> Answer:
        if user_id != user.id:
            raise _RefusedError(_problem(403, "You are not allowed to act for another user."))
        tweet_id = str((request.json if isinstance(request.json, dict) else {}).get("tweet_id"))
        if tweet_id not in self._tweets:
            raise _invalid(
                f"The `tweet_id` value [{tweet_id}] is not valid", {"tweet_id": [tweet_id]}
            )
        if (user.id, tweet_id) not in self._retweets:  # retweeting again changes nothing
            self._retweets.append((user.id, tweet_id))
            self._tweets[tweet_id].metrics["retweet_count"] += 1
        elif self.refuse_repeated_retweets:
            raise _RefusedError(_problem(403, "You have already retweeted this Tweet."))
        return 200, {"data": {"retweeted": True}}

    def _retweeted_by(self, user: User, request: Request, tweet_id: str) -> Answer:
        if tweet_id not in self._tweets:
            return 200, {"errors": [_not_found("tweet", "id", tweet_id)]}
        try:
            size = int(request.query.get("max_results", "100"))
            start = int(request.query.get("pagination_token", "0"), 16)  # an offset, in hex
        except ValueError as error:
            raise _invalid(str(error), {}) from error
        if not 1 <= size <= 100:
            raise _invalid(f"The `max_results` query parameter value [{size}] is not between 1 "
                           "and 100", {"max_results": [str(size)]})  # fmt: skip
        users = [self._users[u] for u, t in reversed(self._retweets) if t == tweet_id]
        page = users[start : start + size]
        if not page:
            return 200, {"meta": {"result_count": 0}}
        meta: dict[str, Any] = {"result_count": len(page)}
        if start + size < len(users):
            meta["next_token"] = format(start + size, "x")
        data = [{"id": u.id, "name": u.name, "username": u.username} for u in page]
        return 200, {"data": data, "meta": meta}

    def _upload(self, user: User, request: Request) -> Answer:
        """The one-shot upload, for images (X keeps this endpoint for images and subtitles)."""
        form = request.form or {}
        if "command" in request.query or "command" in form:
            raise _bad_request("The `command` parameter is no longer supported: use "
                               "/2/media/upload/initialize, /2/media/upload/{id}/append and "
                               "/2/media/upload/{id}/finalize")  # fmt: skip
        if "media" not in request.files:
            raise _invalid("The `media` field is required", {"media": []})
        data, content_type = request.files["media"]
        category = form.get("media_category", "tweet_image")
        if category in PROCESSED:
            raise _bad_request(f"media_category {category} needs the chunked upload: "
                               "/2/media/upload/initialize")  # fmt: skip
        limit = SIZE_LIMITS.get(category, 5 * MB)
        if len(data) > limit:
            raise _bad_request(f"File size exceeds {limit} bytes.")
        now = self._clock()
        media = Media(self._next_id(), user.id, category, form.get("media_type", content_type),
                      len(data), sha256=hashlib.sha256(data).hexdigest(), created_at=now,
                      finalized_at=now)  # fmt: skip
        self._media[media.id] = media
        return 200, {"data": {"id": media.id, "media_key": media.media_key, "size": media.size,
                              "expires_after_secs": DAY_SECONDS}}  # fmt: skip

    def _initialize(self, user: User, request: Request) -> Answer:
        body = _json_object(request)
        total, media_type = body.get("total_bytes"), body.get("media_type")
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise _bad_request("`total_bytes` must be a whole number of bytes, 0 or more")
        if media_type not in MEDIA_TYPES:
            raise _bad_request(f"`media_type` [{media_type}] is not one of {sorted(MEDIA_TYPES)}")
        kind = "video" if media_type.startswith("video/") else "image"
        default = "tweet_gif" if media_type == "image/gif" else f"tweet_{kind}"
        category = body.get("media_category", default)
        if category not in SIZE_LIMITS:
            raise _bad_request(f"`media_category` [{category}] is not one of {sorted(SIZE_LIMITS)}")
        if total > SIZE_LIMITS[category]:
            raise _bad_request(f"File size exceeds {SIZE_LIMITS[category]} bytes.")
        medium = Media(self._next_id(), user.id, category, media_type, 0, total_bytes=total,
                       state="uploading", created_at=self._clock())  # fmt: skip
        self._media[medium.id] = medium
        return 200, {"data": {"id": medium.id, "media_key": medium.media_key,
                              "expires_after_secs": DAY_SECONDS}}  # fmt: skip

    def _append(self, user: User, request: Request, media_id: str) -> Answer:
        medium = self._own_media(user, media_id)
        if medium.state != "uploading":
            raise _bad_request(f"Media [{media_id}] is finalized: no segment can be appended")
        index, data = self._segment(request)
        if index is None:
            raise _invalid("The `segment_index` field is required", {"segment_index": []})
        if index not in SEGMENT_INDEXES:
            raise _bad_request(f"`segment_index` [{index}] is not between 0 and 999")
        if index in medium.segments:
            raise _bad_request(f"Segment [{index}] of media [{media_id}] was appended already")
        if len(data) > SEGMENT_MAX:
            raise _bad_request(f"Segment size exceeds {SEGMENT_MAX} bytes.")
        medium.add_segment(index, data)
        assert medium.created_at is not None
        expires_at = int(medium.created_at.timestamp()) + DAY_SECONDS
        return 200, {"data": {"expires_at": expires_at}}

    @staticmethod
    def _segment(request: Request) -> tuple[int | None, bytes]:
        """An APPEND's segment_index and bytes: multipart ``media`` and ``segment_index``, or
        JSON with ``media`` in base64."""
        if _mime(request) == "multipart/form-data":
            if "media" not in request.files:
                raise _invalid("The `media` field is required", {"media": []})
            text = (request.form or {}).get("segment_index", "")
            index = int(text) if re.fullmatch(r"\d{1,9}", text) else None
            return index, request.files["media"][0]
        body = _json_object(request)
        media, index = body.get("media"), body.get("segment_index")
        if not isinstance(media, str):
            raise _invalid("The `media` field is required", {"media": []})
        try:
            data = base64.b64decode(media, validate=True)
        except (binascii.Error, ValueError) as error:
            raise _bad_request("`media` is not valid base64") from error
        valid = isinstance(index, int) and not isinstance(index, bool)
        return (index if valid else None), data

    def _finalize(self, user: User, request: Request, media_id: str) -> Answer:
        medium = self._own_media(user, media_id)
        if medium.state == "uploading":
            if not medium.complete:
                raise _bad_request("Segments do not add up to provided total file size.")
            medium.sha256 = medium._digest.hexdigest()
            medium.finalized_at = self._clock()
            if medium.processed:
                medium.state, medium.processing_seconds = "pending", self.processing_seconds
                if self._fail_next_processing:
                    medium._failure, self._fail_next_processing = self._fail_next_processing, None
            else:
                medium.state = "succeeded"
        else:
            self._refresh(medium)  # finalized before: its state as it is now
        return 200, {"data": self._media_json(medium)}

    def _status(self, user: User, request: Request) -> Answer:
        command, media_id = request.query.get("command", "STATUS"), request.query.get("media_id")
        if command != "STATUS":
            raise _bad_request(f"`command` [{command}] is not one of [STATUS]")
        if not media_id:
            raise _bad_request("The `media_id` query parameter can not be empty")
        medium = self._own_media(user, media_id)
        if not medium.processed or medium.state == "uploading":
            raise _bad_request("BadRequest: Not found")
        self._refresh(medium)
        return 200, {"data": self._media_json(medium)}

    def _metadata(self, user: User, request: Request) -> Answer:
        body = request.json if isinstance(request.json, dict) else {}
        media = self._media.get(media_id := str(body.get("id")))
        alt = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
        if media is None or media.user_id != user.id:
            raise _invalid(f"The `id` value [{media_id}] is not valid", {"id": [media_id]})
        if not isinstance(alt, str) or len(alt) > 1000:
            raise _invalid("alt_text.text must be a text of at most 1000 characters", {})
        media.alt_text = alt
        return 200, {"data": {"id": media_id, "associated_metadata": {"alt_text": {"text": alt}}}}


ROUTES: list[tuple[str, str, Callable[..., Answer]]] = [
    ("POST", r"/2/tweets", FakeX._create_tweet),
    ("GET", r"/2/tweets", FakeX._lookup_tweets),
    ("GET", r"/2/tweets/(\d+)", FakeX._get_tweet),
    ("DELETE", r"/2/tweets/(\d+)", FakeX._delete_tweet),
    ("GET", r"/2/users/me", FakeX._me),
    ("GET", r"/2/users/(\d+)/tweets", FakeX._timeline),
    ("POST", r"/2/users/(\d+)/retweets", FakeX._retweet),
    ("GET", r"/2/tweets/(\d+)/retweeted_by", FakeX._retweeted_by),
    ("POST", r"/2/media/upload", FakeX._upload),
    ("GET", r"/2/media/upload", FakeX._status),
    ("POST", r"/2/media/upload/initialize", FakeX._initialize),
    ("POST", r"/2/media/upload/(\d+)/append", FakeX._append),
    ("POST", r"/2/media/upload/(\d+)/finalize", FakeX._finalize),
    ("POST", r"/2/media/metadata", FakeX._metadata),
]
