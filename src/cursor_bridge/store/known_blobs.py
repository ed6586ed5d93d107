"""Which blobs the database already holds, so a turn does not write them again.

Blob ids are content hashes, and most of a turn's blobs are ones an earlier turn already
stored (the same system prompt, tools and history): rewriting them cost the writer three
statements each per turn. The writer remembers each blob it committed (or found removed)
with a fingerprint of its bytes, and a turn whose blob is remembered with the same
fingerprint only links to it. The fingerprint (Python's keyed SipHash of the bytes, which
the bytes object caches) keeps the store's plain KV semantics: a put of other bytes under a
known id still replaces them.

What this process removes (drop, expiry, eviction) is forgotten as the batch that removes
it runs. What another process sharing the file may have removed cannot be seen from here:
the writer clears everything it remembers whenever SQLite's `data_version` says another
connection committed (`forget_all`), so a shared file trades the saving for correctness.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

# About 150 bytes each: a few MiB at most, and a live conversation's blobs fit easily.
DEFAULT_LIMIT = 65_536

_UNSEEN = object()


def fingerprint(data: bytes) -> int:
    """What "the same bytes" is checked by: keyed, 64-bit, computed once per bytes object."""
    return hash(data)


class KnownBlobs:
    """Committed blob ids and their fingerprints, the *limit* most recently confirmed.
    Used by the writer only (its thread, or the caller under the store's lock)."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._items: OrderedDict[bytes, int] = OrderedDict()

    def holds(self, key: bytes, fp: int) -> bool:
        if self._items.get(key) != fp:
            return False
        self._items.move_to_end(key)
        return True

    def remember(self, key: bytes, fp: int) -> None:
        self._items[key] = fp
        self._items.move_to_end(key)
        if len(self._items) > self.limit:
            self._items.popitem(last=False)

    def forget(self, key: bytes) -> None:
        self._items.pop(key, None)

    def forget_all(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class BatchBlobs:
    """What one write transaction did to blobs, over what was committed before it: reads
    see the batch's own writes and removals; `commit` folds them in once the transaction
    has committed (a rolled-back batch changes nothing)."""

    __slots__ = ("_known", "_changes")

    def __init__(self, known: KnownBlobs) -> None:
        self._known = known
        self._changes: dict[bytes, int | None] = {}  # None: removed in this batch

    def holds(self, key: bytes, data: bytes) -> bool:
        """Whether the database (as of this batch so far) holds exactly *data* under *key*."""
        fp = fingerprint(data)
        change = self._changes.get(key, _UNSEEN)
        if change is _UNSEEN:
            return self._known.holds(key, fp)
        return change == fp

    def wrote(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        for key, data in items:
            self._changes[key] = fingerprint(data)

    def removed(self, keys: Iterable[bytes]) -> None:
        for key in keys:
            self._changes[key] = None

    def commit(self) -> None:
        known = self._known
        for key, fp in self._changes.items():
            if fp is None:
                known.forget(key)
            else:
                known.remember(key, fp)
