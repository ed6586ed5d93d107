"""Content-addressed KV blobs: the id of a blob is the SHA-256 digest of its bytes."""

from __future__ import annotations

import hashlib
from typing import Protocol

BLOB_ID_SIZE = 32


def blob_id(data: bytes) -> bytes:
    """The 32-byte id Cursor uses for a blob: sha256(data)."""
    return hashlib.sha256(data).digest()


class BlobStore(Protocol):
    """Where a Run's blobs live. Sync on purpose: the RunMachine answers KV requests inline."""

    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, data: bytes) -> None: ...


class MemoryBlobStore:
    """A dict-backed BlobStore (one conversation, or tests)."""

    def __init__(self) -> None:
        self._blobs: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self._blobs.get(key)

    def put(self, key: bytes, data: bytes) -> None:
        self._blobs[key] = data

    def __len__(self) -> int:
        return len(self._blobs)

    def __contains__(self, key: object) -> bool:
        return key in self._blobs
