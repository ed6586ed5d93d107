"""The file store's writer thread: callers never wait on the disk or on another process."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from store_support import blob

from cursor_bridge.store import SqliteStateStore, StateStoreError, write_queue


@contextmanager
def another_process_writing(path: Path) -> Iterator[None]:
    """Hold SQLite's write lock on *path*, as another bridge process mid-transaction would."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def test_writes_return_and_are_readable_while_another_process_holds_the_lock(
    state_path: Path,
) -> None:
    key, data = blob("queued")
    with SqliteStateStore(state_path) as store, SqliteStateStore(state_path) as other:
        with another_process_writing(state_path):
            store.conversation_blobs("conv").put(key, data)
            store.save_checkpoint("conv", b"ckpt")
            assert store.blobs.get(key) == data
            stored = store.load_checkpoint("conv")
            assert stored is not None and stored.checkpoint == b"ckpt"
            assert store.stats().pending_writes >= 2
            assert other.blobs.get(key) is None  # not committed yet
            with pytest.raises(StateStoreError, match="not being committed"):
                store.flush(timeout=0.2)
        store.flush()
        assert store.stats().pending_writes == 0
        assert other.blobs.get(key) == data
        assert other.load_checkpoint("conv") is not None


def test_a_writer_that_cannot_keep_up_pushes_back_with_a_clear_error(state_path: Path) -> None:
    with SqliteStateStore(state_path, max_pending_bytes=1_000, write_timeout=0.3) as store:
        with another_process_writing(state_path):
            store.blobs.put(*blob("one", size=800))
            store.blobs.put(*blob("two", size=800))  # the queue may exceed the cap once
            with pytest.raises(StateStoreError, match="not being committed"):
                store.blobs.put(*blob("three", size=800))
        store.blobs.put(*blob("three", size=800))  # drained: accepted again
        store.flush()
        assert store.stats().blob_count == 3


def test_a_batch_commits_as_one_transaction_after_the_block(state_path: Path) -> None:
    keys = [blob(f"seed {i}") for i in range(5)]
    with SqliteStateStore(state_path) as store, SqliteStateStore(state_path) as other:
        with store.batch():
            for key, data in keys:
                store.conversation_blobs("conv").put(key, data)
            store.save_checkpoint("conv", b"ckpt")
            assert store.blobs.get(keys[0][0]) == keys[0][1]  # visible here at once
            with pytest.raises(StateStoreError, match="inside batch"):
                store.flush()
            assert other.load_checkpoint("conv") is None
        store.flush()
        assert other.load_checkpoint("conv") is not None
        assert all(other.blobs.get(key) == data for key, data in keys)


def test_close_commits_what_is_queued(state_path: Path) -> None:
    keys = [blob(f"late {i}", size=5_000) for i in range(50)]
    store = SqliteStateStore(state_path)
    for key, data in keys:
        store.conversation_blobs("conv").put(key, data)
    store.save_checkpoint("conv", b"last")
    store.close()
    with SqliteStateStore(state_path) as reopened:
        stored = reopened.load_checkpoint("conv")
        assert stored is not None and stored.checkpoint == b"last"
        assert all(reopened.blobs.get(key) == data for key, data in keys)


