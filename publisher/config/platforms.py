"""What each platform's adapter is configured with (``[platforms.*]``), and the quotas that pace it.

An adapter is built from its account and these options, not from the whole Settings; a platform a
third-party package adds is an ``Adapter[PlatformOptions]`` and takes the common options (README,
"Adding a platform").
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from publisher.config.fields import EMAIL, Strict, installed_platform


class Quota(Strict):
    """At most ``posts`` posts in any ``minutes`` (a sliding window), counted per account or
    per app (all the accounts that post through one developer app)."""

    per: Literal["account", "app"]
    posts: int = Field(ge=1, le=1_000_000)
    minutes: float = Field(gt=0, le=7 * 24 * 60)


class PlatformOptions(Strict):
    """Settings every adapter takes. ``api_base_url`` sends the client library's requests to
    another endpoint than the platform's own (an API gateway; the tests' fake servers).
    ``quotas`` space the platform's deliveries so that a burst never draws a rate limit."""

    api_base_url: str | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    quotas: list[Quota] | None = None
    """None: the adapter's own (``Rules.quotas``); a list, even empty, replaces them."""


class GraphOptions(PlatformOptions):
    graph_version: str = Field(default="v21.0", pattern=r"^v\d+\.\d+$")


class InstagramOptions(GraphOptions):
    media_base_url: str | None = None  # where the archive is served from: Instagram fetches media
    container_poll_seconds: float = Field(default=2.0, ge=0)
    container_poll_limit: int = Field(default=30, ge=1)


class EmailOptions(PlatformOptions):
    host: str = "localhost"
    port: int = Field(default=587, gt=0)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    sender: str = Field(default="publisher@localhost", pattern=EMAIL)
    ca_file: Path | None = Field(default=None, strict=False)  # to trust a private CA's certificate


class Platforms(Strict):
    """Options per platform; a platform added by another package takes the common options."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, PlatformOptions] = Field(init=False)

    x: PlatformOptions = PlatformOptions()
    facebook: GraphOptions = GraphOptions()
    instagram: InstagramOptions = InstagramOptions()
    email: EmailOptions = EmailOptions()

    @model_validator(mode="after")
    def _installed(self) -> Platforms:
        for name in self.__pydantic_extra__:
            installed_platform(name)
        return self

    def options(self, platform: str) -> PlatformOptions:
        """The options of ``platform``; the common defaults for one not configured here."""
        found = getattr(self, platform, None)
        return found if isinstance(found, PlatformOptions) else PlatformOptions()
