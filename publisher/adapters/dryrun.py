"""Dry-run: does everything a real adapter does except talk to a network.

It is the default for rehearsals and tests; a receipt without a remote id or URL is what tells a
reviewer that nothing was sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from publisher.adapters.base import AccountCheck, Adapter, Metrics, Outgoing
from publisher.config.platforms import PlatformOptions
from publisher.vocabulary import Receipt


class DryRunAdapter(Adapter[PlatformOptions]):
    platform: ClassVar[str] = "dry-run"
    dry_run: ClassVar[bool] = True

    def publish(self, delivery: Outgoing) -> Receipt:
        return Receipt(remote_id=None, url=None, at=self.clock())

    def find_existing(self, delivery: Outgoing) -> Receipt | None:
        return None  # a dry run never put anything on a platform

    def amplify(self, delivery: Outgoing) -> Receipt:
        return Receipt(remote_id=None, url=None, at=self.clock())

    def find_amplified(self, delivery: Outgoing) -> Receipt | None:
        return None

    def metrics(self, receipts: Sequence[Receipt]) -> dict[str, Metrics]:
        return {}

    def check(self) -> AccountCheck:
        return AccountCheck(valid=True, detail="dry-run: credentials are not used")
