"""Persistent state of conversations: the backend's KV blobs and the last checkpoint of each.

A Run's blobs are content-addressed (id = sha256 of the bytes) and the checkpoint the
backend sends (`ConversationStateStructure`) references them by id; the checkpoint goes back
byte-for-byte on the conversation's next Run, and the backend then reads those blobs. So a
checkpoint is only useful while its blobs are stored, and the store keeps them together:

    store = open_state_store(path, ttl=..., max_bytes=...)  # SqliteStateStore, Memory..., Redis...
    store.save_turn(key, raw_checkpoint, {"model": "..."}, blobs=new, reachable=used,
                    parent=previous_key)          # a finished turn, as one unit
    stored = store.peek_checkpoint(key)           # from memory only (the event loop)
    stored = store.load_checkpoint(key)           # StoredCheckpoint | None (may read SQLite)
    blobs = store.conversation_blobs(conv_key)    # a protocol BlobStore owned by conv_key

Policy: a conversation key (for the engine: a checkpoint, with every blob its turn put,
used or inherited from the checkpoint it continued) lives while used within the TTL; over
the size cap, the least recently used keys go first, whole, together with blobs no other
key owns, so a surviving checkpoint keeps its blobs. Blobs put through `store.blobs` belong
to no conversation and are evicted by their own last access. A missing blob later surfaces
as the backend's `Blob not found`; the engine then starts a fresh Run.
"""

from __future__ import annotations

from pathlib import Path

from .sqlite import MemoryStateStore, SqliteStateStore, default_state_path
from .types import PruneResult, StateStore, StateStoreError, StoredCheckpoint, StoreStats

__all__ = [
    "MemoryStateStore",
    "PruneResult",
    "SqliteStateStore",
    "StateStore",
    "StateStoreError",
    "StoreStats",
    "StoredCheckpoint",
    "default_state_path",
    "open_state_store",
]


def open_state_store(
    path: Path | None = None,
    *,
    ttl: float,
    max_bytes: int,
    persist: bool = True,
    redis_url: str | None = None,
) -> StateStore:
    """Redis when *redis_url* is given, else the SQLite file at *path* (None: the default
    one in the bridge home), or memory when not *persist* (nothing on disk; committed by a
    writer thread, like the file, so no transaction runs on the caller's event loop)."""
    if redis_url:
        from .redis import RedisStateStore  # the redis client loads only when used

        return RedisStateStore(redis_url, ttl=ttl)
    if not persist:
        return MemoryStateStore(ttl=ttl, max_bytes=max_bytes, background_writes=True)
    return SqliteStateStore(path, ttl=ttl, max_bytes=max_bytes)
