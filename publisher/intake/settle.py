"""When a file dropped in the queue folder is complete, and may be taken.

Nodal officers copy files in over network shares, editors save in several writes, and some tools
write a temporary name first: a file is taken only once it is a post file's name and whole. The
settle rule (size and mtime unchanged for a while) judges files found by a scan; folder events
(a writer closing the file, a rename into place) bring that forward, so a careful drop goes out at
once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler

from publisher.clock import Clock

POST_SUFFIXES = (".toml", ".toml.txt")  # Windows' Notepad may add .txt to "post.toml"
TEMPORARY_SUFFIXES = (".tmp", ".part", ".filepart", ".swp", ".crdownload", "~")


def is_candidate(path: Path) -> bool:
    """A post file, not a hidden, temporary or half-copied name, and not a link."""
    name = path.name
    return (
        name.lower().endswith(POST_SUFFIXES)
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
