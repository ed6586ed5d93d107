"""Byte-bounded LRUs in front of SQLite: blob bytes (a Run re-reads the blobs it, or its
seed, just wrote) and checkpoints (a live conversation's next turn starts from the last one)."""

from __future__ import annotations

from collections import OrderedDict

from .types import StoredCheckpoint

DEFAULT_CACHE_BYTES = 32 * 1024 * 1024


class BlobCache:
    """Least recently used blobs, at most *max_bytes* of them; a blob larger than an eighth
    of the budget is not kept (one huge blob should not flush everything else)."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.max_item = max_bytes // 8
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[bytes, bytes] = OrderedDict()

    def get(self, key: bytes) -> bytes | None:
        data = self._items.get(key)
        if data is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return data

    def add(self, key: bytes, data: bytes) -> None:
        items = self._items
        held = items.get(key)
        if held is not None:
            if held is data or held == data:
                items.move_to_end(key)  # already cached (a turn re-putting its seed)
                return
            del items[key]
            self.bytes -= len(held)
        if len(data) > self.max_item:
            return
        items[key] = data
        self.bytes += len(data)
        while self.bytes > self.max_bytes:
            _, dropped = items.popitem(last=False)
            self.bytes -= len(dropped)

    def add_all(self, blobs: dict[bytes, bytes]) -> None:
        """`add` each of *blobs* in order: one call for a turn's half dozen (`Pending.hold`).
        The loop body is `add`'s (tests/store/test_blob_cache.py holds them equal)."""
        items, max_item, max_bytes = self._items, self.max_item, self.max_bytes
        size = self.bytes
        for key, data in blobs.items():
            held = items.get(key)
            if held is not None:
                if held is data or held == data:
                    items.move_to_end(key)
                    continue
                del items[key]
                size -= len(held)
            if len(data) > max_item:
                continue
            items[key] = data
            size += len(data)
            while size > max_bytes:
                _, dropped = items.popitem(last=False)
                size -= len(dropped)
        self.bytes = size

    def discard(self, key: bytes) -> None:
        data = self._items.pop(key, None)
        if data is not None:
            self.bytes -= len(data)

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)


class RecentCheckpoints:
    """Least recently used checkpoints, at most *max_bytes* of them."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[str, StoredCheckpoint] = OrderedDict()

    def get(self, key: str) -> StoredCheckpoint | None:
        stored = self._items.get(key)
        if stored is not None:
            self._items.move_to_end(key)
        return stored

    def add(self, stored: StoredCheckpoint) -> None:
        self.discard(stored.conversation_key)
        if len(stored.checkpoint) > self.max_bytes // 8:
            return
        self._items[stored.conversation_key] = stored
        self.bytes += len(stored.checkpoint)
        while self.bytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.bytes -= len(dropped.checkpoint)

    def discard(self, key: str) -> None:
        stored = self._items.pop(key, None)
        if stored is not None:
            self.bytes -= len(stored.checkpoint)

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0
