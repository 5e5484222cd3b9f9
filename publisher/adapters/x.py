"""X (Twitter) through tweepy's v2 ``Client``, with OAuth 1.0a user context.

The main post carries the message, the media and the tags that fit; the overflow tags follow as a
reply thread under it. tweepy 4.17 has no v2 media upload, so those two calls go through tweepy's
own session and OAuth 1.0a auth. ``wait_on_rate_limit`` stays off: a 429 becomes RateLimitedError
with the time X gives (``x-rate-limit-reset``, or the 24-hour limit's reset when that is spent), and
the dispatcher decides. A 403 "duplicate content" means the post is already there: it is looked up
and returned, never posted again. A request that may have reached X (read timeout, connection
dropped after sending) is UncertainError, reconciled through the account's timeline.

Amplification is a retweet. A retweet repeated changes nothing on X (v2 answers it with success,
v1.1 with "already retweeted", taken as done), and whether the account has retweeted a post is
read from the post's retweeters, so a retweet is reconciled like a post.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from publisher.adapters.base import AccountCheck, Adapter, Metrics, Outgoing, Rules, comparable
from publisher.adapters.lazy import lazy
from publisher.adapters.x_length import x_length
from publisher.clock import Clock
from publisher.config.platforms import PlatformOptions, Quota
from publisher.errors import (
    AdapterError,
    AuthError,
    PermanentError,
    RateLimitedError,
    TransientError,
    UncertainError,
)
from publisher.vocabulary import Receipt

if TYPE_CHECKING:
    import requests
    import tweepy
    import urllib3

    from publisher.adapters import http
else:  # loaded when an adapter is built, not with its rules (publisher.adapters.lazy)
    requests, tweepy, urllib3 = lazy("requests"), lazy("tweepy"), lazy("urllib3")
    http = lazy("publisher.adapters.http")

logger = logging.getLogger(__name__)

HOSTS = ["https://api.twitter.com", "https://api.x.com"]
UPLOAD_URL = "https://api.x.com/2/media/upload"
METADATA_URL = "https://api.x.com/2/media/metadata"
WEB = "https://x.com"
WINDOW = 900.0  # X's rate-limit window, for a 429 that says nothing of when
RETWEETERS_PAGES = 10  # of 100: past these, not finding the account means retweeting again
TIMELINE_PAGES = 32  # of 100: X serves an account's 3,200 newest posts, no more


class XAdapter(Adapter[PlatformOptions]):
    platform: ClassVar[str] = "x"
    secrets: ClassVar[tuple[str, ...]] = (
        "consumer_key",
        "consumer_secret",
        "access_token",
        "access_token_secret",
    )
    rules: ClassVar[Rules] = Rules(
        text_limit=280,
        length=x_length,
        length_unit="weighted characters",
        overflow="replies",
        parts_are_posts=True,  # every reply is one more POST /2/tweets
        amplify="retweet",
        # Below X's limits: 100 posts a day per user, 1,667 per app (the Basic tier's 50,000 a
        # month); the README's "Rate limits" has the sources.
        quotas=(
            Quota(per="account", posts=100, minutes=1440),
            Quota(per="app", posts=1667, minutes=1440),
        ),
        profile_url="https://x.com/{}",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        missing = [name for name in self.secrets if name not in self._secrets]
        if missing:
            msg = f"the credential of x:{self.account.handle} lacks {', '.join(missing)}"
            raise AuthError(msg)
        self.client = tweepy.Client(**self._secrets, wait_on_rate_limit=False)
        http.redirect(
            self.client.session, HOSTS, self.options.api_base_url, self.options.timeout_seconds
        )
        self.user_id = self.account.platform_id or self._secrets["access_token"].split("-")[0]

    def app(self) -> str:
        """X's apps are told apart by their consumer key: a digest of it names the app."""
        digest = hashlib.sha256(self._secrets["consumer_key"].encode()).hexdigest()
        return f"x-app-{digest[:12]}"

    def publish(self, delivery: Outgoing) -> Receipt:
        media_ids = [self._upload(m.path.read_bytes(), m.alt) for m in delivery.media]
        main, *replies = delivery.parts
        try:
            data = self._call(
                lambda: self.client.create_tweet(text=main.text, media_ids=media_ids or None)
            )
        except _DuplicateError:
            found = self.find_existing(delivery)
            if found is None:
                msg = "X says the post is a duplicate, but it is not on the account's timeline"
                raise PermanentError(msg) from None
            return found
        remote_id = str(data["id"])
        return Receipt(
            remote_id, self._url(remote_id), self.clock(), self._thread(remote_id, replies)
        )

    def _thread(self, parent: str, replies: Sequence[Any]) -> list[str]:
        """Post the overflow replies under ``parent``. The main post is out already, so a reply
        that fails is logged and skipped rather than failing (and re-sending) the delivery."""
        ids: list[str] = []
        for part in replies:
            try:
                data = self._call(
                    partial(self.client.create_tweet, text=part.text, in_reply_to_tweet_id=parent)
                )
            except (AdapterError, _DuplicateError) as exc:
                logger.warning(
                    "x:%s: a reply under %s was not posted: %s", self.account.handle, parent, exc
                )
                break
            parent = str(data["id"])
            ids.append(parent)
        return ids

    def find_existing(self, delivery: Outgoing) -> Receipt | None:
        """The post on the account's timeline since the delivery fell due, newest first, page
        after page: a busy account (a burst) may have posted hundreds since, and a post missed
        here would be sent again and refused as a duplicate."""
        since = delivery.published_since(self.clock())
        wanted = comparable(delivery.parts[0].text)
        token: str | None = None
        for _ in range(TIMELINE_PAGES):
            tweets, meta = self._call(partial(self._timeline, since, token))
            for tweet in tweets or []:
                if comparable(tweet["text"]) == wanted:
                    remote_id = str(tweet["id"])
                    return Receipt(remote_id, self._url(remote_id), self.clock())
            token = meta.get("next_token")
            if not token:
                break
        return None

    def _timeline(self, since: datetime, token: str | None) -> tuple[Any, dict[str, Any]]:
        response = self.client.get_users_tweets(
            self.user_id,
            start_time=since,
            max_results=100,
            pagination_token=token,
            tweet_fields=["created_at"],
            user_auth=True,
        )
        return response.data, response.meta or {}

    def metrics(self, receipts: Sequence[Receipt]) -> dict[str, Metrics]:
        ids = [r.remote_id for r in receipts if r.remote_id]
        out: dict[str, Metrics] = {}
        for start in range(0, len(ids), 100):  # the lookup takes 100 ids at most
            batch = ids[start : start + 100]
            found = self._call(
                partial(
                    self.client.get_tweets, batch, tweet_fields=["public_metrics"], user_auth=True
                )
            )
            for tweet in found or []:
                m = tweet["public_metrics"]
                out[str(tweet["id"])] = Metrics(
                    likes=m.get("like_count"),
                    shares=m.get("retweet_count", 0) + m.get("quote_count", 0),
                    comments=m.get("reply_count"),
                    views=m.get("impression_count"),
                )
        return out

    def check(self) -> AccountCheck:
        try:
            me = self._call(lambda: self.client.get_me(user_auth=True))
        except AdapterError as exc:
            return AccountCheck(valid=False, detail=str(exc))
        return AccountCheck(valid=True, detail=f"signed in as @{me['username']}")

    def retweet(self, remote_id: str) -> None:
        """Share another account's post from this one (amplification)."""
        data = self._call(lambda: self.client.retweet(remote_id, user_auth=True))
        if not (data or {}).get("retweeted"):
            raise PermanentError(f"X did not retweet {remote_id}: it answered {data}")

    def amplify(self, delivery: Outgoing) -> Receipt:
        """Retweet the source post. The receipt names the retweeted post: X gives a retweet no
        id of its own in this answer."""
        source = self._retweeted(delivery)
        try:
            self.retweet(source.remote_id)
        except _DuplicateError:
            logger.info("x:%s had already retweeted %s", self.account.handle, source.remote_id)
        return Receipt(source.remote_id, source.url, self.clock())

    def find_amplified(self, delivery: Outgoing) -> Receipt | None:
        """The retweet if this account is among the post's retweeters (newest first, up to
        RETWEETERS_PAGES pages); None sends it again, which X would take as the same retweet."""
        source = self._retweeted(delivery)
        token: str | None = None
        for _ in range(RETWEETERS_PAGES):
            users, meta = self._call(partial(self._retweeters, source.remote_id, token))
            if any(str(user["id"]) == self.user_id for user in users or []):
                return Receipt(source.remote_id, source.url, self.clock())
            token = meta.get("next_token")
            if not token:
                break
        return None

    def _retweeters(self, tweet_id: str, token: str | None) -> tuple[Any, dict[str, Any]]:
        response = self.client.get_retweeters(
            tweet_id, max_results=100, pagination_token=token, user_auth=True
        )
        return response.data, response.meta or {}

    @staticmethod
    def _retweeted(delivery: Outgoing) -> _Source:
        """The post to retweet; X can do nothing else for another account's post."""
        source = delivery.source
        if delivery.kind != "retweet" or source is None or not source.remote_id:
            msg = f"X cannot {delivery.kind} a post without the post's id on X"
            raise PermanentError(msg)
        return _Source(source.remote_id, source.url)

    def _url(self, remote_id: str) -> str:
        return f"{WEB}/{self.account.handle}/status/{remote_id}"

    def _upload(self, content: bytes, alt: str | None) -> str:
        session, auth = self.client.session, self._auth()
        response = self._raw(
            lambda: session.post(
                UPLOAD_URL,
                files={"media": content},
                data={"media_category": "tweet_image"},
                auth=auth,
            )
        )
        media_id = str(response.json()["data"]["id"])
        if alt:
            metadata = {"id": media_id, "metadata": {"alt_text": {"text": alt[:1000]}}}
            self._raw(lambda: session.post(METADATA_URL, json=metadata, auth=auth))
        return media_id

    def _auth(self) -> Any:
        secrets = self._secrets
        return tweepy.OAuth1UserHandler(
            secrets["consumer_key"],
            secrets["consumer_secret"],
            secrets["access_token"],
            secrets["access_token_secret"],
        ).apply_auth()

    def _raw(self, send: Callable[[], requests.Response]) -> requests.Response:
        """A request outside tweepy's methods, with tweepy's error classes for its answer."""

        def checked() -> requests.Response:
            response = send()
            if response.status_code >= 400:
                raise _tweepy_error(response)
            return response

        response: requests.Response = self._call(checked)
        return response

    def _call(self, call: Callable[[], Any]) -> Any:
        """Run a tweepy call and classify what can go wrong; returns the response's data."""
        try:
            result = call()
        except tweepy.TooManyRequests as exc:
            app_wide = exc.response.headers.get("x-app-limit-24hour-remaining") == "0"
            raise RateLimitedError(
                f"X rate limit: {_reason(exc)}", _retry_after(exc, self.clock), app_wide=app_wide
            ) from None
        except tweepy.Unauthorized as exc:
            msg = f"X refused the credentials of @{self.account.handle}: {_reason(exc)}"
            raise AuthError(msg) from None
        except tweepy.Forbidden as exc:
            if any(word in _reason(exc).lower() for word in ("duplicate", "already retweeted")):
                raise _DuplicateError from None
            raise PermanentError(f"X refused: {_reason(exc)}") from None
        except tweepy.TwitterServerError as exc:
            raise TransientError(f"X server error {exc.response.status_code}") from None
        except tweepy.HTTPException as exc:
            raise PermanentError(
                f"X refused ({exc.response.status_code}): {_reason(exc)}"
            ) from None
        except (requests.ConnectTimeout, requests.exceptions.SSLError) as exc:
            raise TransientError(f"cannot reach X: {exc}") from None
        except (requests.ReadTimeout, requests.ConnectionError) as exc:
            if _never_sent(exc):
                raise TransientError(f"cannot reach X: {exc}") from None
            raise UncertainError(f"no answer from X after the request was sent: {exc}") from None
        return result.data if isinstance(result, tweepy.Response) else result


