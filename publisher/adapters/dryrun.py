"""Dry-run: does everything a real adapter does except talk to a network.

It is the default for rehearsals and tests, and a receipt's absence of a remote id or URL is what
tells a reviewer that nothing was sent.
"""

from __future__ import annotations

from typing import ClassVar

from publisher.adapters.base import Adapter, Outgoing, Receipt
from publisher.clock import Clock


class DryRunAdapter(Adapter):
    dry_run: ClassVar[bool] = True

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def publish(self, delivery: Outgoing) -> Receipt:
        return Receipt(remote_id=None, url=None, at=self._clock())
