"""The state store on SQLite: one file shared by every bridge process, or an in-memory twin.

Calls are synchronous and made on the event loop (the RunMachine answers the backend's blob
get/set inline), so the caller never waits for a disk write, a lock held by another process
or a WAL checkpoint:
- Writes (`put`, `save_checkpoint`, `save_turn`, `drop_conversation`) are queued in call
  order and visible to this process's reads at once; a writer thread commits each batch of
  queued writes in one transaction (group commit), within 0.02 s (0.2 s when busy: see
  store/write_queue.py). A finished
  turn is one write (`save_turn`: its checkpoint and blobs together). `flush()` waits
  for that; `close()` flushes. The caller only blocks when more than `max_pending_bytes`
  are waiting (the disk cannot keep up), for at most `write_timeout` seconds.
- Reads look at the queued writes, then a byte-bounded LRU cache of blobs (or of recent
  checkpoints, for `peek_checkpoint`, which never goes further), then SQLite (WAL: a read
  never waits for a writer). A read writes nothing: its access-time note is
  queued and goes with the next batch (or after `touch_interval` seconds).
- Crash: what was committed survives a process crash (WAL, synchronous=NORMAL: a commit
  writes the WAL without an fsync, only WAL checkpoints sync; a power loss may lose the
  last commits but not the file, and a lost checkpoint only costs a fresh Run). Writes
  still queued are lost, but batches commit in call order, so a checkpoint never survives
  without the blobs that were put before it. Lost access notes only change eviction order.
- TTL expiry runs at open and at most every `prune_interval` seconds; the size cap is
  checked (one row read) in every batch and enforced at once, down to 90% of the cap.
- A turn writes only what the database lacks: blobs it already holds with the same bytes
  are linked, not rewritten (store/known_blobs.py), and a turn notes the checkpoint it
  continued from instead of copying that one's links (store/eviction.py hands them down).

MemoryStateStore runs the same SQL on a private in-memory database (nothing on disk), for
`persist_state = false` with a writer thread too: a read never waits for its transaction
(schema.open_shared_memory). By default (tests) each write applies at once in the caller.

Blob ids are trusted, not verified: the backend sets blobs under ids it computed (SHA-256
of the bytes, per the protocol) and gets them back by the same ids; we store what we are
given. A put of an id already stored with other bytes replaces them (plain KV semantics).

Several processes may share the file: SQLite serialises their writers (ours wait on the
writer thread). Another process sees our writes once committed. A process's read cache
may still serve a blob another process has since evicted: ids are content hashes, so the
bytes are right, and at worst a later Run misses a blob and falls back to a fresh Run.
Likewise, until a drop_conversation commits, reads may still return the blobs it removes.
Within a process, every method is thread-safe; flush() and prune() wait for the writer,
so they are not for the event loop's hot path, nor allowed inside batch().
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from ..paths import bridge_home
from ..protocol.blobs import BlobStore
from . import schema, writes
from .cache import DEFAULT_CACHE_BYTES, BlobCache, RecentCheckpoints
from .pending import Pending
from .types import (
    DEFAULT_MAX_BYTES,
    DEFAULT_TTL,
    ClosedOnExit,
    PruneResult,
    StateStoreError,
    StoredCheckpoint,
    StoreStats,
)
from .write_queue import WriteQueue, sqlite_errors

log = logging.getLogger(__name__)

STATE_FILE = "state.sqlite3"
DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024


def default_state_path() -> Path:
    """`bridge_home()/state.sqlite3` (`$CURSOR_BRIDGE_HOME` or the platform data dir)."""
    return bridge_home() / STATE_FILE


class _BlobView:
    """A BlobStore over the state store; with a conversation key, the conversation owns
    what it puts and gets (so those blobs live, and are evicted, with it)."""

    __slots__ = ("_conversation", "_store")

    def __init__(self, store: _SqliteStore, conversation: str | None) -> None:
        self._store = store
        self._conversation = conversation

    def get(self, key: bytes) -> bytes | None:
        return self._store._get_blob(self._conversation, key)

    def put(self, key: bytes, data: bytes) -> None:
        self._store._put_blob(self._conversation, key, data)


class _SqliteStore(WriteQueue, ClosedOnExit):
    """Shared implementation of SqliteStateStore and MemoryStateStore (see module doc).

    *reader* serves reads (under the store's lock); *writer* is used only by the writer
    thread, or, with no thread (*background* false), by the caller under the lock.
    """

    def __init__(
        self,
        reader: sqlite3.Connection,
        writer: sqlite3.Connection,
        *,
        background: bool,
        ttl: float,
        max_bytes: int,
        cache_bytes: int,
        clock: Callable[[], float],
        touch_interval: float,
        prune_interval: float,
        max_pending_bytes: int,
        write_timeout: float,
        recent_checkpoint_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self._reader: sqlite3.Connection | None = reader
        if ttl <= 0 or max_bytes <= 0:
            self._close_connections(writer)
            raise ValueError("ttl and max_bytes must be positive")
        super().__init__(
            writer,
            ttl=ttl,
            max_bytes=max_bytes,
            clock=clock,
            touch_interval=touch_interval,
            prune_interval=prune_interval,
            write_timeout=write_timeout,
        )
        self.max_pending_bytes = max_pending_bytes
        self._cache = BlobCache(cache_bytes)
        # Queued writes that reads must see until they commit.
        self._pending = Pending()
        # Checkpoints saved or loaded lately, so a live conversation's next turn finds its
        # checkpoint without touching SQLite (bounded; forgotten on drop and eviction).
        self._recent = RecentCheckpoints(recent_checkpoint_bytes)
        self._removed = PruneResult()
        self.blobs: BlobStore = _BlobView(self, None)
        """Blobs owned by no conversation (evicted on their own access time)."""
        try:
            with self._lock:
                self._write_batch()  # prune at open, before anything is served
        except BaseException:
            self._close_connections(writer)
            raise
        if background:
            self._start_writer()

    # -- public API ------------------------------------------------------------------------

    def conversation_blobs(self, conversation_key: str) -> BlobStore:
        """A BlobStore whose blobs belong to *conversation_key*: give this to the Run."""
        return _BlobView(self, conversation_key)

    def save_checkpoint(
        self, conversation_key: str, checkpoint: bytes, meta: Mapping[str, str] | None = None
    ) -> None:
        """Keep *checkpoint* (replacing the previous one) with its *meta* (queued; see flush)."""
        meta = dict(meta or {})
        with self._lock:
            now = self._clock()
            stored = StoredCheckpoint(conversation_key, checkpoint, meta, now)
            op = writes.SaveCheckpoint(stored)
            self._pending.checkpoints[conversation_key] = op
            self._submit(op, now)

    def save_turn(
        self,
        conversation_key: str,
        checkpoint: bytes,
        meta: Mapping[str, str] | None = None,
        *,
        blobs: Mapping[bytes, bytes] | None = None,
        reachable: Iterable[bytes] = (),
        parent: str | None = None,
    ) -> None:
        """Keep a finished turn as one unit (queued; one op however many blobs): its
        *checkpoint*, the *blobs* it put, owner links from the checkpoint to those and to
        the *reachable* ids it used, and a note that it continued from *parent*, whose
        blobs pass to it if the parent goes first. A checkpoint then keeps its blobs alive:
        eviction and expiry take them together.

        Ownership: a *meta* dict is kept as given (queued, encoded by the writer thread;
        reads get copies), so the caller must not change it afterwards: `Checkpoints.keep`
        builds a new one for every save (tests/engine/test_run_finish.py holds it to that).
        Any other mapping is copied. *blobs* is always copied: a Run still open may put
        more into its dict."""
        if type(meta) is not dict:
            meta = dict(meta) if meta else {}
        new = dict(blobs) if blobs else {}
        with self._lock:
            self._check_open()
            if self._pending.bytes > self.max_pending_bytes:
                self._wait_for_room(lambda: self._pending.bytes <= self.max_pending_bytes)
            now = self._clock()
            stored = StoredCheckpoint(conversation_key, checkpoint, meta, now)
            op = writes.SaveTurn(stored, new, tuple(reachable), parent)
            size = len(checkpoint)
            if new:
                size += self._pending.hold(op, new, self._cache)
            self._pending.checkpoints[conversation_key] = op
            self._submit(op, now, size)

    def peek_checkpoint(self, conversation_key: str) -> StoredCheckpoint | None:
        """load_checkpoint from memory only (queued, or recently saved or loaded here); None
        means "not in memory", not "absent". Never reads the database: for the event loop.
        Like the blob cache, it may still return a checkpoint another process has since
        dropped; the Run then misses a blob and the engine falls back to a seeded Run."""
        with self._lock:
            return self._checkpoint_in_memory(conversation_key, self._clock(), recent=True)[1]

    def load_checkpoint(self, conversation_key: str) -> StoredCheckpoint | None:
        """The conversation's last checkpoint, or None (never saved, dropped, evicted, or
        unused for longer than the TTL, in which case the conversation is dropped now).
        May read the database: off the event loop (see peek_checkpoint)."""
        with self._lock:
            now = self._clock()
            known, found = self._checkpoint_in_memory(conversation_key, now, recent=False)
            if known:
                return found
            with sqlite_errors():
                row = (
                    self._read()
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
            used_at = max(used_at, self._touches.conversations.get(conversation_key, used_at))
            if used_at < now - self.ttl:
                self._drop(conversation_key, now, expired=True)
                return None
            if checkpoint is None:
                return None
            self._touch_conversation(conversation_key, now)
            stored = StoredCheckpoint(conversation_key, checkpoint, json.loads(meta_text), saved_at)
            self._recent.add(stored)
            return stored

    def _checkpoint_in_memory(
        self, conversation_key: str, now: float, *, recent: bool
    ) -> tuple[bool, StoredCheckpoint | None]:
        """(known, checkpoint) from queued (and with *recent*, recently used) checkpoints,
        touched when found; known is False when only the database can tell (lock held)."""
        pending = self._pending.checkpoints.get(conversation_key)
        if isinstance(pending, writes.DropConversation):
            return True, None
        stored = pending.stored if pending is not None else None
        if stored is None and recent:
            stored = self._recent.get(conversation_key)
        if stored is None:
            return False, None
        touched = self._touches.conversations.get(conversation_key, 0.0)
        if max(stored.saved_at, touched) < now - self.ttl:
            if pending is None:
                return False, None  # the database knows when it was last used
            self._drop(conversation_key, now, expired=True)
            return True, None
        self._touch_conversation(conversation_key, now)
        copy = StoredCheckpoint(
            conversation_key, stored.checkpoint, dict(stored.meta), stored.saved_at
        )
        return True, copy

    def drop_conversation(self, conversation_key: str) -> None:
        """Forget a conversation: its checkpoint and the blobs no other conversation uses."""
        with self._lock:
            self._drop(conversation_key, self._clock(), expired=False)

    def prune(self) -> PruneResult:
        """Expire what is older than the TTL, then evict LRU-first down to the cap; waits
        for the writer and returns what this prune removed."""
        op = writes.Prune()
        with self._lock:
            self._submit(op, self._clock())
        self.flush()
        assert op.result is not None
        return op.result

    def stats(self) -> StoreStats:
        with self._lock, sqlite_errors():
            row = (
                self._read()
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
                pending_writes=self._submitted - self._committed,
                pending_bytes=self._pending.bytes,
                cache_hits=self._cache.hits,
                cache_misses=self._cache.misses,
                cache_bytes=self._cache.bytes,
                expired_conversations=removed.expired_conversations,
                expired_blobs=removed.expired_blobs,
                evicted_conversations=removed.evicted_conversations,
                evicted_blobs=removed.evicted_blobs,
            )

    def close(self) -> None:
        """Commit what is queued and close. Idempotent; later calls raise StateStoreError."""
        with self._lock:
            if self._closing:
                return
        lost = self._stop_writer()
        if lost:
            log.warning("state store: %d writes were not committed before close", lost)
        with self._lock:
            self._close_connections(self._writer)
            self._cache.clear()
            self._recent.clear()

    # -- blobs -----------------------------------------------------------------------------

    def _get_blob(self, conversation: str | None, key: bytes) -> bytes | None:
        with self._lock:
            now = self._clock()
            pending = self._pending.blobs.get(key)
            data = pending[1] if pending is not None else self._cache.get(key)
            if data is None:
                # A concurrent batch that deletes this blob discards it from the cache after
                # it commits, under the lock, so caching what we read here is safe.
                with sqlite_errors():
                    row = (
                        self._read()
                        .execute("SELECT data FROM blob_data WHERE id = ?", (key,))
                        .fetchone()
                    )
                if row is None:
                    self._after_read(now)
                    return None
                data = row[0]
                self._cache.add(key, data)
            self._touches.blobs[key] = now
            if conversation is not None:
                self._touches.conversations[conversation] = now
                self._touches.links.setdefault(conversation, set()).add(key)
            self._after_read(now)
            return data

    def _put_blob(self, conversation: str | None, key: bytes, data: bytes) -> None:
        with self._lock:
            self._check_open()
            self._wait_for_room(lambda: self._pending.bytes <= self.max_pending_bytes)
            now = self._clock()
            op = writes.PutBlob(conversation, key, data, now)
            self._pending.hold(op, {key: data}, self._cache)
            if conversation is not None:
                # In use now, even before the put commits (a load must not expire it).
                self._touches.conversations[conversation] = now
            self._submit(op, now)

    # -- queue bookkeeping -----------------------------------------------------------------

    def _drop(self, conversation: str, now: float, *, expired: bool) -> None:
        self._recent.discard(conversation)
        self._touches.conversations.pop(conversation, None)
        self._touches.links.pop(conversation, None)
        op = writes.DropConversation(conversation, expired)
        self._pending.checkpoints[conversation] = op
        self._submit(op, now)

    def _touch_conversation(self, conversation: str, now: float) -> None:
        self._touches.conversations[conversation] = now
        self._after_read(now)

    def _committed_batch(self, ops: list[writes.Op], applied: writes.Applied) -> None:
        """Retire committed writes from what reads see; forget removed blobs."""
        self._pending.retire(ops, self._recent)
        if applied.evicted.conversations or applied.expired.conversations:
            self._recent.clear()  # rare: which ones went is not tracked
        if applied.evicted.blobs:
            self._cache.clear()  # rare: cheaper than discarding one by one
        for blob_id in applied.removed_blob_ids:
            self._cache.discard(blob_id)
        self._count(applied.prune_result())

    def _count(self, result: PruneResult) -> None:
        old = self._removed
        self._removed = PruneResult(
            old.expired_conversations + result.expired_conversations,
            old.expired_blobs + result.expired_blobs,
            old.evicted_conversations + result.evicted_conversations,
            old.evicted_blobs + result.evicted_blobs,
            old.freed_bytes + result.freed_bytes,
        )

    # -- connections -----------------------------------------------------------------------

    def _read(self) -> sqlite3.Connection:
        if self._closing or self._reader is None:
            raise StateStoreError("state store is closed")
        return self._reader

    def _close_connections(self, writer: sqlite3.Connection) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()
        if writer is not reader:
            writer.close()


class SqliteStateStore(_SqliteStore):
    """The persistent store: a SQLite file (mode 0600, WAL) shared by all bridge processes.

    *ttl*: seconds a conversation (or a blob no conversation owns) survives unused.
    *max_bytes*: cap on blob plus checkpoint bytes, enforced by LRU eviction.
    *clock*: wall-clock seconds (injectable for tests; shared across processes, so wall time).
    *background_writes*: commit on a writer thread (default); False commits in each call.
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
        max_pending_bytes: int = DEFAULT_MAX_PENDING_BYTES,
        write_timeout: float = 10.0,
        background_writes: bool = True,
    ) -> None:
        self.path = path if path is not None else default_state_path()
        writer = schema.open_file(self.path)
        try:
            reader = schema.open_file(self.path) if background_writes else writer
        except BaseException:
            writer.close()
            raise
        super().__init__(
            reader,
            writer,
            background=background_writes,
            ttl=ttl,
            max_bytes=max_bytes,
            cache_bytes=cache_bytes,
            clock=clock,
            touch_interval=touch_interval,
            prune_interval=prune_interval,
            max_pending_bytes=max_pending_bytes,
            write_timeout=write_timeout,
        )


class MemoryStateStore(_SqliteStore):
    """The same store in a private in-memory database: `persist_state = false`, and tests.

    Same SQL and policy as SqliteStateStore; nothing is written to disk; gone when closed.
    *background_writes*: commit batches on a writer thread, like the file store (as
    `open_state_store(persist=False)` does); else each write applies at once in the caller:
    deterministic (tests), but a transaction per write on the event loop. A SQLite without
    shared cache gets the latter either way.
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
        max_pending_bytes: int = DEFAULT_MAX_PENDING_BYTES,
        write_timeout: float = 10.0,
        background_writes: bool = False,
    ) -> None:
        shared = schema.open_shared_memory() if background_writes else None
        if shared is not None:
            writer, reader = shared
        else:
            if background_writes:
                log.warning("state store: SQLite without shared cache; memory writes inline")
            writer = reader = schema.open_memory()
        super().__init__(
            reader,
            writer,
            background=shared is not None,
            ttl=ttl,
            max_bytes=max_bytes,
            cache_bytes=cache_bytes,
            clock=clock,
            touch_interval=touch_interval,
            prune_interval=prune_interval,
            max_pending_bytes=max_pending_bytes,
            write_timeout=write_timeout,
        )
