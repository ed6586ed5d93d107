"""The memory store of `persist_state = false`: a writer thread commits in batches, reads
never wait for its transaction, and nothing reaches the disk."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from store_support import audit, blob
from test_store_writer import wait_until

from cursor_bridge.compose import state_store
from cursor_bridge.config import Settings
from cursor_bridge.store import (
    MemoryStateStore,
    StateStoreError,
    open_state_store,
    write_queue,
    writes,
)


def background_store(**options: Any) -> MemoryStateStore:
    store = MemoryStateStore(background_writes=True, **options)
    assert store._thread is not None and store._reader is not store._writer
    return store


@contextmanager
def applies_recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, set[str]]]]:
    """(thread name, conversations saved) of every batch applied to a database."""
    batches: list[tuple[str, set[str]]] = []
    apply = writes.apply

    def recorded(conn: sqlite3.Connection, ops: list[writes.Op], *args: Any, **kw: Any) -> Any:
        saved = {op.stored.conversation_key for op in ops if isinstance(op, writes.SaveTurn)}
        batches.append((threading.current_thread().name, saved))
        return apply(conn, ops, *args, **kw)

    monkeypatch.setattr(writes, "apply", recorded)
    yield batches


def test_persist_off_opens_the_store_with_a_writer_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_state_store(tmp_path / "unused.db", ttl=60, max_bytes=4096, persist=False) as store:
        assert isinstance(store, MemoryStateStore)
        assert store._thread is not None and store._thread.is_alive()
    monkeypatch.setenv("CURSOR_BRIDGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CURSOR_BRIDGE_PERSIST_STATE", "false")
    with state_store(Settings()) as store:
        assert isinstance(store, MemoryStateStore) and store._thread is not None


def test_writes_are_committed_by_the_writer_thread_not_the_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(write_queue, "LINGER", 60.0)  # the writer gathers until the flush
    with applies_recorded(monkeypatch) as batches:
        with background_store() as store:
            for turn in range(20):
                store.save_turn(f"conv{turn}", b"ckpt", blobs=dict([blob(f"turn {turn}")]))
            store.flush()
            # (the first batch is the prune at open, in the opener's thread)
            assert batches[1:] == [("state-store-writer", {f"conv{turn}" for turn in range(20)})]
        batches.clear()
        with MemoryStateStore() as synchronous:  # the deterministic twin, for contrast
            synchronous.save_turn("conv", b"ckpt")
            assert batches[-1] == (threading.current_thread().name, {"conv"})


def test_reads_see_queued_writes_and_never_wait_for_the_writers_transaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The writer is held inside its transaction (rows written, not committed): the caller
    still writes, and reads answer from the queue and from the database. If a read waited
    for the transaction it would only return once the safety valve ends it."""
    inside, release = threading.Event(), threading.Event()
    apply = writes.apply

    def held(conn: sqlite3.Connection, ops: list[writes.Op], *args: Any, **kw: Any) -> Any:
        applied = apply(conn, ops, *args, **kw)
        if any(
            isinstance(op, writes.SaveTurn) and op.stored.conversation_key == "new" for op in ops
        ):
            inside.set()
            release.wait(30)
        return applied

    old_key, old = blob("committed before", size=3_000)
    new_key, new = blob("in the open transaction")
    late_key, late = blob("queued behind it")
    valve = threading.Timer(20, release.set)
    with background_store(cache_bytes=0) as store:  # no blob cache: gets read the database
        store.save_turn("old", b"ckpt-old", blobs={old_key: old})
        store.flush()
        monkeypatch.setattr(writes, "apply", held)
        store.save_turn("new", b"ckpt-new", blobs={new_key: new})
        valve.start()
        try:
            assert inside.wait(10)
            store.save_turn("late", b"ckpt-late", blobs={late_key: late})  # returns at once
            store._recent.clear()  # so the old checkpoint is read from the database
            misses = store.stats().cache_misses
            assert store.blobs.get(old_key) == old
            assert store.stats().cache_misses == misses + 1  # (it was read from SQLite)
            loaded = store.load_checkpoint("old")
            assert loaded is not None and loaded.checkpoint == b"ckpt-old"
            assert store.blobs.get(new_key) == new
            assert store.blobs.get(late_key) == late
            for key, checkpoint in (("new", b"ckpt-new"), ("late", b"ckpt-late")):
                queued = store.peek_checkpoint(key)
                assert queued is not None and queued.checkpoint == checkpoint
            assert store.stats().pending_writes >= 2
            assert not release.is_set()  # all of it answered while the transaction was open
        finally:
            release.set()
            valve.cancel()
        store.flush()
        assert store.stats().pending_writes == 0
        assert {key: store.blobs.get(key) for key in (new_key, late_key)} == {
            new_key: new,
            late_key: late,
        }
        assert audit(store)["conversations"] == 3


