"""What each platform's adapter is configured with (``[platforms.*]``), and the quotas that pace it.

An adapter is built from its account and its options, not from the whole Settings. Every adapter
takes the common options here; one that needs more declares its own model (a subclass, on its
class as ``options``), and config.toml's table for it is read by that model (README, "Adding a
platform").
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from publisher.config.fields import Strict, installed_platform


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

    @field_validator("quotas")
    @classmethod
    def _one_per_window(cls, quotas: list[Quota] | None) -> list[Quota] | None:
        """Two quotas of one scope over one window: which one was meant cannot be guessed."""
        seen = Counter((q.per, q.minutes) for q in quotas or ())
        for (per, minutes), count in seen.items():
            if count > 1:
                msg = (
                    f"two quotas per {per} over {minutes:g} minutes; keep one of them: the "
                    "smaller number of posts is the safe one"
                )
                raise ValueError(msg)
        return quotas


class Platforms(Strict):
    """The ``[platforms.<name>]`` tables as written, for installed platforms only. Each is read
    by its adapter's own options model (``Adapter.options``, a ``PlatformOptions``) when
    config.toml is loaded (publisher.adapters.registry.load_config)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, dict[str, Any]] = Field(init=False)

    @model_validator(mode="after")
    def _installed(self) -> Platforms:
        for name in self.__pydantic_extra__:
            installed_platform(name)
        return self

    def table(self, platform: str) -> dict[str, Any]:
        """What config.toml says under ``[platforms.<platform>]``; empty if nothing."""
        return self.__pydantic_extra__.get(platform, {})