def test_a_crash_never_leaves_a_checkpoint_without_the_blobs_put_before_it(
    state_path: Path,
) -> None:
    # The child saves, after each blob, a checkpoint naming how many blobs precede it, and
    # dies without closing (os._exit) at an arbitrary point of its writer's progress.
    script = textwrap.dedent(
        f"""
        import hashlib, os
        from pathlib import Path
        from cursor_bridge.store import SqliteStateStore
        store = SqliteStateStore(Path({str(state_path)!r}))
        view = store.conversation_blobs("conv")
        for i in range(300):
            data = b"blob %d " % i * 100
            view.put(hashlib.sha256(data).digest(), data)
            store.save_checkpoint("conv", b"%d" % (i + 1))
            if i == 100:
                store.flush()  # at least this much is committed
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)

    with SqliteStateStore(state_path) as store:
        stored = store.load_checkpoint("conv")
        assert stored is not None
        count = int(stored.checkpoint)
        assert 101 <= count <= 300
        for i in range(count):
            assert store.blobs.get(blob(f"blob {i} " * 100)[0]) is not None, i


def test_a_failing_writer_reports_why_and_recovers(
    state_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from cursor_bridge.store import schema

    monkeypatch.setattr(schema, "BUSY_TIMEOUT", 0.05)  # give up on the lock quickly
    key, data = blob("retried")
    with SqliteStateStore(state_path) as store:
        with another_process_writing(state_path):
            store.blobs.put(key, data)
            with pytest.raises(StateStoreError, match="locked"):
                store.flush(timeout=0.5)  # the writer tried, failed, and said why
            assert store.blobs.get(key) == data  # still served from the queue
        store.flush()  # the retry commits it
        assert store.stats().blob_count == 1
    assert "retrying" in caplog.text


def test_a_burst_of_turns_is_committed_in_one_transaction(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer lingers after the first queued write, so a burst shares a transaction;
    a flush() ends the linger at once (here the linger would last a minute)."""
    monkeypatch.setattr(write_queue, "LINGER", 60.0)
    with SqliteStateStore(state_path) as store, SqliteStateStore(state_path) as other:
        transactions = []
        apply = store._apply

        def counted(*args: Any, **kwargs: Any) -> Any:
            transactions.append(len(args[0]))
            return apply(*args, **kwargs)

        monkeypatch.setattr(store, "_apply", counted)
        for turn in range(20):
            key, data = blob(f"turn {turn}")
            store.save_turn(f"conv{turn}", b"ckpt", blobs={key: data})
            time.sleep(0.01)  # turns ending apart: without the linger, each would commit
        store.flush()
        assert len(transactions) == 1 and transactions[0] >= 20
        assert all(other.load_checkpoint(f"conv{turn}") is not None for turn in range(20))


def test_a_big_queue_ends_the_linger(state_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(write_queue, "LINGER", 60.0)
    monkeypatch.setattr(write_queue, "LINGER_BYTES", 1000)
    with SqliteStateStore(state_path) as store, SqliteStateStore(state_path) as other:
        key, data = blob("big", size=2000)
        store.blobs.put(key, data)
        deadline = time.monotonic() + 10
        while other.blobs.get(key) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert other.blobs.get(key) == data


def test_backpressure_ends_the_linger(state_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A caller held back by a full queue is never kept waiting for the linger to end."""
    monkeypatch.setattr(write_queue, "LINGER", 60.0)
    with SqliteStateStore(state_path, max_pending_bytes=1_000, write_timeout=10) as store:
        store.blobs.put(*blob("one", size=800))
        store.blobs.put(*blob("two", size=800))  # over the cap: the next put must wait
        store.blobs.put(*blob("three", size=800))  # returns once the writer commits
        store.flush()
        assert store.blobs.get(blob("three", size=800)[0]) is not None


def wait_until(done: Any, what: str) -> None:
    deadline = time.monotonic() + 10
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def test_a_busy_writer_wakes_itself_instead_of_being_woken(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Turns ending one after another wake the writer once, not once per batch (a wake-up
    from the event loop hands the writer the CPU mid-request); each is still committed."""
    with SqliteStateStore(state_path) as store, SqliteStateStore(state_path) as other:
        wakes = []
        notify_all = store._changed.notify_all

        def counted() -> None:
            if threading.current_thread() is threading.main_thread():
                wakes.append(1)
            notify_all()

        monkeypatch.setattr(store._changed, "notify_all", counted)
        for turn in range(30):
            key, data = blob(f"turn {turn}")
            store.save_turn(f"conv{turn}", b"ckpt", blobs={key: data})
            time.sleep(0.01)  # ~15 batches of LINGER (0.02 s) each
        wait_until(lambda: other.load_checkpoint("conv29") is not None, "the last turn")
        assert len(wakes) <= 3  # was one per batch: about 15
        assert all(other.load_checkpoint(f"conv{turn}") is not None for turn in range(30))


def test_a_writer_gone_quiet_is_woken_by_the_next_write(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(write_queue, "POLL_IDLE", 0.05)
    with SqliteStateStore(state_path) as store, SqliteStateStore(state_path) as other:
        store.save_turn("conv1", b"ckpt")
        wait_until(lambda: other.load_checkpoint("conv1") is not None, "the first turn")
        wait_until(lambda: not store._polling, "the writer to stop polling")
        store.save_turn("conv2", b"ckpt")  # no flush: the write itself must wake it
        wait_until(lambda: other.load_checkpoint("conv2") is not None, "the second turn")


def test_a_busy_writer_gathers_larger_batches_and_a_quiet_one_goes_back(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch of BUSY_OPS writes or more makes the writer gather for BUSY_LINGER instead
    of LINGER (fewer, larger commits); a smaller one sets it back. A flush() still ends the
    gathering at once (here it would last a minute)."""
    monkeypatch.setattr(write_queue, "BUSY_LINGER", 60.0)
    with SqliteStateStore(state_path) as store, SqliteStateStore(state_path) as other:
        assert store._poll_every == write_queue.LINGER
        with store.batch():
            for turn in range(write_queue.BUSY_OPS):
                store.save_turn(f"conv{turn}", b"ckpt", blobs=dict([blob(f"turn {turn}")]))
        wait_until(lambda: other.load_checkpoint("conv0") is not None, "the busy batch")
        wait_until(lambda: store._poll_every == 60.0, "the writer to call itself busy")
        store.save_turn("late", b"ckpt")
        store.flush(timeout=5)  # not held for BUSY_LINGER
        assert other.load_checkpoint("late") is not None
        assert store._poll_every == write_queue.LINGER  # that batch held one write


def test_writes_queued_while_a_busy_batch_commits_wait_for_the_busy_linger(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes that queue while a batch commits are gathered for the linger before the next
    commit, BUSY_LINGER once busy (they used to go at once: under load a slow commit was
    followed by batches of one or two writes)."""
    monkeypatch.setattr(write_queue, "BUSY_LINGER", 60.0)
    with SqliteStateStore(state_path) as store:
        lingered: list[float] = []
        linger, apply = store._linger, store._apply

        def counted_linger(seconds: float) -> None:
            lingered.append(seconds)
            linger(seconds)

        def apply_and_queue(ops: list[Any], *args: Any) -> Any:
            if len(ops) >= write_queue.BUSY_OPS:
                store.save_turn("during", b"ckpt")  # arrives while the batch commits
            return apply(ops, *args)

        monkeypatch.setattr(store, "_linger", counted_linger)
        monkeypatch.setattr(store, "_apply", apply_and_queue)
        with store.batch():
            for turn in range(write_queue.BUSY_OPS):
                store.save_turn(f"conv{turn}", b"ckpt")
        wait_until(lambda: lingered[-1:] == [60.0], "the writer to gather for BUSY_LINGER")
        store.flush(timeout=5)  # ends it
        assert store.load_checkpoint("during") is not None


def test_a_batch_block_begun_while_the_writer_lingers_is_not_split(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The linger can end while a batch() block is open: its writes still commit together,
    after it (the longer busy linger made this window wider)."""
    monkeypatch.setattr(write_queue, "LINGER", 0.5)
    with SqliteStateStore(state_path) as store:
        transactions: list[set[str]] = []
        apply = store._apply

        def recorded(ops: list[Any], *args: Any) -> Any:
            transactions.append({op.conversation for op in ops if hasattr(op, "stored")})
            return apply(ops, *args)

        monkeypatch.setattr(store, "_apply", recorded)
        store.save_turn("before", b"ckpt")  # wakes the writer: it lingers
        time.sleep(0.1)  # (the writer is lingering now)
        with store.batch():
            store.save_turn("first", b"ckpt")
            time.sleep(1.0)  # past the linger
            store.save_turn("second", b"ckpt")
        store.flush()
        together = [names for names in transactions if names & {"first", "second"}]
        assert together == [together[0]] and {"first", "second"} <= together[0]
