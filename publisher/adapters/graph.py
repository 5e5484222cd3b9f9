"""The Graph API client shared by the Facebook Page and Instagram adapters: facebook-sdk's GraphAPI
with a current API version pinned, a timeout, and Graph's errors classified by code.

facebook-sdk accepts versions up to 3.1 in its constructor; the pinned version (config
``graph_version``, v21.0 by default) is set on the client afterwards and is what every URL carries.
GraphAPIError keeps only the error body, so a response hook keeps the last response's headers for
the rate-limit codes (``X-Business-Use-Case-Usage`` says when access comes back).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import Field

from publisher.adapters.lazy import lazy
from publisher.config.organisation import Account
from publisher.config.platforms import PlatformOptions
from publisher.errors import (
    AdapterError,
    AuthError,
    PermanentError,
    RateLimitedError,
    TransientError,
    UncertainError,
)

if TYPE_CHECKING:
    import facebook
    import requests
    import urllib3

    from publisher.adapters import http
else:  # loaded when an adapter is built, not with its rules (publisher.adapters.lazy)
    facebook, requests, urllib3 = lazy("facebook"), lazy("requests"), lazy("urllib3")
    http = lazy("publisher.adapters.http")

HOSTS = ["https://graph.facebook.com"]
TRANSIENT = {1, 2}
RATE_LIMITED = {4, 17, 32, 613, 80001}
AUTH = {10, 190}
DUPLICATE = 506
DEFAULT_WAIT = 900.0  # when Graph limits without saying for how long


class GraphOptions(PlatformOptions):
    """``[platforms.facebook]`` and ``[platforms.instagram]``: the Graph API version spoken."""

    graph_version: str = Field(default="v21.0", pattern=r"^v\d+\.\d+$")


class DuplicatePostError(PermanentError):
    """Graph's 506: the page already has this post. The caller reconciles instead of retrying."""


class Graph:
    @classmethod
    def for_account(
        cls, account: Account, secrets: Mapping[str, str], options: GraphOptions, what_id: str
    ) -> tuple[Graph, str]:
        """The client of a Page or Instagram account, and the account's id on Graph.

        Raises:
            AuthError: the account's id (``platform_id``) or its token is missing.
        """
        token = secrets.get("access_token") or secrets.get("page_access_token")
        if not token or not account.platform_id:
            msg = (
                f"{account.key} needs platform_id ({what_id}) in config.toml and its access "
                "token in its credential"
            )
            raise AuthError(msg)
        return cls(token, options), account.platform_id

    def __init__(self, token: str, options: GraphOptions) -> None:
        self.api = facebook.GraphAPI(access_token=token, timeout=options.timeout_seconds)
        self.api.version = options.graph_version
        http.redirect(self.api.session, HOSTS, options.api_base_url, options.timeout_seconds)
        self.last_headers: Mapping[str, str] = requests.structures.CaseInsensitiveDict()
        self.last_status = 0
        self.api.session.hooks["response"].append(self._keep_headers)

    def _keep_headers(self, response: requests.Response, *_: Any, **__: Any) -> None:
        self.last_headers = response.headers
        self.last_status = response.status_code

    def call(self, what: Callable[[], Any], *, writes: bool) -> Any:
        """Run a Graph call; a write whose answer was lost is uncertain, a read is transient."""
        try:
            return what()
        except facebook.GraphAPIError as exc:
            raise self._classify(exc) from None
        except (KeyError, ValueError):  # facebook-sdk reading an answer with no content type
            status = self.last_status
            text = f"the Graph API answered HTTP {status} with nothing readable"
            raise (TransientError(text) if status >= 500 else PermanentError(text)) from None
        except (requests.ConnectTimeout, requests.exceptions.SSLError) as exc:
            raise TransientError(f"cannot reach the Graph API: {exc}") from None
        except (requests.ReadTimeout, requests.ConnectionError) as exc:
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            if not writes or isinstance(reason, urllib3.exceptions.NewConnectionError):
                raise TransientError(f"cannot reach the Graph API: {exc}") from None
            msg = f"no answer from the Graph API after the request was sent: {exc}"
            raise UncertainError(msg) from None

    def listing(self, node: str, edge: str, pages: int, **args: Any) -> Iterator[dict[str, Any]]:
        """The items of an edge, page after page as Graph links them, for at most ``pages`` pages.

        A page has more after it while ``paging.next`` is there; the next page is asked with that
        link's query, as facebook-sdk's ``get_all_connections`` does: on a cursor-paged edge it
        carries ``after`` (``paging.cursors.after``) beside the caller's arguments, on a time-paged
        one ``until``. A generator, so a caller that has found what it looks for reads no more
        pages. Each page is a read: a lost answer is transient.
        """
        for _ in range(pages):
            page = self.call(partial(self.api.get_connections, node, edge, **args), writes=False)
            yield from page.get("data", [])
            following = page.get("paging", {}).get("next")
            if not following:
                return
            args = dict(parse_qsl(urlsplit(following).query))
            args.pop("access_token", None)  # facebook-sdk adds the client's own

    def _classify(self, exc: facebook.GraphAPIError) -> AdapterError:
        if not isinstance(exc.result, dict):  # not Graph's JSON: an HTML error page, a proxy
            status = self.last_status
            text = f"the Graph API answered HTTP {status} without a Graph error"
            return TransientError(text) if status >= 500 or status == 429 else PermanentError(text)
        error = exc.result.get("error", {})
        code = error.get("code")
        subcode = error.get("error_subcode")
        text = f"Graph API error {code}" + (f"/{subcode}" if subcode else "") + f": {exc.message}"
        if code in RATE_LIMITED:
            return RateLimitedError(text, self._wait())
        if code in TRANSIENT or error.get("is_transient"):
            return TransientError(text)
        if code in AUTH or (isinstance(code, int) and 200 <= code <= 299):
            return AuthError(text)
        if code == DUPLICATE:
            return DuplicatePostError(text)
        return PermanentError(text)

    def _wait(self) -> float:
        """Seconds until Graph restores access, from the usage header of the refused call."""
        usage = self.last_headers.get("x-business-use-case-usage")
        minutes = [
            entry.get("estimated_time_to_regain_access", 0)
            for entries in (json.loads(usage).values() if usage else [])
            for entry in entries
        ]
        return max(minutes, default=0) * 60 or DEFAULT_WAIT
