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
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from publisher.clock import Clock
from publisher.config import Settings
from publisher.controls import hold_for_approval
from publisher.errors import MediaNotReadyError, PostFileError, Problem
from publisher.hosts import checked_host, this_host
from publisher.plan import plan
from publisher.postfile import PostRequest, parse_post
from publisher.receipts import (
    ReceiptPost,
    local,
    receipt_name,
    receipt_text,
    rejection_text,
    write_atomic,
)
from publisher.render import Renderer
from publisher.settle import Settler, is_candidate
from publisher.store.models import DeliveryStatus, Post
from publisher.store.posts import RecordedPost, find_post, record_post

logger = logging.getLogger(__name__)

PROCESSING, ARCHIVE, REJECTED = "processing", "archive", "rejected"


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # the same post again: archived with a receipt, nothing new planned
    REJECTED = "rejected"
    WAITING = "waiting"  # its media is not complete yet; the file stays in the queue


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
        """One pass over every unit folder: take each settled post file, in name order."""
        results = []
        for unit in self.settings.units:
            folder = self.root / unit
            try:
                entries = [p for p in folder.iterdir() if is_candidate(p)]
            except FileNotFoundError:
                logger.error("queue folder %s is missing; it is recreated at start", folder)
                continue
            for path in sorted(entries, key=lambda p: p.name):
                try:
                    early = self.settler.early(path)
                    ready = early or self.settler.settled(path)
                except FileNotFoundError:
                    continue  # taken back by its writer between listing and looking
                if ready:
                    self.settler.forget(path)
                    result = self.take(unit, path, early=early)
                    if result:
                        results.append(result)
        return results

    def take(self, unit: str, path: Path, *, early: bool = False) -> Result | None:
        """Claim one post file and see it through to archive/ or rejected/.

        A file taken ``early`` (on a folder event, before it settled) that does not parse goes
        back to wait for the settle interval: its writer may not be done with it after all.
        """
        claimed = free_path(self.root / unit / PROCESSING / self.host / path.name)
        try:
            path.rename(claimed)
        except FileNotFoundError:
            return None  # someone else took it, or the officer removed it
        try:
            result = self._accept(unit, claimed)
            self._waiting_since.pop(path, None)
            return result
        except MediaNotReadyError as exc:
            now = self.clock().timestamp()
            since = self._waiting_since.setdefault(
                path, now
            )  # not the file's mtime: copies keep it
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
            if early:
                claimed.rename(
                    free_path(path)
                )  # back to the queue, to wait for the settle interval
                return Result(unit, path.name, Outcome.WAITING)
            problems = exc.problems
        except Exception:
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

    def _accept(self, unit: str, claimed: Path) -> Result:
        now = self.clock()
        request = parse_post(
            claimed.read_bytes(),
            unit,
            claimed.name,
            self.settings.zone,
            now,
            timedelta(hours=self.settings.intake.max_past_hours),
        )
        existing = self.lookup(request)
        post: Post | RecordedPost
        if existing is None:
            media = self._media(unit, request)
            folder = self._new_archive_folder(unit, claimed.name, now)
            try:
                post = self.record(request, [f"{folder}/{m.name}" for m in media], folder, now)
                outcome = Outcome.ACCEPTED
            except IntegrityError:  # another host took a copy of this file a moment before
                recorded = self.lookup(request)
                if recorded is None:
                    raise
                post, outcome = recorded, Outcome.DUPLICATE
        else:
            # Recorded before: the same file again, or a pass a crash cut short (its archive
            # folder was never made). Whatever photos of it are still here go along.
            post, folder_then = existing, existing.archive_path
            finishing = folder_then is not None and not (self.root / folder_then).exists()
            folder = (
                folder_then
                if finishing and folder_then
                else self._new_archive_folder(unit, claimed.name, now)
            )
            media = self._present_media(unit, request)
            outcome = Outcome.ACCEPTED if finishing else Outcome.DUPLICATE
        # From here the post is in the ledger: whatever happens, the file is never "rejected".
        try:
            self._archive(claimed, media, self.root / folder, post, outcome)
        except OSError:
            logger.exception("post %d is recorded, but %s could not be archived", post.id, claimed)
        logger.info("%s %s/%s as post %d", outcome.value, unit, claimed.name, post.id)
        return Result(unit, claimed.name, outcome, post.id)

    def lookup(self, request: PostRequest) -> Post | None:
        """The post already recorded under this file's key, with its deliveries, or None.

        A read session: no write lock is taken, so a look-up never waits for the dispatcher.

        Raises:
            PostFileError: a different post (other content) was recorded under the same key.
        """
        with self.ledger() as session:
            existing = find_post(session, request.key)
        if existing is not None and existing.source_sha256 != request.sha256:
            raise PostFileError(request.source_name, [_conflict(request, existing, self.settings)])
        return existing

    def record(
        self, request: PostRequest, media: list[str], folder: str, now: datetime
    ) -> RecordedPost:
        """Plan a new post, outside the write lock, then record it and all its deliveries in one
        transaction of its own. ``media`` and ``folder`` are where its files will be archived,
        relative to the queue folder.

        Raises:
            PostFileError: every problem planning found, each with its line and fix.
        """
        planned = plan(request, self.settings, self.renderer)
        held = self.settings.units[request.unit].approval
        status = DeliveryStatus.AWAITING if held else DeliveryStatus.PENDING
        with self.ledger.begin() as session:
            recorded = record_post(session, request, planned, media, folder, now, status=status)
            if held:
                hold_for_approval(session, request.unit, recorded.id, now)
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

    def _present_media(self, unit: str, request: PostRequest) -> list[Path]:
        """The post's photos that are in the unit folder now (for a post already recorded)."""
        found = (self._find(unit, item.file) for item in request.body.media)
        return [path for path in found if path is not None and path.is_file()]

    def _find(self, unit: str, name: str) -> Path | None:
        """The file ``name`` in the unit folder, also when the disk spells it in another Unicode
        form or case (a Mac writes é decomposed; Windows does not care about case)."""
        path = self.root / unit / name
        if path.exists() or path.is_symlink():
            return path
        wanted = unicodedata.normalize("NFC", name).casefold()
        return next(
            (p for p in (self.root / unit).iterdir()
             if unicodedata.normalize("NFC", p.name).casefold() == wanted),
            None,
        )  # fmt: skip

    def _media(self, unit: str, request: PostRequest) -> list[Path]:
        """The post's media files, checked to lie in the unit's own folder and to be complete."""
        folder = (self.root / unit).resolve()
        found, missing, problems = [], [], []
        for i, item in enumerate(request.body.media):
            path = self._find(unit, item.file)
            if path is None:
                missing.append(item.file)
            elif path.is_symlink() or path.resolve().parent != folder:
                problems.append(
                    Problem(
                        f"media[{i}].file",
                        f"'{item.file}' is not a file in this folder itself (a link or sub-folder)",
                        "Copy the photo itself into the same folder as the post file",
                    )
                )
            elif not path.is_file() or not self.settler.settled(path):
                missing.append(item.file)
            else:
                found.append(path)
        if problems:
            raise PostFileError(request.source_name, problems)
        if missing:
            raise MediaNotReadyError(missing)
        return found

    def _new_archive_folder(self, unit: str, name: str, now: datetime) -> str:
        """``<unit>/archive/<local date>_<file stem>``, numbered if that exists."""
        stem = f"{now.astimezone(self.settings.zone):%Y-%m-%d}_{Path(name).stem}"
        base = f"{unit}/{ARCHIVE}/{stem}"
        candidate, n = base, 1
        while (self.root / candidate).exists():
            n += 1
            candidate = f"{base}_{n}"
        return candidate

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


