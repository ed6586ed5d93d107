"""One `serve` per state directory: an exclusive lock on `$CURSOR_BRIDGE_HOME/serve.lock`.

Two servers on one home would share the SQLite store, the device id and the login files;
the store copes with several processes, but the response store, parked Runs and the
lifetime of the state file are one server's. So a second `serve` refuses to start and
names the process that owns the home. The lock is `flock`ed on an open descriptor of its
own file (never the database's, whose POSIX locks belong to SQLite) and disappears with
the process, however it ends.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = "serve.lock"


class HomeInUse(Exception):
    """Another process holds the home; the message says which and what to do."""


@contextlib.contextmanager
def own_home(home: Path) -> Iterator[None]:
    """Hold the home's lock for the duration of the block; raises HomeInUse."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock, as before
        yield
        return
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = home / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise HomeInUse(
                f"another cursor-bridge (pid {owner}) is already serving from {home}. Stop "
                "it first, or give this one its own state directory with CURSOR_BRIDGE_HOME."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
