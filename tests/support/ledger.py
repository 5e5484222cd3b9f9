"""The ledger as tests read it, and one delivery ready to dispatch."""

from __future__ import annotations

from sqlalchemy import select

from publisher.adapters.base import Adapter
from publisher.dispatch.dispatcher import Dispatcher
from publisher.service.engine import Engine
from publisher.store.models import AuditEntry, Delivery
from tests.support.files import Drop

POST = """\
platforms = ["x"]
{extra}
[text]
hi = "हरियाणा डाक परिमंडल: नए डाक टिकट उपलब्ध हैं।"
en = "Haryana Postal Circle: new stamps on sale."
"""


def rows(engine: Engine) -> list[Delivery]:
    with engine.ledger() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def one_delivery(engine: Engine, drop: Drop, adapter: Adapter) -> Dispatcher:
    drop("haryana", "one.toml", POST.format(extra='locales = ["hi"]'))
    engine.intake.scan()
    return Dispatcher(
        engine.ledger,
        {"x:HaryanaPostal": adapter},
        engine.clock,
        engine.settings.dispatch,
        engine.settings.paths.queue,
        rand=lambda: 1.0,
    )


def audit_rows(engine: Engine, action: str | None = None) -> list[AuditEntry]:
    with engine.ledger() as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        return list(session.scalars(query))


def statuses(engine: Engine, unit: str | None = None) -> dict[str, set[str]]:
    """Per account, the statuses of its deliveries."""
    out: dict[str, set[str]] = {}
    for d in rows(engine):
        if unit is None or d.unit == unit:
            out.setdefault(d.account, set()).add(d.status)
    return out
