"""The commands that change the ledger on a person's word (pause, resume, approve, retry,
cancel, resolve), the audit log, and the schema (``db``): each decision in one transaction."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, time, timedelta

from sqlalchemy.orm import Session, sessionmaker

from publisher.clock import system_clock
from publisher.config.settings import Settings
from publisher.dispatch.holds import Scope
from publisher.errors import PublisherError
from publisher.oversight import controls
from publisher.oversight.controls import holds_text, operator
from publisher.planning.amplify import amplify_plan
from publisher.store import audit
from publisher.store.db import current, head, make_engine, open_ledger, upgrade
from publisher.store.ledger import resolve


def database(args: argparse.Namespace, settings: Settings) -> int:
    """``db upgrade`` and ``db current``: the administrator's hold on the schema (PostgreSQL is
    never upgraded by a daemon; SQLite is, at start, and may be upgraded here as well)."""
    engine = make_engine(settings.database_url)
    where = engine.url.render_as_string(hide_password=True)
    before, wanted = current(engine), head()
    if args.db == "upgrade":
        upgrade(engine)
        print(f"the ledger at {where} is at schema revision {wanted} (was {before or 'empty'})")
        return 0
    if before == wanted:
        print(f"the ledger at {where} is at schema revision {before}, this version's")
        return 0
    print(
        f"the ledger at {where} is at schema revision {before or 'none (empty)'}; this version "
        f"needs {wanted}: run publisher db upgrade"
    )
    return 1


def resolve_delivery(args: argparse.Namespace, settings: Settings) -> int:
    with open_ledger(settings.database_url).begin() as session:
        delivery = resolve(
            session,
            args.delivery,
            published=args.outcome == "sent",
            who=operator(),
            reason=args.reason,
            now=system_clock(),
            remote_id=args.remote_id,
            amplify=amplify_plan(settings),
        )
        print(f"delivery {delivery.id} to {delivery.account} is now {delivery.status}")
    return 0


def govern(args: argparse.Namespace, settings: Settings) -> int:
    """The commands of publisher.oversight.controls and the audit log; each decision in one
    transaction."""
    ledger = open_ledger(settings.database_url)
    if args.command == "audit":
        return _audit(args, settings, ledger)
    if args.command == "pauses":
        with ledger() as session:
            print(holds_text(session, settings, system_clock()), end="")
        return 0
    now, who = system_clock(), operator()
    with ledger.begin() as session:
        if args.command in ("pause", "resume"):
            scope = Scope.checked(settings, args.unit, args.platform)
            act = controls.pause if args.command == "pause" else controls.resume
            act(session, scope, reason=args.reason, who=who, now=now)
            print(f"{scope}: {args.command}d by {who}")
        elif args.command == "approve":
            released = controls.approve(session, args.post, reason=args.reason, who=who, now=now)
            print(f"post {args.post} approved by {who}: {len(released)} deliveries released")
        elif args.command == "retry":
            delivery = controls.retry(session, args.delivery, reason=args.reason, who=who, now=now)
            print(f"delivery {delivery.id} to {delivery.account} will be sent again at once")
        elif args.delivery is not None:
            controls.cancel_delivery(session, args.delivery, reason=args.reason, who=who, now=now)
            print(f"delivery {args.delivery} cancelled by {who}")
        else:
            gone = controls.cancel_post(session, args.post, reason=args.reason, who=who, now=now)
            print(f"post {args.post}: {len(gone)} deliveries cancelled by {who}")
    return 0


def _audit(args: argparse.Namespace, settings: Settings, ledger: sessionmaker[Session]) -> int:
    if args.audit == "verify":
        verdict = audit.verify(ledger)
        if verdict.problem is not None:
            print(
                f"publisher: the audit log is broken at row {verdict.broken_row}: "
                f"{verdict.problem}",
                file=sys.stderr,
            )
            return 1
        print(
            f"the audit log is intact: {verdict.rows} rows; the last, row "
            f"{verdict.head_id}, has the hash {verdict.head_hash}"
        )
        return 0
    if args.end < args.start:
        msg = f"--to {args.end} is before --from {args.start}; give the first day first"
        raise PublisherError(msg)
    with ledger() as session:
        zone = settings.zone
        start = datetime.combine(args.start, time(), zone)
        end = datetime.combine(args.end + timedelta(days=1), time(), zone)
        rows = audit.between(session, start, end)
        if args.output is None:
            audit.write_export(rows, sys.stdout, args.format)
            return 0
        with args.output.open("w", encoding="utf-8", newline="") as out:
            count = audit.write_export(rows, out, args.format)
        print(f"{count} audit rows from {args.start} to {args.end} written to {args.output}")
    return 0
