"""The state store on Redis: what several bridge processes must share.

Same interface and guarantees as the SQLite store (store/sqlite.py): calls are synchronous
and made on the event loop, because the RunMachine answers the backend's blob get/set
inline. So reads use the official client's synchronous `redis.Redis` (a local Redis
answers in well under a millisecond, like a SQLite read), and writes never wait: they are
queued in call order, visible to this process's reads at once, and a writer thread sends
each batch in one pipeline. A checkpoint therefore never lands without the blobs put before
it. (The pool's cooldowns and the refresh locks are async and use `redis.asyncio`: see
store/redis_shared.py.)

Layout (every key under `prefix`, default `cursor-bridge:`):
- `blob:<hex id>`: the bytes. Every read refreshes its TTL (GETEX), so a blob lives while
  a conversation uses it.
- `ckpt:<conversation key>`: `<meta JSON>\\n<saved_at>\\n<checkpoint bytes>`, same TTL.
Expiry is Redis's own (TTL); the size cap is Redis's `maxmemory` with an LRU policy (set
`maxmemory-policy allkeys-lru` on the server): an evicted blob later surfaces as the
backend's `Blob not found`, and the engine then seeds a fresh Run, as with SQLite.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from ..protocol.blobs import BlobStore
from .cache import DEFAULT_CACHE_BYTES, BlobCache, RecentCheckpoints
from .types import (
    DEFAULT_TTL,
    ClosedOnExit,
    PruneResult,
    StateStoreError,
    StoredCheckpoint,
    StoreStats,
)

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "cursor-bridge:"
_RETRY_FIRST, _RETRY_MAX = 0.2, 10.0


@dataclass(frozen=True, slots=True)
class _Write:
    key: str
    value: bytes | None  # None: delete


class _BlobView:
    __slots__ = ("_store",)

    def __init__(self, store: RedisStateStore) -> None:
        self._store = store

    def get(self, key: bytes) -> bytes | None:
        return self._store._get_blob(key)

    def put(self, key: bytes, data: bytes) -> None:
        self._store._put_blob(key, data)


def connect(url: str) -> redis.Redis:
    """A synchronous client for *url* that fails fast when Redis is away."""
    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10)


class RedisStateStore(ClosedOnExit):
    """Checkpoints and blobs in Redis (see module doc). `ttl`: seconds unused state lives."""

    def __init__(
        self,
        url: str,
        *,
        ttl: float = DEFAULT_TTL,
        prefix: str = DEFAULT_PREFIX,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        recent_checkpoint_bytes: int = DEFAULT_CACHE_BYTES,
        client: redis.Redis | None = None,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.url = url
        self.ttl = ttl
        self.prefix = prefix
        self._client = client or connect(url)
        try:
            self._client.ping()
        except redis.RedisError as exc:
            raise StateStoreError(f"cannot reach Redis at {_safe(url)}: {exc}") from exc
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._queue: deque[_Write] = deque()
        self._pending: dict[str, bytes | None] = {}  # queued values reads must see
        self._submitted = 0
        self._committed = 0
        self._closing = False
        self._cache = BlobCache(cache_bytes)
        self._recent = RecentCheckpoints(recent_checkpoint_bytes)  # saved here lately
        self.blobs: BlobStore = _BlobView(self)
        self._thread = threading.Thread(target=self._write_loop, name="redis-writer", daemon=True)
        self._thread.start()

    # -- StateStore ------------------------------------------------------------------------

    def conversation_blobs(self, conversation_key: str) -> BlobStore:
        """Blobs are shared by content id; Redis expires them by their own last use."""
        return self.blobs

    def save_checkpoint(
        self, conversation_key: str, checkpoint: bytes, meta: Mapping[str, str] | None = None
    ) -> None:
        self._submit(self._checkpoint_write(conversation_key, checkpoint, meta, time.time()))

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
        """A finished turn: the blobs it put, then its checkpoint, in that order (so the
        checkpoint never lands without them). The blobs it only read (*reachable*) and the
        parent's live on by their own TTL, refreshed on every read; Redis needs no links."""
        blobs = blobs or {}
        now = time.time()
        queued = [
            _Write(self._key("blob:", blob_id.hex()), data) for blob_id, data in blobs.items()
        ]
        queued.append(self._checkpoint_write(conversation_key, checkpoint, meta, now))
        with self._lock:  # one wake-up of the writer for the whole turn
            for blob_id, data in blobs.items():
                self._cache.add(blob_id, data)
            self._enqueue(*queued)
            self._recent.add(StoredCheckpoint(conversation_key, checkpoint, dict(meta or {}), now))

    def peek_checkpoint(self, conversation_key: str) -> StoredCheckpoint | None:
        """A checkpoint this process saved lately, from memory (None: not in memory, which
        is not "absent"; then load_checkpoint, off the event loop, asks Redis)."""
        with self._lock:
            self._check_open()
            if self._pending.get(self._key("ckpt:", conversation_key), b"") is None:
                return None  # dropped
            return self._recent.get(conversation_key)

    def load_checkpoint(self, conversation_key: str) -> StoredCheckpoint | None:
        key = self._key("ckpt:", conversation_key)
        with self._lock:
            self._check_open()
            pending = self._pending.get(key, b"")
        if pending == b"":
            raw = self._call(lambda: self._client.getex(key, ex=int(self.ttl)))
        else:
            raw = pending
        if not raw:
            return None
        try:
            header, saved_at, checkpoint = bytes(raw).split(b"\n", 2)
            meta = json.loads(header)
            return StoredCheckpoint(conversation_key, checkpoint, meta, float(saved_at))
        except ValueError:
            log.warning("ignoring an unreadable checkpoint in Redis (%s)", conversation_key)
            return None

    def drop_conversation(self, conversation_key: str) -> None:
        with self._lock:
            self._recent.discard(conversation_key)
        self._submit(_Write(self._key("ckpt:", conversation_key), None))

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Writes are already sent in call order, in pipelines: nothing more to group."""
        yield

    def flush(self, timeout: float | None = None) -> None:
        """Wait until what was queued before this call is in Redis."""
        with self._lock:
            target = self._submitted
            if not self._changed.wait_for(lambda: self._committed >= target, timeout):
                raise StateStoreError("Redis writes did not complete in time")

    def prune(self) -> PruneResult:
        """Redis expires and evicts by itself (TTL, maxmemory policy)."""
        return PruneResult()

    def stats(self) -> StoreStats:
        info: Any = self._call(lambda: self._client.info("memory"))
        used = int(info.get("used_memory", 0))
        limit = int(info.get("maxmemory", 0))
        with self._lock:
            pending = self._submitted - self._committed
            pending_bytes = sum(len(v or b"") for v in self._pending.values())
        return StoreStats(
            blob_count=0,
            blob_bytes=used,
            conversations=0,
            checkpoints=0,
            checkpoint_bytes=0,
            max_bytes=limit,
            pending_writes=pending,
            pending_bytes=pending_bytes,
            cache_hits=self._cache.hits,
            cache_misses=self._cache.misses,
            cache_bytes=self._cache.bytes,
            expired_conversations=0,
            expired_blobs=0,
            evicted_conversations=0,
            evicted_blobs=0,
        )

    def close(self) -> None:
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._changed.notify_all()
        self._thread.join(15)
        with self._lock:
            lost = self._submitted - self._committed
        if lost:
            log.warning("state store: %d Redis writes were not sent before close", lost)
        self._client.close()

    # -- blobs -----------------------------------------------------------------------------

    def _get_blob(self, blob_id: bytes) -> bytes | None:
        key = self._key("blob:", blob_id.hex())
        with self._lock:
            self._check_open()
            if key in self._pending:
                return self._pending[key]
            cached = self._cache.get(blob_id)
        if cached is not None:
            return cached
        data = self._call(lambda: self._client.getex(key, ex=int(self.ttl)))
        if data is None:
            return None
        data = bytes(data)
        with self._lock:
            self._cache.add(blob_id, data)
        return data

    def _put_blob(self, blob_id: bytes, data: bytes) -> None:
        with self._lock:
            self._cache.add(blob_id, data)
            self._enqueue(_Write(self._key("blob:", blob_id.hex()), data))

    # -- the writer ------------------------------------------------------------------------

    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}{kind}{name}"

    def _check_open(self) -> None:
        if self._closing:
            raise StateStoreError("state store is closed")

    def _checkpoint_write(
        self, conversation_key: str, checkpoint: bytes, meta: Mapping[str, str] | None, at: float
    ) -> _Write:
        header = json.dumps(dict(meta or {}), sort_keys=True).encode()
        value = header + b"\n" + repr(at).encode() + b"\n" + checkpoint
        return _Write(self._key("ckpt:", conversation_key), value)

    def _submit(self, *queued: _Write) -> None:
        with self._lock:
            self._enqueue(*queued)

    def _enqueue(self, *queued: _Write) -> None:
        """Queue writes in order, with one wake-up of the writer (lock held)."""
        self._check_open()
        for write in queued:
            self._queue.append(write)
            self._pending[write.key] = write.value
        self._submitted += len(queued)
        self._changed.notify_all()

    def _write_loop(self) -> None:
        delay = _RETRY_FIRST
        while True:
            with self._lock:
                self._changed.wait_for(lambda: bool(self._queue) or self._closing)
                if not self._queue:
                    return
                batch = list(self._queue)
            try:
                pipe = self._client.pipeline(transaction=False)
                for write in batch:
                    if write.value is None:
                        pipe.delete(write.key)
                    else:
                        pipe.set(write.key, write.value, ex=int(self.ttl))
                pipe.execute()
            except redis.RedisError as exc:
                if self._closing:
                    return
                log.warning("Redis writes failed (%s); retrying in %.1f s", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX)
                continue
            delay = _RETRY_FIRST
            with self._lock:
                for write in batch:
                    self._queue.popleft()
                    if self._pending.get(write.key, b"") is write.value:
                        del self._pending[write.key]
                self._committed += len(batch)
                self._changed.notify_all()

    def _call(self, call: Any) -> Any:
        try:
            return call()
        except redis.RedisError as exc:
            raise StateStoreError(f"Redis error: {exc}") from exc


def _safe(url: str) -> str:
    """The URL without a password (it may carry one)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
