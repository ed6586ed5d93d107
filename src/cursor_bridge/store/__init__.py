"""Persistent state of conversations: the backend's KV blobs and the last checkpoint of each.

A Run's blobs are content-addressed (id = sha256 of the bytes) and the checkpoint the
backend sends (`ConversationStateStructure`) references them by id; the checkpoint goes back
byte-for-byte on the conversation's next Run, and the backend then reads those blobs. So a
checkpoint is only useful while its blobs are stored, and the store keeps them together:

    store = open_state_store(settings)            # SqliteStateStore, or MemoryStateStore
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

from ..config import Settings
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


def open_state_store(settings: Settings) -> StateStore:
    """The store *settings* ask for: Redis when `redis_url` is set, else the SQLite file, or
    memory when `persist_state` is off."""
    if settings.redis:
        from .redis import RedisStateStore  # the redis client loads only when used

        return RedisStateStore(settings.redis, ttl=settings.state_ttl)
    if not settings.persist_state:
        return MemoryStateStore(ttl=settings.state_ttl, max_bytes=settings.state_max_bytes)
    return SqliteStateStore(
        settings.state_path, ttl=settings.state_ttl, max_bytes=settings.state_max_bytes
    )
