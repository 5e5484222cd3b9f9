"""Instagram (professional accounts) through the Graph API's content publishing.

Instagram fetches photos itself from a public URL, so ``[platforms.instagram] media_base_url``
must name where the queue's archive is served; the adapter refuses clearly without it. Publishing
takes three steps: a container (one photo, or a carousel of 2 to 10), polled until FINISHED, then
``media_publish``. The container id is checkpointed in the ledger before it is published: after a
crash the next attempt resumes that container (or finds it published) instead of making a second
post. Overflow tags go into the first comment. The account's ``platform_id`` is the Instagram user
id; the credential holds its access token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import Field

from publisher.adapters.base import (
    AccountCheck,
    Adapter,
    Media,
    Metrics,
    Outgoing,
    Rules,
    comparable,
)
from publisher.adapters.graph import Graph, GraphOptions
from publisher.config.platforms import PlatformOptions, Quota
from publisher.errors import (
    AdapterError,
    PermanentError,
    RateLimitedError,
    TransientError,
    UncertainError,
)
from publisher.vocabulary import Receipt

logger = logging.getLogger(__name__)

CAROUSEL_MAX = 10
MEDIA_PAGES = 20  # of 50: ten days of posts at Instagram's highest publishing quota, 100 a day
QUOTA_WAIT = 3600.0  # the publishing quota is a rolling 24 hours: look again in an hour


class InstagramOptions(GraphOptions):
    """``[platforms.instagram]``: where Instagram fetches the media from, and how long a
    container may take to be ready."""

    media_base_url: str | None = None  # where the archive is served from: Instagram fetches media
    container_poll_seconds: float = Field(default=2.0, ge=0)
    container_poll_limit: int = Field(default=30, ge=1)


class InstagramAdapter(Adapter[InstagramOptions]):
    platform: ClassVar[str] = "instagram"
    secrets: ClassVar[tuple[str, ...]] = ("access_token",)
    options_model: ClassVar[type[PlatformOptions]] = InstagramOptions
    rules: ClassVar[Rules] = Rules(
        text_limit=2_200,  # the caption
        max_mentions=20,  # in the caption, and again in the first comment
        max_hashtags=30,
        overflow="comment",
        media_required=True,  # Instagram publishes nothing without a photo or video
        quotas=(Quota(per="account", posts=50, minutes=1440),),  # its 50 API posts a day
        profile_url="https://www.instagram.com/{}/",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.graph, self.user = Graph.for_account(
            self.account, self._secrets, self.options, "the Instagram user id"
        )

    def publish(self, delivery: Outgoing) -> Receipt:
        """Each step is checkpointed (container, then media id, then first comment), so an
        attempt after a crash or a failure resumes where the last one stopped."""
        self._refuse_unpublishable(delivery)
        media_id = delivery.progress.get("media") or self._publish_container(delivery)
        comments = self._comments(delivery, media_id)
        permalink = self.graph.call(
            partial(self.graph.api.get_object, media_id, fields="permalink"), writes=False
        ).get("permalink")
        return Receipt(media_id, permalink, self.clock(), comments)

    def _publish_container(self, delivery: Outgoing) -> str:
        container = delivery.progress.get("container")
        if container is not None:
            status = self._status(container)
            if status == "PUBLISHED":  # proof enough: never make a second container
                found = self.find_existing(delivery)
                if found is None or found.remote_id is None:
                    msg = f"container {container} is published, but its post was not found"
                    raise UncertainError(msg)
                delivery.checkpoint("media", found.remote_id)
                return found.remote_id
            if status not in ("FINISHED", "IN_PROGRESS"):
                container = None  # ERROR or EXPIRED: it never became a post
        if container is None:
            self._check_quota()
            container = self._container(delivery)
            delivery.checkpoint("container", container)
        self._wait_until_finished(container)
        publish = partial(
            self.graph.api.put_object, self.user, "media_publish", creation_id=container
        )
        media_id = str(self.graph.call(publish, writes=True)["id"])
        delivery.checkpoint("media", media_id)
        return media_id

    def _comments(self, delivery: Outgoing, media_id: str) -> list[str]:
        """The overflow tags as the first comment. The post is out already: a comment that fails
        for good is logged and skipped (a transient failure retries, resuming here)."""
        ids = []
        for n, part in enumerate(delivery.parts[1:]):
            key = f"comment{n}"
            if key in delivery.progress:  # posted by an earlier attempt
                ids.append(delivery.progress[key])
                continue
            comment = partial(self.graph.api.put_comment, media_id, part.text)
            try:
                made = str(self.graph.call(comment, writes=True)["id"])
            except PermanentError as exc:
                logger.warning(
                    "instagram:%s: comment on %s not posted: %s", self.account.handle, media_id, exc
                )
                continue
            delivery.checkpoint(key, made)
            ids.append(made)
        return ids

    def _refuse_unpublishable(self, delivery: Outgoing) -> None:
        if not delivery.media:
            msg = "an Instagram post needs at least one photo; add one, or leave instagram out"
            raise PermanentError(msg)
        if len(delivery.media) > CAROUSEL_MAX:
            msg = f"Instagram takes {CAROUSEL_MAX} photos at most in one post"
            raise PermanentError(msg)
        if not self.options.media_base_url:
            msg = (
                "Instagram fetches photos from a public address: set [platforms.instagram] "
                "media_base_url to where the queue folder's archive is served"
            )
            raise PermanentError(msg)

    def _url(self, medium: Media) -> str:
        return f"{str(self.options.media_base_url).rstrip('/')}/{quote(medium.url_path)}"

    def _container(self, delivery: Outgoing) -> str:
        caption = delivery.parts[0].text
        create = partial(self.graph.api.put_object, self.user, "media")
        if len(delivery.media) == 1:
            [medium] = delivery.media
            made = self.graph.call(
                partial(
                    create, image_url=self._url(medium), caption=caption, alt_text=medium.alt or ""
                ),
                writes=True,
            )
            return str(made["id"])
        children = [
            str(
                self.graph.call(
                    partial(
                        create,
                        image_url=self._url(m),
                        is_carousel_item="true",
                        alt_text=m.alt or "",
                    ),
                    writes=True,
                )["id"]
            )
            for m in delivery.media
        ]
        made = self.graph.call(
            partial(create, media_type="CAROUSEL", children=",".join(children), caption=caption),
            writes=True,
        )
        return str(made["id"])

    def _status(self, container: str) -> str:
        found = self.graph.call(
            partial(self.graph.api.get_object, container, fields="status_code"), writes=False
        )
        return str(found.get("status_code", ""))

    def _wait_until_finished(self, container: str) -> None:
        for _ in range(self.options.container_poll_limit):
            status = self._status(container)
            if status in ("FINISHED", "PUBLISHED"):
                return
            if status in ("ERROR", "EXPIRED"):
                msg = f"Instagram could not prepare the post (container {container}: {status})"
                raise PermanentError(msg)
            time.sleep(self.options.container_poll_seconds)
        msg = f"Instagram is still preparing container {container}; it will be tried again"
        raise TransientError(msg)

    def _check_quota(self) -> None:
        limit = self.graph.call(
            partial(
                self.graph.api.get_connections,
                self.user,
                "content_publishing_limit",
                fields="quota_usage,config",
            ),
            writes=False,
        )
        [usage] = limit.get("data", [{}])
        total = usage.get("config", {}).get("quota_total")
        if total is not None and usage.get("quota_usage", 0) >= total:
            msg = f"the account has used its {total} posts of the last 24 hours"
            raise RateLimitedError(msg, QUOTA_WAIT)

    def find_existing(self, delivery: Outgoing) -> Receipt | None:
        """The post among the account's media since the delivery fell due, newest first, page
        after page: a post missed here would be published again. ``since`` is sent, and each
        media's time checked too, in case Graph lists older ones."""
        wanted = comparable(delivery.parts[0].text)
        since = delivery.published_since(self.clock())
        listing = self.graph.listing(
            self.user,
            "media",
            MEDIA_PAGES,
            fields="caption,permalink,timestamp",
            since=int(since.timestamp()),
            limit=50,
        )
        for media in listing:
            posted = datetime.fromisoformat(media.get("timestamp", "1970-01-01T00:00:00+0000"))
            if posted >= since and comparable(media.get("caption", "")) == wanted:
                return Receipt(media["id"], media.get("permalink"), self.clock())
        return None

    def metrics(self, receipts: Sequence[Receipt]) -> dict[str, Metrics]:
        ids = [r.remote_id for r in receipts if r.remote_id]
        out: dict[str, Metrics] = {}
        for start in range(0, len(ids), 50):
            batch = ids[start : start + 50]
            found = self.graph.call(
                partial(self.graph.api.get_objects, batch, fields="like_count,comments_count"),
                writes=False,
            )
            views = self._views(batch)
            for remote_id, media in found.items():
                out[remote_id] = Metrics(
                    likes=media.get("like_count"),
                    comments=media.get("comments_count"),
                    views=views.get(remote_id),
                )
        return out

    def _views(self, batch: list[str]) -> dict[str, int]:
        """Views from the media's insights, in a request of their own: insights need the
        ``instagram_manage_insights`` permission and Graph refuses them for some media (too
        few viewers, an album's items), which must not cost the likes and comments."""
        try:
            found = self.graph.call(
                partial(self.graph.api.get_objects, batch, fields="insights.metric(views)"),
                writes=False,
            )
        except AdapterError as exc:
            logger.warning("instagram:%s: views not collected: %s", self.account.handle, exc)
            return {}
        return {
            remote_id: int(row["values"][0]["value"])
            for remote_id, media in found.items()
            for row in media.get("insights", {}).get("data", [])
            if row.get("name") == "views" and row.get("values")
        }

    def check(self) -> AccountCheck:
        try:
            me = self.graph.call(
                partial(self.graph.api.get_object, self.user, fields="username"), writes=False
            )
        except AdapterError as exc:
            return AccountCheck(valid=False, detail=str(exc))
        return AccountCheck(valid=True, detail=f"@{me.get('username', self.account.handle)}")