def put_back(processing: Path, unit_folder: Path) -> list[Path]:
    """Move the post files a run left in ``processing`` back into ``unit_folder``, to be taken
    again, each under a name still free there; the files moved, by their old paths."""
    moved = []
    for left in sorted(processing.iterdir()):
        if not left.is_file():
            continue  # a host's folder
        logger.warning("putting back %s, left in processing by an earlier run", left)
        try:
            left.rename(free_path(unit_folder / left.name))
        except FileNotFoundError:
            continue  # another host, starting at the same moment, put it back first
        moved.append(left)
    return moved


def release(root: Path, units: Iterable[str], host: str) -> list[Path]:
    """Put back what ``host`` left in each unit's ``processing/<host>/``, for any host to take:
    for a host that is gone for good. The caller makes sure it is not running."""
    return [
        left
        for unit in units
        if (root / unit / PROCESSING / host).is_dir()
        for left in put_back(root / unit / PROCESSING / host, root / unit)
    ]


def free_path(path: Path) -> Path:
    """``path``, or ``name.2.ext``, ``name.3.ext``… if taken: a rename never replaces a file."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}.{n}{path.suffix}")
    return candidate


def _conflict(request: PostRequest, existing: Post, settings: Settings) -> Problem:
    return Problem(
        "id",
        f"a different post with id '{request.body.id}' was already received on "
        f"{local(existing.received_at, settings.zone)} (file {existing.source_name})",
        "Give this post a new id. To change a post that is already scheduled, ask the "
        "administrator to cancel it first",
    )
