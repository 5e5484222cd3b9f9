"""Sending a client library's requests to another base URL than the one it has built in.

tweepy and facebook-sdk hard-code their platforms' hosts. An account may name an ``api_base_url``
(an API gateway, or a test server on 127.0.0.1); requests for the built-in host are then sent there
instead, unchanged otherwise, so signatures computed over the platform's real URL stay valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter


class RedirectAdapter(HTTPAdapter):
    """A transport that rewrites scheme and host of each request to ``base_url``."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        target = urlsplit(base_url)
        self._scheme, self._netloc = target.scheme, target.netloc
        self._prefix = target.path.rstrip("/")

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = urlsplit(str(request.url))
        request.url = urlunsplit(
            (self._scheme, self._netloc, self._prefix + url.path, url.query, url.fragment)
        )
        return super().send(request, stream, timeout, verify, cert, proxies)


def redirect(session: requests.Session, hosts: list[str], base_url: str | None) -> None:
    """Send ``session``'s requests for each of ``hosts`` (``https://api.x.com``) to base_url."""
    if base_url:
        adapter = RedirectAdapter(base_url)
        for host in hosts:
            session.mount(host, adapter)
