"""The retweets and shares a sent post gets, recorded as deliveries of their own in the same
transaction as the post's outcome, so they are neither lost in a crash nor created twice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from publisher.store.models import Delivery
from publisher.vocabulary import POST, Amplifier, DeliveryStatus


def record_amplifications(
    session: Session, source: Delivery, plan: Mapping[str, Sequence[Amplifier]]
) -> None:
    """Record the retweets and shares of a post just recorded as sent: pending, with the source's
    priority and due time (past, so they go in the same dispatch pass).

    Only a unit's own posts are amplified (not a directorate post published on a circle's account)
    and never an amplification. Each target gets one per source post and kind, whatever the number
    of its locales: the idempotency key (post, target account, kind) lets the first locale recorded
    as sent win, and makes recording again (a second outcome, a restart, a person's ``resolve``)
    change nothing. A post sent without a remote id (the person resolving it did not give one)
    cannot be amplified and is not.
    """
    if source.kind != POST or source.unit != source.post.unit:
        return
    if source.status == DeliveryStatus.SENT and not source.remote_id:
        return
    rows: list[dict[str, Any]] = [
        {
            "post_id": source.post_id,
            "idempotency_key": f"{source.post.key}|{target.account}|{target.kind}",
            "unit": target.unit,
            "account": target.account,
            "platform": target.platform,
            "locale": source.locale,
            "text": source.text,  # what the amplification shows on the target account
            "parts": [],
            "notes": [],
            "progress": {},
            "tags": [],
            "media": [],
            "status": DeliveryStatus.PENDING,
            "priority": source.priority,
            "not_before": source.not_before,  # due already: in the pass that sent the source
            "attempts": 0,
            "kind": target.kind,
            "source_delivery_id": source.id,
            "counts_for_freshness": target.counts_for_freshness,
        }
        for target in plan.get(source.account, ())
    ]
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(Delivery).on_conflict_do_nothing(index_elements=["idempotency_key"]),
        rows,
    )
