"""The state store on SQLite: one file shared by every bridge process, or an in-memory twin.

Calls are synchronous and meant for the event loop (the RunMachine answers the backend's
blob get/set inline), so the hot paths are short:
- `get` reads a byte-bounded LRU cache first, then one indexed SELECT; it writes nothing.
  Its access-time update (and, through a conversation's view, the note that the
  conversation uses the blob) is queued in memory and written with the next write, or
  after `touch_interval` seconds, or at close. A crash loses only those notes, which
  order eviction and nothing else.
- `put` and `save_checkpoint` commit at once (WAL, synchronous=NORMAL: a commit is an
  append to the WAL without fsync). A process crash loses nothing committed; a power
  loss may lose the last commits but never corrupts the file. A checkpoint saved after
  its blobs therefore never survives a crash without them.
- TTL expiry runs at open and then at most every `prune_interval` seconds, piggybacked on
  any call; the size cap is checked (one row read) on every write and enforced at once,
  down to 90% of the cap so that eviction is rare.

Blob ids are trusted, not verified: the backend sets blobs under ids it computed (SHA-256
of the bytes, per the protocol) and gets them back by the same ids; we store what we are
given. A put of an id already stored with other bytes replaces them (plain KV semantics);
with the same bytes it only refreshes the access time.

Several processes may share the file: SQLite serialises writers (a writer waits up to
`schema.BUSY_TIMEOUT` for another's transaction, during which the event loop blocks; our
transactions are short). A process's read cache may still serve a blob another process
has evicted; blobs are immutable, so the bytes are right, and at worst a later Run misses
a blob and falls back to a fresh Run. Within a process, every method is thread-safe (one
lock around one connection).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

from ..paths import bridge_home
from . import eviction, schema
from .cache import DEFAULT_CACHE_BYTES, BlobCache
from .types import (
    DEFAULT_MAX_BYTES,
    DEFAULT_TTL,
    PruneResult,
    StateStoreError,
    StoredCheckpoint,
    StoreStats,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

STATE_FILE = "state.sqlite3"
# Eviction stops at this fraction of the cap, so one put over the cap does not evict again
# on the next put.
LOW_WATER = 0.9

_PUT_DATA = (
    "INSERT INTO blob_data (id, data) VALUES (?, ?)"
    " ON CONFLICT (id) DO UPDATE SET data = excluded.data WHERE data IS NOT excluded.data"
)
_PUT_BLOB = (
    "INSERT INTO blobs (id, size, accessed) VALUES (?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET size = excluded.size,"
    " accessed = max(accessed, excluded.accessed)"
)
_TOUCH_BLOB = "UPDATE blobs SET accessed = max(accessed, ?) WHERE id = ?"
_TOUCH_CONVERSATION = (
    "INSERT INTO conversations (key, used_at) VALUES (?, ?)"
    " ON CONFLICT (key) DO UPDATE SET used_at = max(used_at, excluded.used_at)"
)
_LINK = "INSERT OR IGNORE INTO owners (conversation, blob) SELECT ?, id FROM blobs WHERE id = ?"
_SAVE_CHECKPOINT = (
    "INSERT INTO conversations (key, checkpoint, meta, saved_at, used_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (key) DO UPDATE SET checkpoint = excluded.checkpoint, meta = excluded.meta,"
    " saved_at = excluded.saved_at, used_at = max(used_at, excluded.used_at)"
)


def default_state_path() -> Path:
    """`bridge_home()/state.sqlite3` (`$CURSOR_BRIDGE_HOME` or the platform data dir)."""
    return bridge_home() / STATE_FILE


class _BlobView:
    """A BlobStore over the state store; with a conversation key, the conversation owns
    what it puts and gets (so its blobs live and are evicted with it)."""

    __slots__ = ("_conversation", "_store")

    def __init__(self, store: _SqliteStore, conversation: str | None) -> None:
        self._store = store
        self._conversation = conversation

    def get(self, key: bytes) -> bytes | None:
        return self._store._get_blob(self._conversation, key)

    def put(self, key: bytes, data: bytes) -> None:
        self._store._put_blob(self._conversation, key, data)


class _SqliteStore:
    """Shared implementation of SqliteStateStore and MemoryStateStore (see module doc)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        ttl: float,
        max_bytes: int,
        cache_bytes: int,
        clock: Callable[[], float],
        touch_interval: float,
        prune_interval: float,
    ) -> None:
        if ttl <= 0 or max_bytes <= 0:
            conn.close()
            raise ValueError("ttl and max_bytes must be positive")
        self.ttl = ttl
        self.max_bytes = max_bytes
        self.touch_interval = touch_interval
        self.prune_interval = prune_interval
        self._conn: sqlite3.Connection | None = conn
        self._clock = clock
        self._lock = threading.RLock()
        self._cache = BlobCache(cache_bytes)
        self._touched_blobs: dict[bytes, float] = {}
        self._touched_conversations: dict[str, float] = {}
        self._links: dict[str, set[bytes]] = {}
        self._removed = PruneResult()
        now = clock()
        self._last_flush = now
        self._last_prune = now
        self.blobs = _BlobView(self, None)
        """Blobs owned by no conversation (evicted on their own access time)."""
        try:
            self._prune(now)
        except BaseException:
            self.close()
            raise

    # -- public API ------------------------------------------------------------------------

    def conversation_blobs(self, conversation_key: str) -> _BlobView:
        """A BlobStore whose blobs belong to *conversation_key*: give this to the Run."""
        return _BlobView(self, conversation_key)

    def save_checkpoint(
        self, conversation_key: str, checkpoint: bytes, meta: Mapping[str, str] | None = None
    ) -> None:
        """Keep *checkpoint* (replacing the previous one) with its *meta*; committed on return."""
        meta_text = json.dumps(dict(meta or {}), sort_keys=True)
        with self._lock:
            now = self._clock()
            self._write(
                now,
                lambda conn: conn.execute(
                    _SAVE_CHECKPOINT, (conversation_key, checkpoint, meta_text, now, now)
                ),
            )
            self._maybe_prune(now)

    def load_checkpoint(self, conversation_key: str) -> StoredCheckpoint | None:
        """The conversation's last checkpoint, or None (never saved, dropped, evicted, or
        unused for longer than the TTL, in which case the conversation is dropped now)."""
        with self._lock:
            now = self._clock()
            with self._errors():
                row = (
                    self._connection()
                    .execute(
                        "SELECT checkpoint, meta, saved_at, used_at FROM conversations"
                        " WHERE key = ?",
                        (conversation_key,),
                    )
                    .fetchone()
                )
            if row is None:
                return None
            checkpoint, meta_text, saved_at, used_at = row
            used_at = max(used_at, self._touched_conversations.get(conversation_key, used_at))
            if used_at < now - self.ttl:
                removed = self._drop(now, conversation_key)
                self._count(PruneResult(expired_conversations=removed.conversations))
                return None
            if checkpoint is None:
                return None
            self._touched_conversations[conversation_key] = now
            self._maybe_flush(now)
            return StoredCheckpoint(conversation_key, checkpoint, json.loads(meta_text), saved_at)

    def drop_conversation(self, conversation_key: str) -> None:
        """Forget a conversation: its checkpoint and the blobs no other conversation uses."""
        with self._lock:
            self._drop(self._clock(), conversation_key)

    def prune(self) -> PruneResult:
        """Expire what is older than the TTL, then evict LRU-first down to the cap."""
        with self._lock:
            return self._prune(self._clock())

    def stats(self) -> StoreStats:
        with self._lock, self._errors():
            row = (
                self._connection()
                .execute(
                    "SELECT blob_count, blob_bytes, conversations, checkpoints, checkpoint_bytes"
                    " FROM usage WHERE one = 1"
                )
                .fetchone()
            )
            removed = self._removed
            return StoreStats(
                blob_count=row[0],
                blob_bytes=row[1],
                conversations=row[2],
                checkpoints=row[3],
                checkpoint_bytes=row[4],
                max_bytes=self.max_bytes,
                cache_hits=self._cache.hits,
                cache_misses=self._cache.misses,
                cache_bytes=self._cache.bytes,
                expired_conversations=removed.expired_conversations,
                expired_blobs=removed.expired_blobs,
                evicted_conversations=removed.evicted_conversations,
                evicted_blobs=removed.evicted_blobs,
            )

    def close(self) -> None:
        """Write queued access times and close. Idempotent; later calls raise StateStoreError."""
        with self._lock:
            conn = self._conn
            if conn is None:
                return
            try:
                if self._has_touches():
                    self._write(self._clock(), lambda conn: None)
            except StateStoreError as exc:
                log.warning("state store: access times not written at close: %s", exc)
            finally:
                self._conn = None
                self._cache.clear()
                conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- blobs -----------------------------------------------------------------------------

    def _get_blob(self, conversation: str | None, key: bytes) -> bytes | None:
        with self._lock:
            now = self._clock()
            data = self._cache.get(key)
            if data is None:
                with self._errors():
                    row = (
                        self._connection()
                        .execute("SELECT data FROM blob_data WHERE id = ?", (key,))
                        .fetchone()
                    )
                if row is None:
                    self._maybe_prune(now)
                    return None
                data = bytes(row[0])
                self._cache.add(key, data)
            self._touched_blobs[key] = now
            if conversation is not None:
                self._touched_conversations[conversation] = now
                self._links.setdefault(conversation, set()).add(key)
            if not self._maybe_prune(now):
                self._maybe_flush(now)
            return data

    def _put_blob(self, conversation: str | None, key: bytes, data: bytes) -> None:
        with self._lock:
            now = self._clock()

            def put(conn: sqlite3.Connection) -> None:
                if self._cache.peek(key) != data:
                    conn.execute(_PUT_DATA, (key, data))
                conn.execute(_PUT_BLOB, (key, len(data), now))
                if conversation is not None:
                    conn.execute(_TOUCH_CONVERSATION, (conversation, now))
                    conn.execute(_LINK, (conversation, key))

            if not self._write(now, put):
                self._cache.add(key, data)  # (if the cap evicted something, maybe this blob)
            self._maybe_prune(now)

    # -- writing ---------------------------------------------------------------------------

    def _write(self, now: float, work: Callable[[sqlite3.Connection], object]) -> bool:
        """One write transaction: queued touches, *work*, then the size cap.

        Returns whether the cap evicted anything (the read cache is then cleared)."""
        blobs, conversations, links = (
            self._touched_blobs,
            self._touched_conversations,
            self._links,
        )
        with self._transaction() as conn:
            if conversations:
                conn.executemany(_TOUCH_CONVERSATION, conversations.items())
            if blobs:
                conn.executemany(_TOUCH_BLOB, [(at, key) for key, at in blobs.items()])
            if links:
                conn.executemany(
                    _LINK, [(conv, key) for conv, keys in links.items() for key in keys]
                )
            work(conn)
            evicted = PruneResult()
            if eviction.total_bytes(conn) > self.max_bytes:
                removed = eviction.evict(conn, int(self.max_bytes * LOW_WATER))
                evicted = PruneResult(
                    evicted_conversations=removed.conversations,
                    evicted_blobs=removed.blobs,
                    freed_bytes=removed.freed_bytes,
                )
        # Committed: the queue is written (it is kept if the transaction failed).
        self._touched_blobs, self._touched_conversations, self._links = {}, {}, {}
        self._last_flush = now
        if evicted.evicted_conversations or evicted.evicted_blobs:
            self._cache.clear()  # rare: cheaper than tracking which entries went
            self._count(evicted)
            return True
        return False

    def _drop(self, now: float, conversation: str) -> eviction.Removed:
        self._touched_conversations.pop(conversation, None)
        self._links.pop(conversation, None)
        removed = eviction.Removed()
        self._write(now, lambda conn: removed.add(eviction.drop_conversation(conn, conversation)))
        for key in removed.blob_ids:
            self._cache.discard(key)
        return removed

    def _prune(self, now: float) -> PruneResult:
        expired = eviction.Removed()
        self._write(now, lambda conn: expired.add(eviction.expire(conn, now - self.ttl)))
        for key in expired.blob_ids:
            self._cache.discard(key)
        self._last_prune = now
        result = PruneResult(
            expired_conversations=expired.conversations,
            expired_blobs=expired.blobs,
            freed_bytes=expired.freed_bytes,
        )
        self._count(result)
        return result

    def _maybe_prune(self, now: float) -> bool:
        if now - self._last_prune < self.prune_interval:
            return False
        self._prune(now)
        return True

    def _maybe_flush(self, now: float) -> None:
        if self._has_touches() and now - self._last_flush >= self.touch_interval:
            self._write(now, lambda conn: None)

    def _has_touches(self) -> bool:
        return bool(self._touched_blobs or self._touched_conversations or self._links)

    def _count(self, result: PruneResult) -> None:
        old = self._removed
        self._removed = PruneResult(
            old.expired_conversations + result.expired_conversations,
            old.expired_blobs + result.expired_blobs,
            old.evicted_conversations + result.evicted_conversations,
            old.evicted_blobs + result.evicted_blobs,
            old.freed_bytes + result.freed_bytes,
        )

    # -- connection ------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StateStoreError("state store is closed")
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        with self._errors():
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StateStoreError(f"state database error: {exc}") from exc


