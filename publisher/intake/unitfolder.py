"""A unit's folder on disk: the files a post names, the names of new archive folders, and moving
files between the unit folder and ``processing/`` without ever replacing one.

Plain file-system work for intake.py (and hosts' ``queue release``), apart from its decisions:
what the officer dropped is looked for as a Mac or Windows may have spelled it, and a file in
the way is never overwritten but the newcomer numbered.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Collection, Iterable
from datetime import date
from pathlib import Path

from publisher.errors import MediaNotReadyError, PostFileError, Problem
from publisher.planning.request import PostRequest

logger = logging.getLogger(__name__)

PROCESSING, ARCHIVE, REJECTED = "processing", "archive", "rejected"


def find(folder: Path, name: str) -> Path | None:
    """The file ``name`` in ``folder``, also when the disk spells it in another Unicode form or
    case (a Mac writes é decomposed; Windows does not care about case)."""
    path = folder / name
    if path.exists() or path.is_symlink():
        return path
    wanted = unicodedata.normalize("NFC", name).casefold()
    return next(
        (p for p in folder.iterdir() if unicodedata.normalize("NFC", p.name).casefold() == wanted),
        None,
    )


def present_media(folder: Path, request: PostRequest) -> list[Path]:
    """The post's photos that are in ``folder`` now (for a post already recorded)."""
    found = (find(folder, item.file) for item in request.body.media)
    return [path for path in found if path is not None and path.is_file()]


def complete_media(
    folder: Path, request: PostRequest, settled: Callable[[Path], bool]
) -> list[Path]:
    """The post's media files, checked to lie in ``folder`` itself and to be complete.

    Raises:
        PostFileError: a media file is a link or in a sub-folder.
        MediaNotReadyError: a media file is not there, or still being written.
    """
    resolved = folder.resolve()
    found, missing, problems = [], [], []
    for i, item in enumerate(request.body.media):
        path = find(folder, item.file)
        if path is None:
            missing.append(item.file)
        elif path.is_symlink() or path.resolve().parent != resolved:
            problems.append(
                Problem(
                    f"media[{i}].file",
                    f"'{item.file}' is not a file in this folder itself (a link or sub-folder)",
                    "Copy the photo itself into the same folder as the post file",
                )
            )
        elif not path.is_file() or not settled(path):
            missing.append(item.file)
        else:
            found.append(path)
    if problems:
        raise PostFileError(request.source_name, problems)
    if missing:
        raise MediaNotReadyError(missing)
    return found


def new_archive_folder(
    root: Path, unit: str, name: str, day: date, reserved: Collection[str]
) -> str:
    """``<unit>/archive/<day>_<file stem>`` (relative to the queue folder ``root``), numbered if
    that exists or is among ``reserved`` (named for another file of the same pass, made once
    its post is recorded)."""
    base = f"{unit}/{ARCHIVE}/{day:%Y-%m-%d}_{Path(name).stem}"
    candidate, n = base, 1
    while candidate in reserved or (root / candidate).exists():
        n += 1
        candidate = f"{base}_{n}"
    return candidate


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
