"""The store's public vocabulary: what callers get back, and the interface the engine uses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from ..protocol.blobs import BlobStore

DAY = 24 * 3600.0
DEFAULT_TTL = 7 * DAY
DEFAULT_MAX_BYTES = 512 * 1024 * 1024


class StateStoreError(Exception):
    """The state database cannot be used (unopenable, damaged at run time, newer schema, closed)."""


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A conversation's last checkpoint, byte-for-byte as the backend sent it."""

    conversation_key: str
    checkpoint: bytes
    meta: Mapping[str, str]
    saved_at: float


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Counts for /metrics. Database numbers (blobs, conversations, checkpoints) are the
    committed state, shared by every process on the file; pending writes (queued, not yet
    committed), cache and removal counters are this process's since the store was opened."""

    blob_count: int
    blob_bytes: int
    conversations: int
    checkpoints: int
    checkpoint_bytes: int
    max_bytes: int
    pending_writes: int
    pending_bytes: int
    cache_hits: int
    cache_misses: int
    cache_bytes: int
    expired_conversations: int
    expired_blobs: int
    evicted_conversations: int
    evicted_blobs: int

    @property
    def total_bytes(self) -> int:
        """What the size cap is measured against: blob bytes plus checkpoint bytes."""
        return self.blob_bytes + self.checkpoint_bytes


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What one prune removed."""

    expired_conversations: int = 0
    expired_blobs: int = 0
    evicted_conversations: int = 0
    evicted_blobs: int = 0
    freed_bytes: int = 0


class StateStore(Protocol):
    """Persistent state of conversations: KV blobs and checkpoints (see store/__init__.py)."""

    @property
    def blobs(self) -> BlobStore: ...

    def conversation_blobs(self, conversation_key: str) -> BlobStore: ...

    def save_checkpoint(
        self, conversation_key: str, checkpoint: bytes, meta: Mapping[str, str] | None = None
    ) -> None: ...

    def save_turn(
        self,
        conversation_key: str,
        checkpoint: bytes,
        meta: Mapping[str, str] | None = None,
        *,
        blobs: Mapping[bytes, bytes] | None = None,
        reachable: Iterable[bytes] = (),
        parent: str | None = None,
    ) -> None: ...

    def peek_checkpoint(self, conversation_key: str) -> StoredCheckpoint | None: ...

    def load_checkpoint(self, conversation_key: str) -> StoredCheckpoint | None: ...

    def drop_conversation(self, conversation_key: str) -> None: ...

    def batch(self) -> AbstractContextManager[None]: ...

    def flush(self, timeout: float | None = None) -> None: ...

    def prune(self) -> PruneResult: ...

    def stats(self) -> StoreStats: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class ClosedOnExit:
    """`with store:` closes the store at the end (the stores' shared context manager)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
