"""Several daemons may share one queue folder (a network share), each running as a host of its own.

Each daemon claims post files into ``<unit>/processing/<host>/``, so a host that restarts puts
back only what it left itself, never a file another host is taking at that moment. The name comes
from ``publisher run --host`` (default: this machine's name), not from config.toml, which every
host shares. Two processes under one name would put back each other's files, so each holds a lock
named for its host, ``<queue>/.hosts/<host>.lock``, for as long as it runs.
"""

from __future__ import annotations

import fcntl
import re
import socket
from pathlib import Path
from typing import IO

from publisher.errors import PublisherError

HOSTS = ".hosts"  # beside the unit folders: a unit id never starts with a dot
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,199}")  # one path component, with room for ".lock"


def this_host() -> str:
    """The default host name: this machine's."""
    return socket.gethostname()


def checked_host(name: str) -> str:
    """``name`` in lower case (a Windows share does not tell ``Web-1`` from ``web-1``), if it
    can name a folder of its own.

    Raises:
        PublisherError: it is empty, has a character other than letters, digits, ``.``, ``-``
            and ``_``, starts with a dot or is too long.
    """
    lowered = name.lower()
    if not _NAME.fullmatch(lowered):
        msg = (
            f"the host name {name!r} (--host) cannot name a folder: use letters, digits, '.', "
            "'-' and '_' (at most 200), starting with a letter or digit, e.g. --host web-2"
        )
        raise PublisherError(msg)
    return lowered


def lock_path(queue: Path, host: str) -> Path:
    return queue / HOSTS / f"{host}.lock"


def hold(queue: Path, host: str) -> IO[str] | None:
    """Take ``host``'s lock: the open lock file, or None when a process holds it already.
    flock is certain between the processes of one machine only: whether another machine sees
    it depends on the share."""
    return try_lock(lock_path(queue, host))


def try_lock(path: Path) -> IO[str] | None:
    """An exclusive lock on ``path`` (created if need be): the open file, or None when another
    process holds it. The lock lasts while the file stays open; the OS lets go when the process
    ends, however it ends, so a dead process leaves nothing to clean up.

    Raises:
        PublisherError: the filesystem cannot lock files (some network shares).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    except OSError as exc:
        handle.close()
        msg = (
            f"{path} cannot be locked ({exc.strerror}): its filesystem does not support locks; "
            "mount the share with locking, or keep that folder on a local disk"
        )
        raise PublisherError(msg) from None
    return handle
