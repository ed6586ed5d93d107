"""The RunMachine with its hot readers switched off: the general (protobuf) path every fast
path is compared against."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from unittest import mock

from cursor_bridge.protocol import run


def _no_hot(payload: bytes) -> None:
    return None


def _no_hot_at(data: bytes, start: int, end: int) -> None:
    return None


@contextlib.contextmanager
def general_path() -> Iterator[None]:
    """Within it, no frame is taken by a hot reader (`read_hot`, `read_hot_at`)."""
    with (
        mock.patch.object(run, "read_hot", _no_hot),
        mock.patch.object(run, "read_hot_at", _no_hot_at),
    ):
        yield