@dataclass(frozen=True)
class _Source:
    remote_id: str
    url: str | None


class _DuplicateError(Exception):
    """X's 403 for a post whose text the account has already posted, or a post it has already
    retweeted."""


def _reason(exc: tweepy.HTTPException) -> str:
    return "; ".join(exc.api_messages) or str(exc)


def _retry_after(exc: tweepy.HTTPException, clock: Clock) -> float:
    """Seconds until X lifts the limit: the later of the window's reset and, when the 24-hour
    allowance is spent, its reset; X's 15-minute window when it gives no time at all."""
    headers = exc.response.headers
    now = clock().timestamp()
    resets = [int(headers.get("x-rate-limit-reset", 0))]
    for scope in ("user", "app"):
        if headers.get(f"x-{scope}-limit-24hour-remaining") == "0":
            resets.append(int(headers.get(f"x-{scope}-limit-24hour-reset", 0)))
    if max(resets) <= now:
        return WINDOW
    return max(resets) - now


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether the request certainly did not reach X (the connection was never made)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _tweepy_error(response: requests.Response) -> tweepy.HTTPException:
    classes = {400: tweepy.BadRequest, 401: tweepy.Unauthorized, 403: tweepy.Forbidden,
               404: tweepy.NotFound, 429: tweepy.TooManyRequests}  # fmt: skip
    if response.status_code >= 500:
        return tweepy.TwitterServerError(response)
    return classes.get(response.status_code, tweepy.HTTPException)(response)
