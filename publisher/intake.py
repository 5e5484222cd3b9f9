"""The queue folder, treated as a mail drop: everything in it is untrusted input.

``queue/<unit>/`` holds the post files a unit's nodal officer drops, and the media they name. A
file is claimed by an atomic rename into ``processing/``, so a file is handled by one pass only;
it leaves ``processing/`` for ``archive/`` (accepted, with a receipt) or ``rejected/`` (with a note
saying what to fix). The ledger commit comes before the move to ``archive/``: a crash in between
leaves the file in ``processing/``, it is put back at the next start, and the post's key makes the
second pass find the post already recorded instead of recording it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker
from watchdog.events import FileSystemEvent, FileSystemEventHandler

from publisher.clock import Clock
from publisher.config import Settings
from publisher.errors import MediaNotReadyError, PostFileError, Problem
from publisher.plan import plan
from publisher.postfile import PostRequest, parse_post
from publisher.receipts import local, receipt_name, receipt_text, rejection_text, write_atomic
from publisher.render import Renderer
from publisher.store.ledger import find_post, record_post
from publisher.store.models import Post

logger = logging.getLogger(__name__)

PROCESSING, ARCHIVE, REJECTED = "processing", "archive", "rejected"
POST_SUFFIX = ".toml"
TEMPORARY_SUFFIXES = (".tmp", ".part", ".filepart", ".swp", ".crdownload", "~")


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


def is_candidate(path: Path) -> bool:
    """A post file, not a hidden, temporary or half-copied name, and not a link."""
    name = path.name
    return (
        name.endswith(POST_SUFFIX)
        and not name.startswith((".", "~"))
        and not name.endswith(TEMPORARY_SUFFIXES)
        and path.is_file()
        and not path.is_symlink()
    )


@dataclass
class Settler:
    """Decides when a file is complete: its size and mtime unchanged for ``seconds``.

    Judged two ways, so neither a fresh start nor a network share's clock can fool it: a file whose
    mtime is already older than the interval is settled at first sight; otherwise it must be seen
    unchanged across the interval by this process. A file whose writer closed it, or that arrived
    by rename (folder events), is complete at once while it stays as it was then.
    """

    seconds: float
    clock: Clock
    _seen: dict[Path, tuple[int, int, float]] = field(default_factory=dict)
    _closed: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def closed(self, path: Path) -> None:
        """Its writer closed it, or it was renamed into place: the folder watcher says so."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return
        self._closed[path] = (st.st_size, st.st_mtime_ns)

    def early(self, path: Path) -> bool:
        """Complete by a folder event, before the settle interval has passed."""
        st = path.stat()
        return self._closed.get(path) == (st.st_size, st.st_mtime_ns)

    def settled(self, path: Path) -> bool:
        st = path.stat()
        now = self.clock().timestamp()
        signature = (st.st_size, st.st_mtime_ns)
        if self._closed.get(path) == signature or now - st.st_mtime >= self.seconds:
            self._seen.pop(path, None)
            return True
        size, mtime, first = self._seen.get(path, (*signature, now))
        if (size, mtime) != signature:
            first = now
        self._seen[path] = (*signature, first)
        return now - first >= self.seconds

    def forget(self, path: Path) -> None:
        self._seen.pop(path, None)
        self._closed.pop(path, None)

    def watching(self) -> bool:
        """Whether files seen but not yet settled are still there."""
        self._seen = {p: s for p, s in self._seen.items() if p.exists()}
        return bool(self._seen)


