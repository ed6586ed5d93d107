"""A Run whose turn ended is let close by itself (LiveRun.finish): read to its end in the
finishing task (no reader task of its own), its last checkpoint returned, cancelled after
the grace; and Checkpoints.keep files the checkpoint at once and again if a later one came."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from cursor_bridge.engine.checkpoints import Checkpoints
from cursor_bridge.engine.live_run import LiveRun
from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol.errors import ConnectError
from cursor_bridge.store import MemoryStateStore, SqliteStateStore


class _Machine:
    def __init__(self) -> None:
        self.last_checkpoint: bytes | None = b"at turn end"
        self.merge_deltas = True
        self.used_tokens = self.max_tokens = 0


class _Upstream:
    """What LiveRun uses of an UpstreamRun: the machine, `batches()` and `aclose()`."""

    def __init__(self, *, later: bytes | None = None, hang: bool = False, fail: bool = False):
        self.machine = _Machine()
        self.later, self.hang, self.fail = later, hang, fail
        self.closed = False
        self.generator_closed = False
        self.finished = False  # UpstreamRun's flag: the Run's end was read

    async def batches(self) -> AsyncGenerator[list[ev.Event], None]:
        try:
            yield [ev.TurnEnded(ev.Usage())]
            if self.hang:
                await asyncio.get_running_loop().create_future()  # a backend gone quiet
            if self.fail:
                raise ConnectError("unavailable", "connection to the backend lost")
            if self.later is not None:
                self.machine.last_checkpoint = self.later
                yield [ev.Checkpoint(self.later, 0, 0)]
        finally:
            self.generator_closed = True

    def close_now(self) -> bool:
        if not self.finished:
            return False
        self.closed = True
        return True

    async def aclose(self) -> None:
        self.closed = True


def _run(upstream: _Upstream) -> LiveRun:
    stand_in: Any = upstream  # for an UpstreamRun
    return LiveRun(stand_in, "conv-1")


async def test_finish_reads_the_rest_in_place_and_returns_the_last_checkpoint() -> None:
    upstream = _Upstream(later=b"after turn end")
    run = _run(upstream)
    assert await run.next_batch() == [ev.TurnEnded(ev.Usage())]
    assert await run.finish() == b"after turn end"
    assert run._task is None  # no reader task was started for the frames left
    assert upstream.closed and upstream.generator_closed and not run.alive


async def test_finish_of_a_run_whose_end_was_read_needs_no_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The usual case: the Run's end came with its turn's end, so what is left of it is
    read without arming a deadline (and still read: the last checkpoint is returned)."""
    upstream = _Upstream(later=b"after turn end")
    run = _run(upstream)
    assert await run.next_batch() == [ev.TurnEnded(ev.Usage())]
    upstream.finished = True

    def no_deadline(delay: float | None) -> None:
        raise AssertionError("a deadline was armed")

    monkeypatch.setattr(asyncio, "timeout", no_deadline)
    assert await run.finish() == b"after turn end"
    assert upstream.closed and upstream.generator_closed and not run.alive


async def test_finish_cancels_a_run_that_does_not_end_within_the_grace() -> None:
    upstream = _Upstream(hang=True)
    run = _run(upstream)
    await run.next_batch()
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await asyncio.wait_for(run.finish(grace=0.05), 5) == b"at turn end"
    assert loop.time() - started < 4
    assert upstream.generator_closed and upstream.closed  # the Run was cancelled upstream


async def test_finish_of_a_run_that_fails_after_its_turn_still_returns_its_checkpoint() -> None:
    upstream = _Upstream(fail=True)
    run = _run(upstream)
    await run.next_batch()
    assert await run.finish() == b"at turn end"
    assert upstream.closed


async def test_finish_of_a_held_open_run_waits_for_its_reader_task() -> None:
    upstream = _Upstream(later=b"after turn end")
    run = _run(upstream)
    run.hold_open()
    assert await run.next_batch(within=5) == [ev.TurnEnded(ev.Usage())]
    assert await run.finish() == b"after turn end"
    assert upstream.closed


async def test_a_finishing_task_cancelled_from_outside_still_closes_the_run() -> None:
    upstream = _Upstream(hang=True)
    run = _run(upstream)
    await run.next_batch()
    task = asyncio.create_task(run.finish())
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait_for(task, 5)
    assert upstream.generator_closed and upstream.closed


async def test_keep_files_the_checkpoint_at_once_and_the_later_one_when_it_comes() -> None:
    store = MemoryStateStore()
    checkpoints = Checkpoints(store)
    run = _run(_Upstream(later=b"after turn end"))
    await run.next_batch()
    checkpoints.keep(run, "h1", "model")
    stored = store.peek_checkpoint("fp:h1")  # findable before the Run closed
    assert stored is not None and stored.checkpoint == b"at turn end"
    await checkpoints.aclose()
    stored = store.load_checkpoint("fp:h1")
    assert stored is not None and stored.checkpoint == b"after turn end"
    assert stored.meta == {"conversation_id": "conv-1", "model": "model"}
    store.close()


