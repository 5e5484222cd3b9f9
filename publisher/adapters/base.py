"""The contract between the dispatcher and every platform.

An adapter serves one account. It publishes one delivery and returns a Receipt, or raises an
AdapterError subclass that tells the dispatcher what it may do next (publisher.errors). It never
returns False: "retry later" and "never retry" must not look alike. ``find_existing`` answers
whether a delivery already exists on the platform, so an uncertain delivery is reconciled instead
of sent twice. Each adapter class declares its platform's ``Rules`` (limits, mentions, overflow,
media, amplification, quotas), which the core reads through publisher.adapters.registry.

A delivery of another kind than a post amplifies another account's delivery (a retweet, a share):
``amplify`` and ``find_amplified`` do for it what ``publish`` and ``find_existing`` do for a post,
and ``deliver`` and ``find_delivered`` choose between the two by the delivery's kind.
"""

from __future__ import annotations

import html
import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar, Generic, Literal, TypeVar

from publisher.clock import Clock
from publisher.config.organisation import Account
from publisher.config.platforms import PlatformOptions, Quota
from publisher.errors import PermanentError, UncertainError
from publisher.vocabulary import POST, Amplified, Part, Receipt


@dataclass(frozen=True)
class Media:
    path: Path  # absolute
    alt: str | None  # in the delivery's language; required for images
    url_path: str = ""  # relative to the queue folder, as served under a public media URL


@dataclass(frozen=True)
class Outgoing:
    """One delivery as a platform sees it: the parts are final, each medium has its alt text."""

    delivery_id: int
    idempotency_key: str
    account: str  # platform:handle
    platform: str
    locale: str
    parts: list[Part]  # the post first, then replies under it or a first comment
    tags: list[str]
    media: list[Media]
    not_before: datetime | None = None  # when it was due: reconciling looks for posts after it
    progress: Mapping[str, str] = field(default_factory=dict)  # checkpoints of earlier attempts
    checkpoint: Callable[[str, str], None] = lambda key, value: None
    """Record a step (``checkpoint("container", id)``) in the ledger before taking the next one,
    so that after a crash the next attempt resumes from it instead of starting again."""
    kind: str = POST  # post, or how it amplifies ``source``: retweet, share
    source: Amplified | None = None

    def published_since(self, now: datetime) -> datetime:
        """From when reconciling looks for this delivery on the platform: a few minutes before
        it fell due (the platform's clock and ours differ), or the last week if it has no time."""
        return (self.not_before or now - timedelta(days=7)) - timedelta(minutes=5)


@dataclass(frozen=True)
class Metrics:
    """Engagement of one published post; None where the platform does not give the figure."""

    likes: int | None = None
    shares: int | None = None
    comments: int | None = None
    views: int | None = None


@dataclass(frozen=True)
class AccountCheck:
    """What ``publisher accounts check`` shows for one account."""

    valid: bool
    detail: str
    expires_at: datetime | None = None
    missing_permissions: list[str] = field(default_factory=list)


Options = TypeVar("Options", bound=PlatformOptions)
_LINK = re.compile(r"https?://\S+|(?<![\w@#.])(?:[a-z0-9-]+\.)+[a-z]{2,}(?:/\S*)?", re.I)


def comparable(text: str) -> str:
    """A post's text as reconciling compares it: platforms replace links (X's t.co, bare
    domains too), escape & < > as HTML entities, and may normalise characters and spaces; none
    of that counts."""
    text = html.unescape(unicodedata.normalize("NFC", text))
    return " ".join(_LINK.sub("", text).split())


