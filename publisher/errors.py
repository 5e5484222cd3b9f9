"""One root error and a shallow tree, so callers can tell "fix your input" from "retry later".

Every error carries a message written for the person who has to act on it: the nodal officer for a
post file, the administrator for the config, the operator for an adapter failure.
"""

from __future__ import annotations

from dataclasses import dataclass


class PublisherError(Exception):
    """Root of every error the engine raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located precisely enough to fix it."""

    where: str  # a key path such as ``units.haryana.accounts[1].handle`` or ``text.ta``
    what: str
    fix: str
    line: int | None = None

    def __str__(self) -> str:
        at = f"line {self.line}, " if self.line else ""
        return f"{at}{self.where}: {self.what}. {self.fix}"


class InputError(PublisherError):
    """A file a person wrote is wrong; ``problems`` lists every fault found, not just the first."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(str(p) for p in problems))


class ConfigError(InputError):
    """config.toml is wrong: the engine refuses to start rather than guess."""


class ScheduleError(ConfigError):
    """A schedule file (``schedules/*.toml``) is wrong: like config.toml, it stops start-up, and on
    SIGHUP the running set of rules stays."""


class PostFileError(InputError):
    """A post file is wrong: it goes to ``rejected/`` with an explanation for the nodal officer."""


class ContentError(PublisherError):
    """A message cannot go out as the post asks: ``what`` is wrong, and ``fix`` (a clause, which
    the officer's note starts with a capital) how to mend it."""

    def __init__(self, what: str, fix: str) -> None:
        self.what = what
        self.fix = fix
        super().__init__(f"{what}; {fix}")


class RenderError(ContentError):
    """A template cannot be rendered for this post (no such template, a variable missing)."""


class FitError(ContentError):
    """The message and its required tags do not fit a platform's rules; by how much."""


class MediaNotReadyError(PublisherError):
    """A post names media that is not in the folder yet; the post waits for it, up to a bound."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__("waiting for media: " + ", ".join(missing))


class AdapterError(PublisherError):
    """A platform call failed; the subclass says what the dispatcher may do about it."""


class TransientError(AdapterError):
    """Worth retrying after a backoff (a 5xx, a timeout before the request was sent)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class RateLimitedError(TransientError):
    """The platform said "not now" and when: wait exactly that long. Not counted as a failure,
    because the request was refused before it did anything. ``app_wide``: the limit spent is the
    developer app's, so every account posting through that app must wait, not only this one."""

    def __init__(self, message: str, retry_after: float, *, app_wide: bool = False) -> None:
        self.app_wide = app_wide
        super().__init__(message, retry_after)


class PermanentError(AdapterError):
    """Retrying cannot help (content refused, account suspended); a person must look."""


class AuthError(PermanentError):
    """The account's credentials are revoked, expired or lack a permission: they must be renewed."""


class UncertainError(AdapterError):
    """The request may have reached the platform (a connection dropped after sending): the
    delivery must be reconciled with the platform before it is ever sent again."""


class NoAdapterError(PublisherError):
    """No installed adapter handles a platform that config.toml uses."""
