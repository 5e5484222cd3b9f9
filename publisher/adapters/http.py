"""The HTTP transport under the client libraries: a timeout always, another base URL on demand.

tweepy sets no timeout at all, and a request that never returns would hold a dispatcher forever.
tweepy and facebook-sdk also hard-code their platforms' hosts. An account may name an
``api_base_url`` (an API gateway, or a test server on 127.0.0.1); requests for the built-in hosts
are then sent there instead, unchanged otherwise, so signatures computed over the platform's real
URL stay valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

Timeout = float | tuple[float, float] | tuple[float, None] | None


class Transport(HTTPAdapter):
    """Sends with a default timeout, and to ``base_url`` instead of the request's host if given."""

    def __init__(self, base_url: str | None, timeout: float | None) -> None:
        super().__init__()
        self._timeout = timeout
        self._target = urlsplit(base_url) if base_url else None

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Timeout = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        if self._target is not None:
            url = urlsplit(str(request.url))
            path = self._target.path.rstrip("/") + url.path
            request.url = urlunsplit(
                (self._target.scheme, self._target.netloc, path, url.query, url.fragment)
            )
        timeout = self._timeout if timeout is None else timeout
        return super().send(request, stream, timeout, verify, cert, proxies)


def redirect(
    session: requests.Session, hosts: list[str], base_url: str | None, timeout: float | None = None
) -> None:
    """Mount the transport on ``session`` for each of ``hosts`` (``https://api.x.com``)."""
    transport = Transport(base_url, timeout)
    for host in hosts:
        session.mount(host, transport)