@dataclass(frozen=True)
class Rules:
    """What a platform accepts, declared on its adapter class as data and applied by the core:
    planning fits each message and its tags to them (publisher.planning.fit), dispatch paces by
    them. A platform added by another package declares its own and gets the same treatment.
    """

    text_limit: int | None = None
    """The longest text of one part, counted by ``length``; None: no limit."""
    length: Callable[[str], int] = len
    """How the platform counts a text (X weighs characters); mentions are always ASCII, 1 each."""
    length_unit: str = "characters"
    mentions: bool = True
    """Whether posts mention accounts (``@handle``): then the tag policy applies to them."""
    max_mentions: int | None = None
    """Mentions one part may carry (the caption, the first comment); None: no limit."""
    max_hashtags: int | None = None
    overflow: Literal["replies", "comment", "none"] = "none"
    """Where the tags that do not fit in the post go: replies under it, each opening with the
    message's first words (``reply_lead`` of them, by ``length``); one first comment; or
    nowhere, and then every tag must fit in the post."""
    reply_lead: int = 40
    parts_are_posts: bool = False
    """True where each part (the replies under a post) is one more post for the platform's
    rate limits, as on X; else a delivery counts as one post, whatever follows it."""
    amplify: str | None = None
    """How one account amplifies another's post (``retweet``, ``share``); None: it cannot."""
    media_required: bool = False
    """Whether a post needs at least one photo or video to be published at all."""
    quotas: tuple[Quota, ...] = ()
    """The default pacing, below the platform's published limits; ``[platforms.<name>] quotas``
    replaces it."""
    profile_url: str | None = None
    """An account's public page, ``{}`` standing for the handle; None: it has none."""


class Adapter(ABC, Generic[Options]):
    platform: ClassVar[str]
    rules: ClassVar[Rules] = Rules()
    secrets: ClassVar[tuple[str, ...]] = ()
    """The credential fields this adapter needs; all are secret and masked in logs."""
    options_model: ClassVar[type[PlatformOptions]] = PlatformOptions
    """What ``[platforms.<name>]`` may hold: the common options, or a subclass with more."""
    dry_run: ClassVar[bool] = False
    """True for an adapter that records instead of publishing: deliveries end as dry_run."""

    @classmethod
    def account_problem(cls, account: Account) -> tuple[str, str] | None:
        """What config.toml must add to ``account`` before anything can be sent to it, as
        (what is wrong, how to fix it); None when nothing is missing."""
        return None

    def __init__(
        self,
        account: Account,
        secrets: Mapping[str, str],
        options: Options,
        clock: Clock,
    ) -> None:
        self.account = account
        self.options = options
        self.clock = clock
        self._secrets = dict(secrets)

    def app(self) -> str | None:
        """The developer app this account's credentials belong to, when they tell (accounts of
        one app share its rate limits); never the secret itself."""
        return None

    @abstractmethod
    def publish(self, delivery: Outgoing) -> Receipt:
        """Publish every part of the delivery.

        Raises:
            RateLimitedError: not now; ``retry_after`` says when.
            TransientError: try again later (after ``retry_after`` seconds when given).
            AuthError: the credentials must be renewed.
            PermanentError: retrying cannot help.
            UncertainError: the platform may have it; reconcile before anything else.
        """

    @abstractmethod
    def find_existing(self, delivery: Outgoing) -> Receipt | None:
        """The delivery's post if the platform has it, else None. Raises as ``publish``."""

    def amplify(self, delivery: Outgoing) -> Receipt:
        """Amplify ``delivery.source`` from this account as ``delivery.kind`` says (retweet,
        share). Raises as ``publish``; a platform that cannot amplify refuses for good."""
        msg = f"{self.platform} accounts cannot {delivery.kind} another account's post"
        raise PermanentError(msg)

    def find_amplified(self, delivery: Outgoing) -> Receipt | None:
        """The amplification if this account has made it, else None. Where the platform cannot
        tell, a person decides (UncertainError)."""
        msg = (
            f"{self.platform} cannot tell whether {delivery.account} has already made this "
            f"{delivery.kind}; look at the account and decide"
        )
        raise UncertainError(msg)

    def deliver(self, delivery: Outgoing) -> Receipt:
        """What the dispatcher calls: a post is published, anything else amplifies."""
        return self.publish(delivery) if delivery.kind == POST else self.amplify(delivery)

    def find_delivered(self, delivery: Outgoing) -> Receipt | None:
        """What reconciling calls: ``find_existing`` for a post, else ``find_amplified``."""
        if delivery.kind == POST:
            return self.find_existing(delivery)
        return self.find_amplified(delivery)

    @abstractmethod
    def metrics(self, receipts: Sequence[Receipt]) -> dict[str, Metrics]:
        """Engagement by remote id, for those the platform still has."""

    @abstractmethod
    def check(self) -> AccountCheck:
        """Whether the credentials work, until when, and which permissions are missing."""