class Intake:
    def __init__(
        self, settings: Settings, renderer: Renderer, ledger: sessionmaker[Session], clock: Clock
    ) -> None:
        self.settings = settings
        self.renderer = renderer
        self.ledger = ledger
        self.clock = clock
        self.root = settings.paths.queue
        self.settler = Settler(settings.intake.settle_seconds, clock)

    def prepare(self) -> None:
        """Create each unit's folders; put back what a crash left in ``processing/``."""
        for unit in self.settings.units:
            for sub in (PROCESSING, ARCHIVE, REJECTED):
                (self.root / unit / sub).mkdir(parents=True, exist_ok=True)
            for left in sorted((self.root / unit / PROCESSING).iterdir()):
                if left.is_file() and not (self.root / unit / left.name).exists():
                    logger.warning("putting back %s, left in processing by an earlier run", left)
                    left.rename(self.root / unit / left.name)

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
        claimed = self.root / unit / PROCESSING / path.name
        try:
            path.rename(claimed)
        except FileNotFoundError:
            return None  # someone else took it, or the officer removed it
        try:
            return self._accept(unit, claimed)
        except MediaNotReadyError as exc:
            waited = self.clock().timestamp() - claimed.stat().st_mtime
            if waited < self.settings.intake.media_wait_minutes * 60:
                claimed.rename(path)  # back to the queue, to wait for its photos
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
                claimed.rename(path)  # back to the queue, to wait for the settle interval
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
        media = self._media(unit, request)
        with self.ledger.begin() as session:
            post, folder, outcome = self._record(session, request, media, now)
            note = None
            if outcome is Outcome.DUPLICATE:
                when = local(post.received_at, self.settings.zone)
                note = f"This file was received before, on {when}; it was not published again."
            text = receipt_text(post, self.settings.zone, note)
            post_id = post.id
        target = self.root / folder
        target.mkdir(parents=True, exist_ok=True)
        for m in media:
            m.rename(target / m.name)
        claimed.rename(target / claimed.name)
        write_atomic(target / receipt_name(claimed.name), text)
        logger.info("%s %s/%s as post %d", outcome.value, unit, claimed.name, post_id)
        return Result(unit, claimed.name, outcome, post_id)

    def _record(
        self, session: Session, request: PostRequest, media: list[Path], now: datetime
    ) -> tuple[Post, str, Outcome]:
        """Record the post unless the ledger has it; returns it, its archive folder, the outcome."""
        existing = find_post(session, request.key)
        if existing is None:
            planned = plan(request, self.settings, self.renderer)
            folder = self._new_archive_folder(request.unit, request.source_name, now)
            archived = [f"{folder}/{m.name}" for m in media]
            post = record_post(session, request, planned, archived, folder, now)
            session.flush()
            return post, folder, Outcome.ACCEPTED
        if existing.source_sha256 != request.sha256:
            raise PostFileError(request.source_name, [_conflict(request, existing, self.settings)])
        if existing.archive_path and not (self.root / existing.archive_path).exists():
            return existing, existing.archive_path, Outcome.ACCEPTED  # a pass a crash cut short
        folder = self._new_archive_folder(request.unit, request.source_name, now)
        return existing, folder, Outcome.DUPLICATE

    def _media(self, unit: str, request: PostRequest) -> list[Path]:
        """The post's media files, checked to lie in the unit's own folder and to be complete."""
        folder = (self.root / unit).resolve()
        found, missing, problems = [], [], []
        for i, item in enumerate(request.body.media):
            path = self.root / unit / item.file
            if path.is_symlink() or path.resolve().parent != folder:
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
        target = folder / claimed.name
        if target.exists():
            stamp = self.clock().astimezone(self.settings.zone).strftime("%Y%m%d-%H%M%S")
            target = folder / f"{claimed.stem}.{stamp}{claimed.suffix}"
        claimed.rename(target)
        at = local(self.clock(), self.settings.zone)
        write_atomic(
            folder / f"{target.name}.error.txt", rejection_text(claimed.name, unit, problems, at)
        )
        logger.warning("rejected %s/%s: %d problem(s)", unit, claimed.name, len(problems))
        return Result(unit, claimed.name, Outcome.REJECTED)


def _conflict(request: PostRequest, existing: Post, settings: Settings) -> Problem:
    return Problem(
        "id",
        f"a different post with id '{request.body.id}' was already received on "
        f"{local(existing.received_at, settings.zone)} (file {existing.source_name})",
        "Give this post a new id. To change a post that is already scheduled, ask the "
        "administrator to cancel it first",
    )


class Watcher(FileSystemEventHandler):
    """Folder events (inotify): a post file closed by its writer or renamed into a unit folder is
    taken at once instead of at the next scan. Events can be lost (a network share sends none,
    the kernel's queue overflows), so the periodic scan stays the safety net."""

    def __init__(self, settler: Settler, wake: Callable[[], None]) -> None:
        self._settler = settler
        self._wake = wake

    def on_closed(self, event: FileSystemEvent) -> None:
        self._arrived(Path(str(event.src_path)))

    def on_moved(self, event: FileSystemEvent) -> None:
        self._arrived(Path(str(event.dest_path)))

    def _arrived(self, path: Path) -> None:
        if is_candidate(path):
            self._settler.closed(path)
            self._wake()
