"""Facebook Pages through facebook-sdk's GraphAPI (publisher.adapters.graph).

Text and links go to ``/{page-id}/feed``. Photos are uploaded unpublished to ``/{page-id}/photos``
(with their alt text) and attached to one feed post through ``attached_media``, so several photos
make one post. The page's id is the account's ``platform_id``; the credential holds the page access
token. A 506 "duplicate" means the page already has the post: it is looked up, not posted again.

A share is what a Page does to share another post: a feed post whose ``link`` is the source post's
permalink. Graph cannot tell a Page which posts it has shared (``link`` is no longer a field of the
Page's posts since v3.3), so a share whose answer was lost is left to a person.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Sequence
from functools import partial
from typing import Any, ClassVar

from publisher.adapters.base import (
    AccountCheck,
    Adapter,
    Media,
    Metrics,
    Outgoing,
    Rules,
    comparable,
)
from publisher.adapters.graph import DuplicatePostError, Graph, GraphOptions
from publisher.config.platforms import PlatformOptions, Quota
from publisher.errors import AdapterError, PermanentError, UncertainError
from publisher.vocabulary import Receipt

WEB = "https://www.facebook.com"
NEEDED = ("pages_manage_posts", "pages_read_engagement")
POSTS_PAGES = 6  # of 100: Graph lists about 600 of a page's published posts a year, no more


class FacebookAdapter(Adapter[GraphOptions]):
    platform: ClassVar[str] = "facebook"
    secrets: ClassVar[tuple[str, ...]] = ("page_access_token",)
    options_model: ClassVar[type[PlatformOptions]] = GraphOptions
    rules: ClassVar[Rules] = Rules(
        text_limit=63_206,
        overflow="none",  # every tag in the post itself
        amplify="share",  # a feed post linking to the source's permalink
        quotas=(Quota(per="account", posts=100, minutes=1440),),  # below the Pages API's limits
        profile_url="https://www.facebook.com/{}",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.graph, self.page = Graph.for_account(
            self.account, self._secrets, self.options, "the page id"
        )

    def publish(self, delivery: Outgoing) -> Receipt:
        api = self.graph.api
        photos = [self._upload(m) for m in delivery.media]
        attached = {
            f"attached_media[{i}]": json.dumps({"media_fbid": p}) for i, p in enumerate(photos)
        }
        try:
            post = self.graph.call(
                lambda: api.put_object(
                    self.page, "feed", message=delivery.parts[0].text, **attached
                ),
                writes=True,
            )
        except DuplicatePostError:
            found = self.find_existing(delivery)
            if found is None:
                raise PermanentError(
                    "Facebook says the post is a duplicate, but it is not on the page"
                ) from None
            return found
        return Receipt(post["id"], f"{WEB}/{post['id']}", self.clock())

    def amplify(self, delivery: Outgoing) -> Receipt:
        """Share the source post on this page: a feed post linking to its permalink."""
        source = delivery.source
        link = source and (source.url or (source.remote_id and f"{WEB}/{source.remote_id}"))
        if delivery.kind != "share" or not link:
            raise PermanentError(f"Facebook cannot {delivery.kind} a post without its address")
        try:
            post = self.graph.call(
                lambda: self.graph.api.put_object(self.page, "feed", link=link), writes=True
            )
        except DuplicatePostError:
            msg = f"Facebook says page {self.page} has already shared {link}; look and decide"
            raise UncertainError(msg) from None
        return Receipt(post["id"], f"{WEB}/{post['id']}", self.clock())

    def _upload(self, medium: Media) -> str:
        """An unpublished photo, to attach to the post."""
        kind = mimetypes.guess_type(medium.path.name)[0] or "application/octet-stream"
        upload = partial(
            self.graph.api.put_photo,
            (medium.path.name, medium.path.read_bytes(), kind),
            album_path=f"{self.page}/photos",
            published="false",
            alt_text_custom=medium.alt or "",
        )
        return str(self.graph.call(upload, writes=True)["id"])

    def find_existing(self, delivery: Outgoing) -> Receipt | None:
        """The post among the page's posts since the delivery fell due, newest first, page after
        page: a busy page (a burst) may have posted hundreds since, and a post missed here would
        be sent again."""
        since = delivery.published_since(self.clock())
        wanted = comparable(delivery.parts[0].text)
        posts = self.graph.listing(
            self.page,
            "published_posts",
            POSTS_PAGES,
            fields="message,created_time",
            since=int(since.timestamp()),
            limit=100,
        )
        for post in posts:
            if comparable(post.get("message", "")) == wanted:
                return Receipt(post["id"], f"{WEB}/{post['id']}", self.clock())
        return None

    def metrics(self, receipts: Sequence[Receipt]) -> dict[str, Metrics]:
        ids = [r.remote_id for r in receipts if r.remote_id]
        out: dict[str, Metrics] = {}
        fields = "shares,reactions.summary(total_count),comments.summary(total_count)"
        for start in range(0, len(ids), 50):  # Graph takes 50 ids a request
            batch = ids[start : start + 50]
            found = self.graph.call(
                partial(self.graph.api.get_objects, batch, fields=fields), writes=False
            )
            for remote_id, post in found.items():
                out[remote_id] = Metrics(
                    likes=post.get("reactions", {}).get("summary", {}).get("total_count", 0),
                    shares=post.get("shares", {}).get("count", 0),
                    comments=post.get("comments", {}).get("summary", {}).get("total_count", 0),
                )
        return out

    def check(self) -> AccountCheck:
        try:
            granted = self.graph.call(
                lambda: self.graph.api.get_connections("me", "permissions"), writes=False
            )
        except AdapterError as exc:
            return AccountCheck(valid=False, detail=str(exc))
        have = {p["permission"] for p in granted.get("data", []) if p.get("status") == "granted"}
        missing = [p for p in NEEDED if p not in have]
        return AccountCheck(
            valid=not missing, detail=f"page {self.page}", missing_permissions=missing
        )
