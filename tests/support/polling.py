"""Polling with a deadline: how tests wait for another thread or process (never a fixed sleep)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


def wait_for(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Return once ``predicate()`` is truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


async def wait_until(predicate: Callable[[], object], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """``wait_for`` for async tests: the event loop keeps running while it waits (a plain
    deadline, like wait_for's, rather than a cancelling scope)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
