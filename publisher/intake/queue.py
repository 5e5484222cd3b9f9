"""The queue folder, treated as a mail drop: everything in it is untrusted input.

``queue/<unit>/`` holds the post files a unit's nodal officer drops, and the media they name. A
file is claimed by an atomic rename into ``processing/<host>/`` (each daemon sharing the queue is a
host of its own, see hosts.py), so a file is handled by one pass only; it leaves for ``archive/``
(accepted, with a receipt) or ``rejected/`` (with a note saying what to fix). The ledger commit
comes before the move to ``archive/``: a crash in between leaves the file in ``processing/<host>/``,
that host puts it back at its next start (or an operator does, ``publisher queue release``, for a
host that is gone), and the post's key makes the second pass find the post already recorded
instead of recording it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from publisher.clock import Clock, local
from publisher.config.settings import Settings
from publisher.errors import MediaNotReadyError, PostFileError, Problem
from publisher.intake.hosts import checked_host, this_host
from publisher.intake.officer_files import (
    ReceiptPost,
    receipt_name,
    receipt_text,
    rejection_text,
    write_atomic,
)
from publisher.intake.postfile import parse_post
from publisher.intake.settle import Settler, is_candidate
from publisher.intake.unitfolder import (
    ARCHIVE,
    PROCESSING,
    REJECTED,
    complete_media,
    free_path,
    new_archive_folder,
    present_media,
    put_back,
)
from publisher.planning.plan import new_post, plan
from publisher.planning.render import Renderer
from publisher.planning.request import PostRequest
from publisher.store.audit import append
from publisher.store.db import unreachable
from publisher.store.models import Post
from publisher.store.posts import RecordedPost, find_post, record_posts
from publisher.store.records import NewPost
from publisher.vocabulary import DeliveryStatus

logger = logging.getLogger(__name__)

BATCH = 100  # post files at most whose posts are recorded in one transaction (Intake.take)
T = TypeVar("T")


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # the same post again: archived with a receipt, nothing new planned
    REJECTED = "rejected"
    WAITING = "waiting"  # its media is not complete yet; the file stays in the queue


@dataclass(frozen=True)
class _Planned:
    """A new post planned from a claimed file, waiting for its batch's transaction."""

    request: PostRequest
    post: NewPost
    media: list[Path]  # its media files in the unit folder, archived with it


@dataclass(frozen=True)
class Result:
    unit: str
    name: str
    outcome: Outcome
    post_id: int | None = None


