"""systemd's notify protocol: READY, WATCHDOG, STATUS and STOPPING, as datagrams to
``$NOTIFY_SOCKET``. A few lines of socket code, rather than a C library binding to install.

Outside systemd (no ``$NOTIFY_SOCKET``) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket

logger = logging.getLogger(__name__)


def notify(*fields: str) -> None:
    """Send ``READY=1``, ``STATUS=…`` and the like in one datagram."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall("\n".join(fields).encode())
    except OSError as exc:
        logger.warning("cannot notify systemd at %s: %s", address, exc)


def watchdog_seconds() -> float | None:
    """How often systemd expects WATCHDOG=1 (``WatchdogSec=``), if it does."""
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec or os.environ.get("WATCHDOG_PID", str(os.getpid())) != str(os.getpid()):
        return None
    return int(usec) / 1_000_000
