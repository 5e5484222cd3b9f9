"""A platform that lives in memory, shipped with the package for the engine's own tests (as
dramatiq ships its StubBroker): programmable, truthful when asked, and put through the same
adapter contract as the real platforms (tests/adapters/test_adapter_contract.py).

It takes each delivery it is given, or answers with the next of ``outcomes``: a remote id (taken
under that id), an exception (raised, nothing kept: an ``AdapterError`` as a platform answers,
or any other as a bug would) or ``Dropped`` (kept, and the answer
lost on the way back: ``UncertainError``). ``refuse`` refuses every call while it is set (a
platform that is down, a token revoked). ``find_existing`` answers from what it kept, unless a
test sets ``found`` to make it say something else (another host's post, a failing search).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from publisher.adapters.base import AccountCheck, Adapter, Metrics, Outgoing, Rules
from publisher.clock import Clock
from publisher.config.organisation import Account
from publisher.config.platforms import PlatformOptions
from publisher.errors import AdapterError, UncertainError
from publisher.vocabulary import Receipt


@dataclass(frozen=True)
class Dropped:
    """A scripted outcome: the post is kept under ``remote_id``, and the answer is lost."""

    remote_id: str


Outcome = str | Exception | Dropped


class Truth(enum.Enum):
    KEPT = "what the stub kept"


class StubAdapter(Adapter[PlatformOptions]):
    platform: ClassVar[str] = "stub"
    rules: ClassVar[Rules] = Rules(text_limit=280, overflow="replies")

    def __init__(
        self,
        account: Account,
        secrets: Mapping[str, str],
        options: PlatformOptions,
        clock: Clock,
        outcomes: Sequence[Outcome] = (),
    ) -> None:
        super().__init__(account, secrets, options, clock)
        self.outcomes = list(outcomes)
        """What the next publish calls answer, in order; when none is left, each is taken."""
        self.refuse: Exception | None = None
        self.found: Receipt | AdapterError | Truth | None = Truth.KEPT
        self.calls: list[Outgoing] = []  # every publish call, refused ones included
        self.published: list[Outgoing] = []  # what the platform has, in order
        self._kept: dict[str, Receipt] = {}  # by idempotency key

    def publish(self, delivery: Outgoing) -> Receipt:
        self.calls.append(delivery)
        outcome = self.outcomes.pop(0) if self.outcomes else self.refuse
        if isinstance(outcome, Exception):
            raise outcome
        remote_id = outcome.remote_id if isinstance(outcome, Dropped) else outcome
        self.published.append(delivery)
        post = remote_id or str(len(self.published))
        receipt = Receipt(
            remote_id=post,
            url=f"https://stub.example/{self.account.handle}/{post}",
            at=self.clock(),
            part_ids=[f"{post}.{n}" for n in range(1, len(delivery.parts))],
        )
        self._kept[delivery.idempotency_key] = receipt
        if isinstance(outcome, Dropped):
            msg = f"the connection dropped after the stub kept delivery {delivery.delivery_id}"
            raise UncertainError(msg)
        return receipt

    def find_existing(self, delivery: Outgoing) -> Receipt | None:
        if isinstance(self.found, AdapterError):
            raise self.found
        if self.found is Truth.KEPT:
            return self._kept.get(delivery.idempotency_key)
        return self.found

    def metrics(self, receipts: Sequence[Receipt]) -> dict[str, Metrics]:
        return {}

    def check(self) -> AccountCheck:
        if self.refuse is not None:
            return AccountCheck(valid=False, detail=str(self.refuse))
        return AccountCheck(valid=True, detail="a stub in memory")
