"""Queued writes as reads see them: blob bytes and checkpoints served from memory until the
batch that writes them commits (store/sqlite.py), then retired.

Used under the store's lock, by the event loop (hold) and the writer thread (retire), so
both are single passes: the writer holds the lock the loop waits for while it retires.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import writes
from .cache import BlobCache, RecentCheckpoints

BlobOp = writes.PutBlob | writes.SaveTurn
CheckpointOp = writes.SaveCheckpoint | writes.SaveTurn | writes.DropConversation


class Pending:
    """Blob id -> (op, bytes) and key -> checkpoint op of what is queued, and the bytes held."""

    __slots__ = ("blobs", "bytes", "checkpoints")

    def __init__(self) -> None:
        self.blobs: dict[bytes, tuple[BlobOp, bytes]] = {}
        self.checkpoints: dict[str, CheckpointOp] = {}
        self.bytes = 0

    def hold(self, op: BlobOp, blobs: dict[bytes, bytes], cache: BlobCache) -> int:
        """Serve *blobs* to reads until *op* commits (and cache them); returns their bytes
        (what the op writes of them: `writes.size_of`)."""
        pending = self.blobs
        size = replaced_bytes = 0
        for key, data in blobs.items():
            replaced = pending.get(key)
            if replaced is not None:
                replaced_bytes += len(replaced[1])
            pending[key] = (op, data)
            size += len(data)
        self.bytes += size - replaced_bytes
        cache.add_all(blobs)
        return size

    def retire(self, ops: list[writes.Op], recent: RecentCheckpoints) -> None:
        """Forget what committed *ops* wrote, unless a later op replaced it; their
        checkpoints become *recent* ones."""
        blobs, checkpoints = self.blobs, self.checkpoints
        retired = 0
        for op in ops:
            if isinstance(op, writes.SaveTurn):
                keys: Iterable[bytes] = op.blobs
            elif isinstance(op, writes.PutBlob):
                keys = (op.key,)
            else:
                keys = ()
            for key in keys:
                held = blobs.get(key)
                if held is not None and held[0] is op:
                    del blobs[key]
                    retired += len(held[1])
            if isinstance(op, CheckpointOp) and checkpoints.get(op.conversation) is op:
                del checkpoints[op.conversation]
                if not isinstance(op, writes.DropConversation):
                    recent.add(op.stored)
        self.bytes -= retired
