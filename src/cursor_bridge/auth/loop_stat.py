"""A file's `os.stat`, taken at most once per event-loop iteration.

Files that say who may do what (the client key file, the accounts folder) are looked at on
every request, so a revoked key or a logout counts from the next request on. Requests that
start in the same loop iteration can share one look: `LoopStat.stat()` keeps its result
until the callbacks the loop had queued when it was taken have run (`call_soon`, which runs
in order). A request whose bytes are read after a change therefore sees a stat taken after
it: its task's first step is queued behind that expiry. Outside a running loop, or on
another thread than the loop's, every call looks again.
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

__all__ = ["LoopStat"]


class LoopStat:
    """`stat()`: the path's stat result (None when it does not exist), fresh per iteration."""

    __slots__ = ("_loop", "_result", "_thread", "path")

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0
        self._result: os.stat_result | None = None

    def stat(self) -> os.stat_result | None:
        """Other errors than a missing file raise (and are not kept)."""
        loop = self._loop
        if loop is not None and self._thread == threading.get_ident() and loop.is_running():
            return self._result
        try:
            result: os.stat_result | None = os.stat(self.path)
        except FileNotFoundError:
            result = None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return result
        self._result = result
        self._loop = loop
        self._thread = threading.get_ident()
        loop.call_soon(self._expire)
        return result

    def _expire(self) -> None:
        self._loop = None
