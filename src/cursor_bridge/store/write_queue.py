"""The write queue: writes wait here in call order until one transaction commits a batch.

With a writer thread (the file store) the caller never waits for the disk, a WAL
checkpoint or another process's write lock: it queues and returns, and the thread commits
whatever has queued since its last batch (group commit). The thread lingers `LINGER`
seconds after the first queued write before committing, so a burst of turns costs one
transaction and one wake-up of the thread instead of one each (a waiting `flush()`, or a
queue holding more than `LINGER_BYTES`, or a caller held back by backpressure, ends the
linger at once). While writes keep coming it wakes itself every `LINGER` seconds, so the
caller does not wake it at all (`POLL_IDLE`); once its batches hold `BUSY_OPS` writes or
more it polls every `BUSY_LINGER` seconds instead, since a commit's cost is mostly the
database pages it rewrites (random blob ids spread a batch over most of the b-trees'
leaves), which grow far slower than the batch: 100 turns a commit write about half the
pages per turn that 25 do. The memory store of `persist_state = false` has the same thread;
without one (the synchronous memory store of tests) each write is committed at once in the
caller. `batch()` holds the queue so a group of writes commits together; `flush()` waits
until what was queued before it is committed.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from . import writes
from .known_blobs import BatchBlobs, KnownBlobs
from .types import StateStoreError

log = logging.getLogger(__name__)

# Eviction stops at this fraction of the cap, so that it is rare.
LOW_WATER = 0.9
# How long the writer thread gathers writes before committing them, and how many queued
# bytes end that wait early.
LINGER = 0.02
LINGER_BYTES = 4 * 1024 * 1024
# While writes keep coming, the writer wakes itself every LINGER seconds instead of being
# woken by the first write of each batch: waking a thread from the event loop hands it the
# CPU there and then on a busy machine, mid-request. After this many seconds without a
# write it sleeps until woken again.
POLL_IDLE = 1.0
# A writer whose last batch held at least BUSY_OPS writes is busy: it polls every
# BUSY_LINGER seconds instead of LINGER, so a burst commits in fewer, larger batches
# (benchmarks.cpu, 50 at once: writer CPU per new conversation 0.13-0.15 ms at 0.1 s,
# 0.09-0.13 at 0.2). The price: a crash loses up to that much more (each lost turn costs
# its conversation a fresh Run), and another process sharing the file sees a turn that
# much later. A flush(), backpressure or LINGER_BYTES still end it at once.
BUSY_OPS = 8
BUSY_LINGER = 0.2
# A failing writer (disk full, file damaged) retries after this many seconds, doubling.
_RETRY_FIRST, _RETRY_MAX = 0.5, 30.0


@contextmanager
def sqlite_errors() -> Iterator[None]:
    """Report SQLite failures as StateStoreError (one exception type for callers)."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StateStoreError(f"state database error: {exc}") from exc


