"""What the database already holds, so a turn does not write it again.

Blob ids are content hashes, and most of a turn's blobs are ones an earlier turn already
stored (the same system prompt, tools and history): rewriting them cost the writer three
statements each per turn. The writer remembers each blob it committed with a fingerprint
of its bytes, and a turn whose blob is remembered with the same fingerprint only links to
it. The fingerprint (Python's keyed 64-bit SipHash of the bytes, which the bytes object
caches) keeps the store's plain KV semantics: a put of other bytes under a known id still
replaces them. Likewise it remembers which blobs each recently saved key owns, so saving a
key again (a turn's final checkpoint after the one filed at `turn_ended`) skips the links
it already has. An owner link lives until its key is dropped, and a blob lives while it
has an owner, so a remembered link also means the blob is there.

What this process removes (drop, expiry, eviction) is forgotten as the batch that removes
it runs. What another process sharing the file may have removed cannot be seen from here:
the writer forgets everything whenever SQLite's `data_version` says another connection
committed (`forget_all`), so a busy shared file trades the saving for correctness.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

# About 150 bytes a blob: a few MiB at most; a live conversation's blobs fit easily.
BLOB_LIMIT = 65_536
KEY_LIMIT = 4_096

_UNSEEN = object()


def fingerprint(data: bytes) -> int:
    """What "the same bytes" is checked by: keyed, 64-bit, computed once per bytes object
    (a bytes-like value that is not bytes, which hash() may refuse, is copied first)."""
    return hash(data) if type(data) is bytes else hash(bytes(data))


class KnownBlobs:
    """Committed blobs (id -> fingerprint) and owner links (key -> blob ids), the most
    recently confirmed ones. Used by the writer only (its thread, or the caller under the
    store's lock)."""

    def __init__(self, blob_limit: int = BLOB_LIMIT, key_limit: int = KEY_LIMIT) -> None:
        self.blob_limit = blob_limit
        self.key_limit = key_limit
        self._blobs: OrderedDict[bytes, int] = OrderedDict()
        self._links: OrderedDict[str, set[bytes]] = OrderedDict()

    def holds(self, blob: bytes, fp: int) -> bool:
        if self._blobs.get(blob) != fp:
            return False
        self._blobs.move_to_end(blob)
        return True

    def links(self, key: str) -> set[bytes]:
        """The blobs *key* is known to own (empty: none known; do not mutate)."""
        return self._links.get(key) or _NONE

    def remember(self, blob: bytes, fp: int) -> None:
        self._blobs[blob] = fp
        self._blobs.move_to_end(blob)
        if len(self._blobs) > self.blob_limit:
            self._blobs.popitem(last=False)

    def remember_links(self, key: str, blobs: set[bytes]) -> None:
        known = self._links.get(key)
        if known is None:
            self._links[key] = set(blobs)
            if len(self._links) > self.key_limit:
                self._links.popitem(last=False)
        else:
            known |= blobs
            self._links.move_to_end(key)

    def forget(self, blob: bytes) -> None:
        self._blobs.pop(blob, None)

    def forget_key(self, key: str) -> None:
        self._links.pop(key, None)

    def forget_all(self) -> None:
        self._blobs.clear()
        self._links.clear()

    def __len__(self) -> int:
        return len(self._blobs)


_NONE: set[bytes] = set()


class BatchBlobs:
    """What one write transaction did, over what was committed before it: lookups see the
    batch's own writes and removals; `commit` folds them in once the transaction has
    committed (a rolled-back batch changes nothing)."""

    __slots__ = ("_blobs", "_dropped", "_known", "_links")

    def __init__(self, known: KnownBlobs) -> None:
        self._known = known
        self._blobs: dict[bytes, int | None] = {}  # None: removed in this batch
        self._links: dict[str, set[bytes]] = {}
        self._dropped: set[str] = set()

    def holds(self, blob: bytes, data: bytes) -> bool:
        """Whether the database (as of this batch so far) holds exactly *data* as *blob*."""
        fp = fingerprint(data)
        change = self._blobs.get(blob, _UNSEEN)
        if change is _UNSEEN:
            return self._known.holds(blob, fp)
        return change == fp

    def fresh(self, blobs: dict[bytes, bytes]) -> list[tuple[bytes, bytes]]:
        """The items of *blobs* the database (as of this batch so far) does not hold with
        the same bytes, noted as written: `holds` then `wrote` for each, in one pass."""
        changes, remembered = self._blobs, self._known._blobs
        out = []
        for blob, data in blobs.items():
            fp = hash(data) if type(data) is bytes else hash(bytes(data))
            change = changes.get(blob, _UNSEEN)
            if change is _UNSEEN:
                if remembered.get(blob) == fp:
                    remembered.move_to_end(blob)
                    continue
            elif change == fp:
                continue
            changes[blob] = fp
            out.append((blob, data))
        return out

    def unlinked(self, key: str, blobs: Iterable[bytes]) -> list[bytes]:
        """Those of *blobs* that *key* is not known to own yet."""
        known = _NONE if key in self._dropped else self._known.links(key)
        added = self._links.get(key, _NONE)
        return [blob for blob in blobs if blob not in known and blob not in added]

    def wrote(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        for blob, data in items:
            self._blobs[blob] = fingerprint(data)

    def linked(self, key: str, blobs: Iterable[bytes]) -> None:
        self._links.setdefault(key, set()).update(blobs)

    def removed(self, blobs: Iterable[bytes], keys: Iterable[str]) -> None:
        for blob in blobs:
            self._blobs[blob] = None
        for key in keys:
            self._dropped.add(key)
            self._links.pop(key, None)

    def commit(self) -> None:
        known = self._known
        # `forget` and `remember` inlined (a batch of turns commits a few hundred blobs).
        remembered, limit = known._blobs, known.blob_limit
        for blob, fp in self._blobs.items():
            if fp is None:
                remembered.pop(blob, None)
            else:
                remembered[blob] = fp
                remembered.move_to_end(blob)
                if len(remembered) > limit:
                    remembered.popitem(last=False)
        for key in self._dropped:
            known.forget_key(key)
        for key, blobs in self._links.items():
            known.remember_links(key, blobs)