class Intake:
    def __init__(
        self,
        settings: Settings,
        renderer: Renderer,
        ledger: sessionmaker[Session],
        clock: Clock,
        host: str | None = None,
    ) -> None:
        """``host``: the name this daemon claims files under (default: this machine's).

        Raises:
            PublisherError: ``host`` cannot name a folder.
        """
        self.settings = settings
        self.renderer = renderer
        self.ledger = ledger
        self.clock = clock
        self.host = checked_host(host or this_host())
        self.root = settings.paths.queue
        self.settler = Settler(settings.intake.settle_seconds, clock)
        self._waiting_since: dict[Path, float] = {}  # post files waiting for their photos
        self._ledger_down = False  # the last pass could not reach the ledger (said once)

    def prepare(self) -> None:
        """Create each unit's folders; put back what a crash of this host left in
        ``processing/<host>/``, and nothing of another host's."""
        for unit in self.settings.units:
            folder = self.root / unit
            for sub in (ARCHIVE, REJECTED, f"{PROCESSING}/{self.host}"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
            # Files in processing/ itself were left by a version without host folders: whichever
            # host starts first puts them back, once. No daemon of that version may still run
            # beside this one (an upgrade stops them all), so none of them is being taken now.
            put_back(folder / PROCESSING, folder)
            put_back(folder / PROCESSING / self.host, folder)

    def scan(self) -> list[Result]:
        """One pass over every unit folder: take each settled post file, in name order, in
        batches of at most ``BATCH`` files."""
        results = []
        for unit in self.settings.units:
            folder = self.root / unit
            try:
                entries = [p for p in folder.iterdir() if is_candidate(p)]
            except FileNotFoundError:
                logger.error("queue folder %s is missing; it is recreated at start", folder)
                continue
            ready = []
            for path in sorted(entries, key=lambda p: p.name):
                try:
                    early = self.settler.early(path)
                    settled = early or self.settler.settled(path)
                except FileNotFoundError:
                    continue  # taken back by its writer between listing and looking
                if settled:
                    self.settler.forget(path)
                    ready.append((path, early))
            for start in range(0, len(ready), BATCH):
                results += self.take(unit, ready[start : start + BATCH])
        return results

    def take(self, unit: str, files: Sequence[tuple[Path, bool]]) -> list[Result]:
        """Claim post files of one unit, each with whether it is taken early (see ``_guarded``),
        and see each through to archive/ or rejected/.

        The new posts among them are planned one by one (their keys looked up in one read
        transaction), then recorded together in one write transaction (``_record_batch``), and
        archived only after it.

        While the ledger cannot be reached (a database down, restarting or failing over), no
        file is claimed, and the files this call claimed and had not finished go back to the
        queue: that is no fault of theirs, and a post whose commit did land before the ledger
        went away is found under its key at the next pass and finished then.
        """
        results: list[Result] = []
        claims: list[tuple[Path, Path]] = []  # (where it was, where it is while taken)
        new: list[tuple[Path, bool, Path, _Planned]] = []
        reserved: set[str] = set()  # archive folders named for this batch, not made yet
        taken: set[Path] = set()  # media files the batch's new posts take to their archives
        try:
            with self.ledger() as reader:  # one read transaction for the batch's look-ups
                reader.execute(select(1))  # nothing is claimed from a ledger that does not answer
                self._reachable()
                for path, early in files:
                    claimed = free_path(self.root / unit / PROCESSING / self.host / path.name)
                    try:
                        path.rename(claimed)
                    except FileNotFoundError:
                        continue  # someone else took it, or the officer removed it
                    claims.append((path, claimed))
                    prepare = partial(self._prepare, unit, claimed, reader, reserved, taken)
                    step = self._guarded(unit, path, claimed, early, prepare)
                    if isinstance(step, Result):
                        results.append(step)
                    else:
                        new.append((path, early, claimed, step))
            return results + self._record_batch(unit, new)
        except SQLAlchemyError as exc:
            if not unreachable(exc):
                raise
            self._unreachable(exc)
            for path, claimed in claims:
                if claimed.exists():  # not archived, rejected or put back already
                    claimed.rename(free_path(path))
                    results.append(Result(unit, path.name, Outcome.WAITING))
            return results

    def _record_batch(
        self, unit: str, new: Sequence[tuple[Path, bool, Path, _Planned]]
    ) -> list[Result]:
        """Record the batch's new posts in one transaction (one commit and one fsync instead of
        one per file), then archive each file. Should that transaction fail (another host
        recorded a copy of one of them a moment before, two of them are copies of one post, the
        database refuses a row), nothing of it is kept and each post is recorded in a
        transaction of its own instead, so that no file holds back the others.

        Raises:
            SQLAlchemyError: the ledger cannot be reached (``store.db.unreachable``).
        """
        if len(new) > 1:
            try:
                recorded = self.record([planned.post for *_, planned in new])
            except Exception as exc:
                if unreachable(exc):
                    raise
                logger.warning(
                    "recording %d posts of %s together failed; recording them one by one",
                    len(new),
                    unit,
                    exc_info=True,
                )
            else:
                return [
                    self._done(unit, claimed, planned.media, planned.post.archive_path, post,
                               Outcome.ACCEPTED)
                    for (*_, claimed, planned), post in zip(new, recorded, strict=True)
                ]  # fmt: skip
        return [  # one, or a batch whose transaction failed
            self._guarded(
                unit, path, claimed, early, partial(self._record_alone, unit, claimed, planned)
            )
            for path, early, claimed, planned in new
        ]

    def _reachable(self) -> None:
        if self._ledger_down:
            self._ledger_down = False
            logger.warning("the ledger answers again: post files are taken again")

    def _unreachable(self, exc: SQLAlchemyError) -> None:
        """Said once, when the ledger stops answering (not at every pass while it stays down)."""
        if not self._ledger_down:
            self._ledger_down = True
            logger.error(
                "the ledger cannot be reached, so post files wait in the queue until it can: %s",
                getattr(exc, "orig", exc),
            )

    def _guarded(
        self, unit: str, path: Path, claimed: Path, early: bool, step: Callable[[], T]
    ) -> T | Result:
        """``step`` on a file claimed from ``path``; a file it fails on goes back to the queue to
        wait, or to rejected/ with what to fix.

        A file taken ``early`` (on a folder event, before it settled) that does not parse goes
        back to wait for the settle interval: its writer may not be done with it after all.
        """
        try:
            done = step()
            self._waiting_since.pop(path, None)
            return done
        except MediaNotReadyError as exc:
            now = self.clock().timestamp()
            # Since it was first seen waiting, not the file's mtime: copies keep that.
            since = self._waiting_since.setdefault(path, now)
            if now - since < self.settings.intake.media_wait_minutes * 60:
                claimed.rename(free_path(path))  # back to the queue, to wait for its photos
                return Result(unit, path.name, Outcome.WAITING)
            problems = [
                Problem(
                    "media",
                    f"{', '.join(exc.missing)} did not arrive within "
                    f"{self.settings.intake.media_wait_minutes:g} minutes of the post file",
                    "Copy the photos into the same folder first, then the post file",
                )
            ]
        except PostFileError as exc:
            if early:  # back to the queue, to wait for the settle interval
                claimed.rename(free_path(path))
                return Result(unit, path.name, Outcome.WAITING)
            problems = exc.problems
        except Exception as exc:
            if unreachable(exc):
                raise  # not the file's fault: take() puts it back
            logger.exception("internal error while taking %s", claimed)
            problems = [
                Problem(
                    "file",
                    "the engine failed while reading this file (an internal error, logged for "
                    "the administrator)",
                    "Tell the administrator; once it is fixed, copy the file back",
                )
            ]
        self._waiting_since.pop(path, None)
        return self._reject(unit, claimed, problems)

    def _prepare(
        self, unit: str, claimed: Path, reader: Session, reserved: set[str], taken: set[Path]
    ) -> _Planned | Result:
        """Parse a claimed file and look its key up in ``reader``: a post recorded before is
        archived at once (the Result); a new one is planned, to be recorded, then archived in a
        folder named now, none of ``reserved`` (to which it is added), with its media files,
        none of ``taken`` (to which they are added): a photo two files of one pass name goes
        with the first, and the second waits for it as for any photo not there.

        Raises:
            PostFileError: what is wrong with the file, each with its line and fix.
            MediaNotReadyError: its photos are not all there yet.
        """
        now = self.clock()
        request = parse_post(
            claimed.read_bytes(),
            unit,
            claimed.name,
            self.settings.zone,
            now,
            timedelta(hours=self.settings.intake.max_past_hours),
        )
        try:
            existing = self.lookup(reader, request)
        except SQLAlchemyError:
            # On PostgreSQL a failed statement ends the transaction: the next file's look-up
            # must not inherit it (a connection lost is replaced at the next checkout).
            reader.rollback()
            raise
        if existing is not None:
            return self._again(unit, claimed, request, existing, now, reserved, taken)
        media = complete_media(self.root / unit, request, self.settler.settled)
        if shared := [m.name for m in media if m in taken]:
            raise MediaNotReadyError(shared)
        taken.update(media)
        folder = new_archive_folder(self.root, unit, claimed.name, self._day(now), reserved)
        reserved.add(folder)
        post = self.plan_post(request, [f"{folder}/{m.name}" for m in media], folder, now)
        return _Planned(request, post, media)

    def _record_alone(self, unit: str, claimed: Path, planned: _Planned) -> Result:
        """Record a planned post in a transaction of its own, then archive its file."""
        post: Post | RecordedPost
        try:
            [post] = self.record([planned.post])
        except IntegrityError:  # another host took a copy of this file a moment before
            with self.ledger() as reader:
                recorded = self.lookup(reader, planned.request)
            if recorded is None:
                raise
            post, outcome = recorded, Outcome.DUPLICATE
        else:
            outcome = Outcome.ACCEPTED
        return self._done(unit, claimed, planned.media, planned.post.archive_path, post, outcome)

    def _again(
        self,
        unit: str,
        claimed: Path,
        request: PostRequest,
        existing: Post,
        now: datetime,
        reserved: Collection[str],
        taken: Collection[Path],
    ) -> Result:
        """A post recorded before: the same file again, or a pass a crash cut short (its archive
        folder was never made). Whatever photos of it are still here go along, but those a new
        post of the pass takes (``taken``); a new archive folder is none of ``reserved``."""
        folder_then = existing.archive_path
        finishing = folder_then is not None and not (self.root / folder_then).exists()
        folder = (
            folder_then
            if finishing and folder_then
            else new_archive_folder(self.root, unit, claimed.name, self._day(now), reserved)
        )
        outcome = Outcome.ACCEPTED if finishing else Outcome.DUPLICATE
        media = [m for m in present_media(self.root / unit, request) if m not in taken]
        return self._done(unit, claimed, media, folder, existing, outcome)

    def _done(
        self,
        unit: str,
        claimed: Path,
        media: list[Path],
        folder: str,
        post: Post | RecordedPost,
        outcome: Outcome,
    ) -> Result:
        """Archive a file whose post is in the ledger, with its media, into ``folder`` (relative
        to the queue folder). From here the file is never "rejected", whatever happens."""
        try:
            self._archive(claimed, media, self.root / folder, post, outcome)
        except Exception:
            logger.exception("post %d is recorded, but %s could not be archived", post.id, claimed)
        logger.info("%s %s/%s as post %d", outcome.value, unit, claimed.name, post.id)
        return Result(unit, claimed.name, outcome, post.id)

    def lookup(self, reader: Session, request: PostRequest) -> Post | None:
        """The post already recorded under this file's key, with its deliveries, or None.

        ``reader`` is a read session (``self.ledger()``): no write lock is taken, so a look-up
        never waits for the dispatcher.

        Raises:
            PostFileError: a different post (other content) was recorded under the same key.
        """
        existing = find_post(reader, request.key)
        if existing is not None and existing.source_sha256 != request.sha256:
            raise PostFileError(request.source_name, [_conflict(request, existing, self.settings)])
        return existing

    def plan_post(
        self, request: PostRequest, media: list[str], folder: str, now: datetime
    ) -> NewPost:
        """Plan a new post (render, tag, fit), outside the write lock. ``media`` and ``folder``
        are where its files will be archived, relative to the queue folder.

        Raises:
            PostFileError: every problem planning found, each with its line and fix.
        """
        held = self.settings.units[request.unit].approval
        status = DeliveryStatus.AWAITING if held else DeliveryStatus.PENDING
        planned = plan(request, self.settings, self.renderer)
        return new_post(request, planned, media, folder, now, status)

    def record(self, posts: Sequence[NewPost]) -> list[RecordedPost]:
        """Record planned posts and all their deliveries in one transaction: all or none.

        Raises:
            IntegrityError: a post's key is taken (another host recorded a copy a moment before,
                or two of ``posts`` are one post).
        """
        with self.ledger.begin() as session:
            recorded = record_posts(session, posts)
            for post in recorded:
                if self.settings.units[post.unit].approval:
                    _hold_for_approval(session, post.unit, post.id, post.received_at)
            return recorded

    def _archive(
        self,
        claimed: Path,
        media: list[Path],
        target: Path,
        post: ReceiptPost,
        outcome: Outcome,
    ) -> None:
        target.mkdir(parents=True, exist_ok=True)
        for m in media:
            m.rename(free_path(target / m.name))
        claimed.rename(free_path(target / claimed.name))
        note = None
        if outcome is Outcome.DUPLICATE:
            when = local(post.received_at, self.settings.zone)
            note = f"This file was received before, on {when}; it was not published again."
        write_atomic(
            target / receipt_name(claimed.name), receipt_text(post, self.settings.zone, note)
        )

    def _day(self, now: datetime) -> date:
        return now.astimezone(self.settings.zone).date()

    def _reject(self, unit: str, claimed: Path, problems: list[Problem]) -> Result:
        folder = self.root / unit / REJECTED
        target = free_path(folder / claimed.name)
        claimed.rename(target)
        at = local(self.clock(), self.settings.zone)
        write_atomic(
            folder / f"{target.name}.error.txt", rejection_text(claimed.name, unit, problems, at)
        )
        logger.warning("rejected %s/%s: %d problem(s)", unit, claimed.name, len(problems))
        return Result(unit, claimed.name, Outcome.REJECTED)


def _hold_for_approval(session: Session, unit_id: str, post_id: int, now: datetime) -> None:
    """Record in the audit log that the post waits for ``approve``: intake records the
    deliveries of a unit with ``approval = true`` as awaiting, in the same transaction, so no
    dispatcher ever sees them pending."""
    append(
        session,
        now,
        f"queue/{unit_id}",
        "post.hold",
        f"post {post_id}",
        {"rule": f"units.{unit_id}.approval = true"},
    )


def _conflict(request: PostRequest, existing: Post, settings: Settings) -> Problem:
    return Problem(
        "id",
        f"a different post with id '{request.body.id}' was already received on "
        f"{local(existing.received_at, settings.zone)} (file {existing.source_name})",
        "Give this post a new id. To change a post that is already scheduled, ask the "
        "administrator to cancel it first",
    )
