"""The file outlives the process, and several processes share it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from store_support import FakeClock, audit, blob

from cursor_bridge.store import SqliteStateStore


def test_state_survives_a_restart(state_path: Path, clock: FakeClock) -> None:
    key, data = blob("turn 1", size=10_000)
    with SqliteStateStore(state_path, clock=clock) as store:
        store.conversation_blobs("conv").put(key, data)
        store.save_checkpoint("conv", b"ckpt", {"model": "m"})
        clock.advance(60)
        assert store.conversation_blobs("conv").get(key) == data  # queued touch

    with SqliteStateStore(state_path, clock=clock) as reopened:
        stored = reopened.load_checkpoint("conv")
        assert stored is not None
        assert (stored.checkpoint, dict(stored.meta)) == (b"ckpt", {"model": "m"})
        assert reopened.conversation_blobs("conv").get(key) == data
        # The touch queued before close was written at close.
        (accessed,) = (
            reopened._read().execute("SELECT accessed FROM blobs WHERE id = ?", (key,))
        ).fetchone()
        assert accessed == clock.now
        audit(reopened)


def test_two_stores_on_one_file_see_each_others_writes(state_path: Path) -> None:
    key, data = blob("from the first")
    with SqliteStateStore(state_path) as first, SqliteStateStore(state_path) as second:
        first.conversation_blobs("conv").put(key, data)
        first.flush()  # committed: now every process sees it
        assert second.conversation_blobs("conv").get(key) == data
        second.save_checkpoint("conv", b"from the second")
        second.flush()
        stored = first.load_checkpoint("conv")
        assert stored is not None and stored.checkpoint == b"from the second"

        first.drop_conversation("conv")
        first.flush()
        assert second.load_checkpoint("conv") is None
        assert second.stats().blob_count == 0  # counters are in the file, shared
        audit(first)
        audit(second)


def test_another_process_writes_while_this_one_holds_the_file(state_path: Path) -> None:
    key, data = blob("written by the child")
    with SqliteStateStore(state_path) as store:
        store.save_checkpoint("parent", b"parent's")
        store.flush()
        script = textwrap.dedent(
            f"""
            from pathlib import Path
            from cursor_bridge.store import SqliteStateStore
            with SqliteStateStore(Path({str(state_path)!r})) as store:
                store.conversation_blobs("child").put({key!r}, {data!r})
                store.save_checkpoint("child", b"child's", {{"pid": "x"}})
                loaded = store.load_checkpoint("parent")
                assert loaded is not None and loaded.checkpoint == b"parent's"
            """
        )
        subprocess.run([sys.executable, "-c", script], check=True, timeout=60)

        stored = store.load_checkpoint("child")
        assert stored is not None and stored.checkpoint == b"child's"
        assert store.conversation_blobs("child").get(key) == data
        store.flush()
        assert store.stats().conversations == 2
        audit(store)