async def test_keep_leaves_the_first_checkpoint_when_the_run_fails_or_hangs_after_its_turn() -> (
    None
):
    store = MemoryStateStore()
    checkpoints = Checkpoints(store)
    failing, hanging = _run(_Upstream(fail=True)), _run(_Upstream(hang=True))
    await failing.next_batch()
    checkpoints.keep(failing, "h1", "model")
    await checkpoints.aclose()
    await hanging.next_batch()
    checkpoints.keep(hanging, "h2", "model")
    (task,) = checkpoints._closing
    await asyncio.sleep(0)
    task.cancel()  # what the grace would do, without waiting 10 s
    await checkpoints.aclose()
    assert not checkpoints._closing and not hanging.alive
    for key in ("fp:h1", "fp:h2"):
        stored = store.load_checkpoint(key)
        assert stored is not None and stored.checkpoint == b"at turn end"
    store.close()


async def test_keep_closes_a_run_whose_end_was_read_at_once_without_a_task() -> None:
    """The usual turn end: the Run's end came with it, so it is closed in `keep` itself
    (its generator too, which would otherwise cost the loop's finalizer a task)."""
    store = MemoryStateStore()
    checkpoints = Checkpoints(store)
    upstream = _Upstream(later=b"never read")
    run = _run(upstream)
    await run.next_batch()
    upstream.finished = True
    checkpoints.keep(run, "h1", "model", "acct")
    assert not checkpoints._closing
    assert upstream.closed and upstream.generator_closed and not run.alive
    stored = store.peek_checkpoint("fp:h1")
    assert stored is not None and stored.checkpoint == b"at turn end"
    assert stored.meta == {"conversation_id": "conv-1", "model": "model", "account": "acct"}
    store.close()


async def test_finish_now_refuses_a_run_that_may_still_send_and_does_nothing() -> None:
    upstream = _Upstream(later=b"after turn end")
    run = _run(upstream)
    await run.next_batch()
    assert not run.finish_now()  # its end is not read yet: `finish` must wait for it
    assert run.alive and not upstream.closed and not upstream.generator_closed
    assert await run.finish() == b"after turn end"


async def test_finish_now_refuses_a_run_read_by_its_own_task() -> None:
    upstream = _Upstream(later=b"after turn end")
    run = _run(upstream)
    run.hold_open()
    assert await run.next_batch(within=5) == [ev.TurnEnded(ev.Usage())]
    upstream.finished = True
    assert not run.finish_now()
    assert await run.finish() == b"after turn end"


async def test_a_reader_that_waits_while_closing_is_closed_and_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """_close_at_once never fails a turn that ended: should the generator's cleanup ever
    wait (close_now's conditions say it cannot), it is closed and a warning logged."""
    from cursor_bridge.engine.live_run import _close_at_once

    cleaned: list[str] = []

    async def waits_in_cleanup() -> AsyncGenerator[list[ev.Event], None]:
        try:
            yield []
        finally:
            cleaned.append("started")
            await asyncio.sleep(0)
            cleaned.append("finished")  # never reached: closed while waiting

    generator = waits_in_cleanup()
    await generator.__anext__()
    with caplog.at_level("WARNING", logger="cursor_bridge.engine.live_run"):
        _close_at_once(generator)
    assert cleaned == ["started"]
    assert "waited while closing" in caplog.text


async def test_keep_hands_the_store_a_meta_dict_it_never_changes_afterwards(
    tmp_path: Path,
) -> None:
    """SqliteStateStore.save_turn keeps a meta dict as given (no copy): `keep` must build a
    new one for every save and leave it alone, here across the save at turn end and the
    later one."""
    store = SqliteStateStore(tmp_path / "state.sqlite3")
    handed: list[tuple[dict[str, str], dict[str, str]]] = []
    save_turn = store.save_turn

    def spy(key: str, checkpoint: bytes, meta: Any = None, **kwargs: Any) -> None:
        handed.append((meta, dict(meta)))
        save_turn(key, checkpoint, meta, **kwargs)

    store.save_turn = spy  # type: ignore[method-assign]
    checkpoints = Checkpoints(store)
    run = _run(_Upstream(later=b"after turn end"))
    await run.next_batch()
    checkpoints.keep(run, "h1", "model", "acct")
    first = store.peek_checkpoint("fp:h1")
    await checkpoints.aclose()
    assert len(handed) == 2 and handed[0][0] is not handed[1][0]
    for meta, at_hand_over in handed:
        assert (
            meta
            == at_hand_over
            == {"conversation_id": "conv-1", "model": "model", "account": "acct"}
        )
    assert first is not None and first.meta == handed[0][1]
    stored = store.load_checkpoint("fp:h1")
    assert stored is not None and stored.checkpoint == b"after turn end"
    store.close()


def test_save_turn_copies_meta_that_is_not_a_dict(tmp_path: Path) -> None:
    meta = {"model": "m"}
    with SqliteStateStore(tmp_path / "state.sqlite3") as store:
        store.save_turn("k", b"cp", MappingProxyType(meta))
        meta["model"] = "changed"
        stored = store.peek_checkpoint("k")
        assert stored is not None and stored.meta == {"model": "m"}
        assert type(stored.meta) is dict