def test_close_commits_what_is_queued_and_stops_the_writer(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(write_queue, "LINGER", 60.0)  # only close() ends the gathering
    with applies_recorded(monkeypatch) as batches:
        store = background_store()
        thread = store._thread
        assert thread is not None
        for turn in range(10):
            store.save_turn(f"conv{turn}", b"ckpt", blobs=dict([blob(f"turn {turn}")]))
        store.close()
        assert not thread.is_alive()
        assert set().union(*(saved for _, saved in batches)) == {f"conv{t}" for t in range(10)}
        assert store._committed == store._submitted
    assert "not committed" not in caplog.text
    store.close()  # idempotent
    with pytest.raises(StateStoreError, match="closed"):
        store.save_turn("after", b"ckpt")
    with pytest.raises(StateStoreError, match="closed"):
        store.blobs.get(blob("turn 0")[0])


def open_files() -> set[str]:
    """What this process's descriptors point at, among regular files (Linux)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            if stat.S_ISREG(os.stat(f"/proc/self/fd/{fd}").st_mode):
                found.add(target)
        except OSError:
            continue  # closed meanwhile (the listing's own descriptor)
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_nothing_is_written_to_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No database, journal or temp file: not in the bridge home, the working directory or
    anywhere else (no regular file held open, not even an unlinked temp file)."""
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("CURSOR_BRIDGE_HOME", str(home))
    monkeypatch.setenv("CURSOR_BRIDGE_PERSIST_STATE", "false")
    monkeypatch.setenv("CURSOR_BRIDGE_STATE_MAX_BYTES", "200000")
    before = open_files()
    with state_store(Settings()) as store:
        assert isinstance(store, MemoryStateStore)
        for turn in range(300):  # well over the cap: eviction, hand-downs, prunes
            blobs = dict(blob(f"turn {turn} part {part}", size=1_500) for part in range(4))
            store.save_turn(
                f"conv{turn}", b"c" * 2_000, blobs=blobs, parent=f"conv{turn - 1}" if turn else None
            )
            if turn % 50 == 0:
                store.prune()
        store.flush()
        assert store.stats().total_bytes <= 200_000
        assert store.stats().evicted_conversations > 0
        assert open_files() == before
        for conn in (store._writer, store._read()):
            assert conn.execute("PRAGMA temp_store").fetchone() == (2,)  # memory
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("memory",)
            assert {row[2] for row in conn.execute("PRAGMA database_list")} == {""}  # no file
    assert not home.exists() or not any(home.rglob("*"))
    assert not any(work.iterdir())


def test_readers_in_threads_while_the_writer_commits() -> None:
    """Threads read committed blobs from the database (no cache) while turns keep coming
    and the writer commits them: every read returns the bytes, none fails or sees a gap."""
    committed = [blob(f"committed {n}", size=500 + n) for n in range(50)]
    stop = threading.Event()
    failures: list[BaseException] = []
    reads = [0] * 3
    with background_store(cache_bytes=0, touch_interval=0) as store:
        view = store.conversation_blobs("base")
        for key, data in committed:
            view.put(key, data)
        store.save_turn("base", b"ckpt-base")
        store.flush()

        def reader(n: int) -> None:
            try:
                while not stop.is_set():
                    for key, data in committed:
                        assert view.get(key) == data
                    loaded = store.load_checkpoint("base")
                    assert loaded is not None and loaded.checkpoint == b"ckpt-base"
                    store.stats()
                    reads[n] += 1
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=reader, args=(n,)) for n in range(len(reads))]
        for thread in threads:
            thread.start()
        try:
            for turn in range(400):
                key, data = blob(f"turn {turn}", size=2_000)
                store.save_turn(f"conv{turn}", b"ckpt", blobs={key: data}, parent="base")
                assert store.blobs.get(key) == data
                if turn % 100 == 99:
                    store.flush()
            wait_until(lambda: all(reads) or bool(failures), "every reader to finish a round")
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        assert failures == []
        assert all(reads)
        counts = audit(store)
        assert counts["conversations"] == 401 and counts["blobs"] == 450


def test_a_sqlite_without_shared_cache_falls_back_to_writing_inline(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from cursor_bridge.store import schema

    monkeypatch.setattr(schema, "open_shared_memory", lambda: None)
    with MemoryStateStore(background_writes=True) as store:
        assert store._thread is None and store._reader is store._writer
        store.save_turn("conv", b"ckpt", blobs=dict([blob("inline")]))
        assert store.stats().pending_writes == 0  # committed in the call
    assert "without shared cache" in caplog.text