class WriteQueue:
    """Queued writes and their committer. Subclasses learn of each commit through
    `_committed_batch` (called with the lock held), to retire what they kept for reads."""

    def __init__(
        self,
        writer: sqlite3.Connection,
        *,
        ttl: float,
        max_bytes: int,
        clock: Callable[[], float],
        touch_interval: float,
        prune_interval: float,
        write_timeout: float,
    ) -> None:
        self.ttl = ttl
        self.max_bytes = max_bytes
        self.touch_interval = touch_interval
        self.prune_interval = prune_interval
        self.write_timeout = write_timeout
        self._writer = writer
        self._clock = clock
        # Blobs the database holds, so turns skip rewriting them (writer side only), and
        # the database's data_version when last seen, to notice other processes' commits.
        self._known_blobs = KnownBlobs()
        self._data_version: int | None = None
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._queue: list[writes.Op] = []
        self._touches = writes.Touches()
        self._submitted = 0
        self._committed = 0
        self._queued_bytes = 0  # of the queue, for LINGER_BYTES
        self._barriers = 0  # flush() calls waiting in the queue: no lingering
        self._room_waiters = 0  # callers held back by backpressure: no lingering either
        self._polling = False  # the writer wakes itself (see POLL_IDLE): no need to wake it
        self._poll_every = LINGER  # how often it does (BUSY_LINGER when busy)
        self._last_busy = 0.0  # time.monotonic() of the writer's last batch
        self._error: StateStoreError | None = None
        self._closing = False
        # Threads inside batch(), and how deep: no batch is taken while any holds one.
        self._holders: dict[int, int] = {}
        self._thread: threading.Thread | None = None
        now = clock()
        self._last_batch = now
        self._last_prune = now - prune_interval  # so the first batch prunes

    # -- public ----------------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Writes made inside the block are committed together, in one transaction, after
        it (for example a fresh Run's seeded blobs, all or none). Reads inside see them."""
        me = threading.get_ident()
        with self._lock:
            self._check_open()
            self._holders[me] = self._holders.get(me, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._holders[me] -= 1
                if not self._holders[me]:
                    del self._holders[me]
                if not self._holders and self._queue:
                    if self._thread is None:
                        self._write_batch()
                    else:
                        self._changed.notify_all()

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every write made before this call (and queued access notes) is
        committed. Raises StateStoreError if the writer is failing and *timeout* (default
        `write_timeout`) passes, or when called inside batch() (it would wait for itself)."""
        with self._lock:
            if threading.get_ident() in self._holders:
                raise StateStoreError("flush() inside batch() would wait for itself")
            seq = self._submit(writes.Barrier(), self._clock())
            self._wait(lambda: self._committed >= seq, timeout)

    # -- for the store ---------------------------------------------------------------------

    def _committed_batch(self, ops: list[writes.Op], applied: writes.Applied) -> None:
        raise NotImplementedError

    def _start_writer(self) -> None:
        self._thread = threading.Thread(
            target=self._run_writer, name="state-store-writer", daemon=True
        )
        self._thread.start()

    def _stop_writer(self) -> int:
        """Stop taking writes, commit what is queued; returns how many writes were lost."""
        with self._lock:
            self._closing = True
            self._changed.notify_all()
        thread = self._thread
        if thread is not None:
            thread.join(self.write_timeout + 5)
        with self._lock:
            if thread is None and (self._queue or self._touches):
                try:
                    self._write_batch()
                except StateStoreError as exc:
                    log.warning("state store: closing without its last writes: %s", exc)
            return self._submitted - self._committed

    def _submit(self, op: writes.Op, now: float, size: int | None = None) -> int:
        """Queue *op* (lock held); returns its sequence number (committed when
        `_committed` reaches it). *size*: `writes.size_of(op)`, when the caller has it."""
        self._check_open()
        idle = not self._queue
        if now - self._last_prune >= self.prune_interval and not isinstance(op, writes.Prune):
            self._queue.append(writes.Prune())
            self._submitted += 1
        self._queue.append(op)
        self._submitted += 1
        self._queued_bytes += writes.size_of(op) if size is None else size
        if isinstance(op, writes.Barrier):
            self._barriers += 1
        if self._holders:
            pass  # committed when the last batch() block ends
        elif self._thread is None:
            self._write_batch()
        elif (idle and not self._polling) or self._barriers or self._queued_bytes >= LINGER_BYTES:
            # The thread is asleep (idle queue, not polling) or must stop lingering;
            # otherwise it is lingering or polling and takes this write with it.
            self._changed.notify_all()
        return self._submitted

    def _after_read(self, now: float) -> None:
        """Reads write nothing; but with no writer thread, a due prune or batch of access
        notes is written here (the thread does both on its own)."""
        if (self._thread is None and not self._holders) and (
            now - self._last_prune >= self.prune_interval
            or (self._touches and now - self._last_batch >= self.touch_interval)
        ):
            self._write_batch()

    def _wait_for_room(self, done: Callable[[], bool]) -> None:
        """Backpressure for a writer that falls behind (never inside the caller's batch)."""
        if self._thread is not None and threading.get_ident() not in self._holders:
            if done():
                return
            self._room_waiters += 1  # the writer must not linger while a caller waits
            self._changed.notify_all()
            try:
                self._wait(done, None)
            finally:
                self._room_waiters -= 1

    def _check_open(self) -> None:
        if self._closing:
            raise StateStoreError("state store is closed")

    # -- committing ------------------------------------------------------------------------

    def _write_batch(self) -> None:
        """Commit everything queued so far in one transaction. Called with the lock held;
        the writer thread releases it around the database work."""
        ops, self._queue = self._queue, []
        touches, self._touches = self._touches, writes.Touches()
        queued_bytes, barriers = self._queued_bytes, self._barriers
        self._queued_bytes = self._barriers = 0
        seq = self._submitted
        now = self._clock()
        prune = now - self._last_prune >= self.prune_interval or any(
            isinstance(op, writes.Prune) for op in ops
        )
        try:
            with self._unlocked_if_writer():
                applied = self._apply(ops, touches, now, prune)
        except BaseException as exc:
            self._queue[:0] = ops
            self._queued_bytes += queued_bytes
            self._barriers += barriers
            self._touches.merge_older(touches)
            if isinstance(exc, StateStoreError):
                self._error = exc
                self._changed.notify_all()
            raise
        self._committed_batch(ops, applied)
        result = applied.prune_result()
        for op in ops:
            if isinstance(op, writes.Prune):
                op.result = result
        self._committed = seq
        self._error = None
        self._last_batch = now
        if prune:
            self._last_prune = now
        self._changed.notify_all()

    def _apply(
        self, ops: list[writes.Op], touches: writes.Touches, now: float, prune: bool
    ) -> writes.Applied:
        conn = self._writer
        blobs = BatchBlobs(self._known_blobs)
        with sqlite_errors():
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._check_data_version(conn)
                applied = writes.apply(
                    conn,
                    ops,
                    touches,
                    blobs,
                    expire_before=now - self.ttl if prune else None,
                    max_bytes=self.max_bytes,
                    low_water=int(self.max_bytes * LOW_WATER),
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        blobs.commit()
        return applied

    def _check_data_version(self, conn: sqlite3.Connection) -> None:
        """Forget which blobs are stored if another connection (another process on the
        file) committed since our last batch: it may have removed some. Inside the write
        transaction, so nobody else can commit until ours is done."""
        (version,) = conn.execute("PRAGMA data_version").fetchone()
        if version != self._data_version:
            self._known_blobs.forget_all()
            self._data_version = version

    def _run_writer(self) -> None:
        """The writer thread: commit batches until closed, retrying with backoff on errors."""
        retry = 0.0
        with self._lock:
            while True:
                ticked = False  # woken by its own poll: what queued has waited enough
                while not self._due() and not self._closing:
                    if self._polling and time.monotonic() - self._last_busy >= POLL_IDLE:
                        self._polling = False  # quiet: from now on a write wakes it
                    self._changed.wait(self._poll_every if self._polling else self._next_wake())
                    ticked = self._polling
                if not ticked:  # woken, or writes queued while it committed: gather more
                    self._linger(self._poll_every if self._polling else LINGER)
                    if self._holders and not self._closing:
                        continue  # a batch() block began meanwhile: its end wakes the thread
                if not self._queue and not self._touches and self._closing:
                    return
                wrote = len(self._queue)  # not only access notes or a due prune
                try:
                    self._write_batch()
                    retry = 0.0
                    if wrote:
                        self._polling, self._last_busy = True, time.monotonic()
                        self._poll_every = BUSY_LINGER if wrote >= BUSY_OPS else LINGER
                except StateStoreError as exc:
                    if self._closing:
                        return  # close() reports what was lost
                    retry = min(max(retry * 2, _RETRY_FIRST), _RETRY_MAX)
                    log.warning("state store: write failed, retrying in %.1fs: %s", retry, exc)
                    self._changed.wait(retry)
                except BaseException:
                    log.exception("state store: writer thread stopped")
                    self._error = StateStoreError("state store writer stopped unexpectedly")
                    self._changed.notify_all()
                    return

    def _linger(self, seconds: float) -> None:
        """Let writes gather for up to *seconds* after the first (lock held)."""
        deadline = time.monotonic() + seconds
        while (
            self._queue
            and not (
                self._closing
                or self._barriers
                or self._room_waiters
                or self._queued_bytes >= LINGER_BYTES
            )
            and (left := deadline - time.monotonic()) > 0
        ):
            self._changed.wait(left)

    def _due(self) -> bool:
        if self._holders and not self._closing:
            return False
        now = self._clock()
        return bool(
            self._queue
            or (self._touches and now - self._last_batch >= self.touch_interval)
            or now - self._last_prune >= self.prune_interval
        )

    def _next_wake(self) -> float:
        return max(min(self.touch_interval, self.prune_interval), 0.05)

    def _wait(self, done: Callable[[], bool], timeout: float | None) -> None:
        """Wait (lock held) for *done*; raise StateStoreError after *timeout* if not."""
        deadline = time.monotonic() + (self.write_timeout if timeout is None else timeout)
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                reason = f": {self._error}" if self._error else ""
                raise StateStoreError(f"state store writes are not being committed{reason}")
            self._changed.wait(left)

    @contextmanager
    def _unlocked_if_writer(self) -> Iterator[None]:
        if self._thread is None or threading.current_thread() is not self._thread:
            yield
            return
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()
