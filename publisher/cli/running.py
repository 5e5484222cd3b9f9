"""``run`` (the daemon, or one pass) and ``queue release``: the commands that take files from
the queue folder, each under the locks that keep two processes from taking the same ones."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from publisher.adapters.registry import load_config
from publisher.cli.output import redact_logs
from publisher.clock import system_clock
from publisher.config.settings import Settings
from publisher.errors import PublisherError
from publisher.intake.hosts import hold, lock_path, try_lock
from publisher.intake.unitfolder import release
from publisher.oversight.review import awaiting_text, late_text, queued, review_text
from publisher.service.daemon import Daemon
from publisher.service.engine import Engine
from publisher.store.models import Delivery

_LOCKS: list[IO[str]] = []  # held open until the process ends


def run(config: Path, settings: Settings, *, host: str, dry_run: bool, once: bool) -> int:
    _lock(settings.paths.state)
    held = hold(settings.paths.queue, host)
    if held is None:
        msg = (
            f"another publisher is already running as host '{host}' on this machine (it holds "
            f"{lock_path(settings.paths.queue, host)}); give each instance its own --host"
        )
        raise PublisherError(msg)
    _LOCKS.append(held)
    engine = _engine(settings, host, dry_run)
    if not once:
        Daemon(engine, reload=lambda: _engine(load_config(config), host, dry_run)).run()
        return 0
    tick = engine.run_once()
    ids = [c.delivery_id for c in tick.sent]
    with engine.ledger() as session:
        sent = session.scalars(
            select(Delivery).where(Delivery.id.in_(ids)).options(selectinload(Delivery.post))
        ).all()
        waiting = queued(session)
        verb = "recorded as dry-run (nothing was sent)" if dry_run else "sent"
        print(f"{len(tick.taken)} post file(s) taken; {len(sent)} deliveries {verb}.\n")
        if tick.created:
            print(f"{len(tick.created)} recurring post(s) created from their rules.\n")
        late = [d.delivery_id for d in tick.late]
        late_ones = session.scalars(select(Delivery).where(Delivery.id.in_(late))).all()
        print(late_text(late_ones, settings), end="")
        if sent:
            print(review_text(sent, settings))
        print(f"{len(waiting)} deliveries scheduled for later.\n")
        print(awaiting_text(waiting, settings), end="")
        if waiting:
            print(review_text(waiting, settings))
    return 0


def _lock(state: Path) -> None:
    """One ``publisher run`` per state folder: a second would send beside the first from the
    same state. The lock lasts as long as the process."""
    handle = try_lock(state / "run.lock")
    if handle is None:
        msg = f"another 'publisher run' is already using {state}; stop it first"
        raise PublisherError(msg)
    _LOCKS.append(handle)


def release_host(settings: Settings, host: str) -> int:
    """``queue release HOST``: a host that is gone for good leaves files in its processing
    folders that no other host takes; hand them back. A file the dead host had recorded
    before it died is found under its post's key and archived, not posted again."""
    queue = settings.paths.queue
    held = hold(queue, host)
    if held is None:
        msg = (
            f"host '{host}' is running on this machine (it holds {lock_path(queue, host)}): its "
            "files are its own while it runs, and it puts them back itself when it starts again"
        )
        raise PublisherError(msg)
    with held:  # no daemon starts as that host meanwhile
        moved = release(queue, settings.units, host)
    for path in moved:
        print(f"put back {path.relative_to(queue)}")
    print(f"{len(moved)} file(s) host '{host}' left in processing/ are back in their unit folders")
    return 0


def _engine(settings: Settings, host: str, dry_run: bool) -> Engine:
    engine = Engine(settings, dry_run=dry_run, clock=system_clock, host=host).start()
    redact_logs(engine.credentials)
    return engine