class SqliteStateStore(_SqliteStore):
    """The persistent store: a SQLite file (mode 0600, WAL) shared by all bridge processes.

    *ttl*: seconds a conversation (or a blob no conversation owns) survives unused.
    *max_bytes*: cap on blob plus checkpoint bytes, enforced by LRU eviction.
    *clock*: wall-clock seconds (injectable for tests; shared across processes, so wall time).
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        ttl: float = DEFAULT_TTL,
        max_bytes: int = DEFAULT_MAX_BYTES,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        clock: Callable[[], float] = time.time,
        touch_interval: float = 5.0,
        prune_interval: float = 60.0,
    ) -> None:
        self.path = path if path is not None else default_state_path()
        super().__init__(
            schema.open_file(self.path),
            ttl=ttl,
            max_bytes=max_bytes,
            cache_bytes=cache_bytes,
            clock=clock,
            touch_interval=touch_interval,
            prune_interval=prune_interval,
        )


class MemoryStateStore(_SqliteStore):
    """The same store in a private in-memory database: tests and `--no-persist`.

    Same semantics as SqliteStateStore (same SQL), gone when closed.
    """

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL,
        max_bytes: int = DEFAULT_MAX_BYTES,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        clock: Callable[[], float] = time.time,
        touch_interval: float = 5.0,
        prune_interval: float = 60.0,
    ) -> None:
        super().__init__(
            schema.open_memory(),
            ttl=ttl,
            max_bytes=max_bytes,
            cache_bytes=cache_bytes,
            clock=clock,
            touch_interval=touch_interval,
            prune_interval=prune_interval,
        )
