"""Where cursor-bridge keeps its state: `$CURSOR_BRIDGE_HOME`, else the platform's data dir."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import platformdirs


def bridge_home() -> Path:
    override = os.environ.get("CURSOR_BRIDGE_HOME")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("cursor-bridge", appauthor=False))


def write_private(path: Path, data: bytes) -> None:
    """Write *data* to *path* atomically with mode 0600 (credentials and device state).

    The bytes go to a temporary file in the same directory (created 0600 by mkstemp), are
    flushed to disk, then renamed over *path*: a reader sees the old file or the new one,
    never a torn or world-readable one.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
