"""A Run's KV blobs kept in memory until its turn ends, then persisted with the checkpoint.

The current client saves a conversation's checkpoint and every blob reachable from it
together, and only at `turn_ended` (current-client.md §8). So a Run writes its blobs here,
not to the store: the backend's get/set are answered from a dict on the event loop, and the
store sees one write per turn (`StateStore.save_turn`) that ties the checkpoint to its
blobs. Blobs of earlier turns are read through the store (queued writes and its cache first).
A Run that never reaches `turn_ended` leaves no checkpoint, so its blobs are not needed.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..protocol.blobs import BlobStore
from ..store import StateStore


class TurnBlobs:
    """A BlobStore for one Run: puts stay in memory; gets fall back to the state store."""

    __slots__ = ("_stored", "new", "used")

    def __init__(self, stored: BlobStore) -> None:
        self._stored = stored
        self.new: dict[bytes, bytes] = {}
        self.used: set[bytes] = set()

    def get(self, key: bytes) -> bytes | None:
        data = self.new.get(key)
        if data is None:
            data = self._stored.get(key)
            if data is not None:
                self.used.add(key)
        return data

    def put(self, key: bytes, data: bytes) -> None:
        self.new[key] = data


def save_turn(
    state: StateStore,
    key: str,
    checkpoint: bytes,
    meta: Mapping[str, str],
    blobs: TurnBlobs,
    parent: str | None,
) -> None:
    """Persist a finished turn: the checkpoint with the blobs the Run put and used, and
    everything the checkpoint it continued (*parent*) keeps."""
    state.save_turn(key, checkpoint, meta, blobs=blobs.new, reachable=blobs.used, parent=parent)
