"""A Run that outlives the HTTP request that started it.

A tool round ends the client's response while the Run must stay open, answering KV requests
and sending heartbeats, until the next request delivers the results. So from its first wait
with a deadline on (a tool round settling; every parked Run has had one) the Run is read by
its own task, which queues event batches for whichever request consumes it next. Until then
the request reads the Run directly: a plain text turn costs no extra task switch per chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Coroutine
from typing import Any

from ..protocol import events as ev
from ..protocol.blobs import MemoryBlobStore
from ..protocol.errors import ConnectError
from ..protocol.messages import agent
from .turn_state import TurnBlobs
from .upstream import UpstreamRun

_END = None


log = logging.getLogger(__name__)


async def _ready(batch: list[ev.Event]) -> list[ev.Event]:
    return batch


def _close_at_once(batches: AsyncGenerator[list[ev.Event], None]) -> None:
    """Close `UpstreamRun.batches()` without awaiting, once `UpstreamRun.close_now` made
    its cleanup (`finally: await self.aclose()`) return at once: its `aclose()` step is
    run here, as a task would, instead of in a task of its own. A generator left
    unclosed would cost one anyway (the loop's finalizer hook closes it in a task)."""
    closing = batches.aclose()
    try:
        closing.send(None)
    except StopIteration:
        return
    except Exception:  # what LiveRun.aclose suppresses too
        return
    # Cannot happen under close_now's conditions; never fail a turn that ended for it.
    closing.close()
    log.warning("a finished Run's reader waited while closing; closed it at once")


class LiveRun:
    """The RunHandle (engine/run_handle.py) over one UpstreamRun and its RunMachine."""

    def __init__(
        self,
        upstream: UpstreamRun,
        conversation_id: str = "",
        *,
        blobs: TurnBlobs | None = None,
        resumed_from: str | None = None,
    ) -> None:
        self._upstream = upstream
        self._machine = upstream.machine
        self.conversation_id = conversation_id
        # The Run's KV blobs (saved with its checkpoint at turn end) and the store key of
        # the checkpoint it started from, if any.
        self.blobs = blobs or TurnBlobs(MemoryBlobStore())
        self.resumed_from = resumed_from
        self._batches = upstream.batches()
        # The reader task and what it read, once held open (most Runs never are).
        self._queue: asyncio.Queue[list[ev.Event] | BaseException | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._held: list[list[ev.Event]] = []
        self.ended = False

    @property
    def merge_deltas(self) -> bool:
        return self._machine.merge_deltas

    @merge_deltas.setter
    def merge_deltas(self, merge: bool) -> None:
        self._machine.merge_deltas = merge

    @property
    def checkpoint(self) -> bytes | None:
        return self._machine.last_checkpoint

    @property
    def context(self) -> tuple[int, int]:
        return self._machine.used_tokens, self._machine.max_tokens

    def next_batch(self, within: float | None = None) -> Coroutine[Any, Any, list[ev.Event] | None]:
        """The next batch of events; None once the Run has ended cleanly.

        Raises ConnectError when the Run failed, TimeoutError when nothing came `within` s.
        (Not itself a coroutine function: awaiting `_read` directly saves a coroutine per
        relayed chunk.)
        """
        if self._held:
            return _ready(self._held.pop(0))
        return self._read(within)

    def hold_open(self) -> None:
        """Read the Run from its own task from now on (it may outlive this request)."""
        if self._task is None and not self.ended:
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._pump(self._queue), name="cursor-bridge-run")

    async def _read(self, within: float | None = None) -> list[ev.Event] | None:
        if within is not None:
            # Cancelling a direct read would cancel the Run: wait on the reader task instead.
            self.hold_open()
        if self._task is None:
            if self.ended:
                return None
            try:
                return await anext(self._batches)
            except StopAsyncIteration:
                self.ended = True
                return None
            except ConnectError:
                self.ended = True
                raise
        assert self._queue is not None  # made with the task
        if self.ended and self._queue.empty():
            return None
        item = await asyncio.wait_for(self._queue.get(), within)
        if item is _END:
            self.ended = True
            return None
        if isinstance(item, BaseException):
            self.ended = True
            raise item
        return item

    async def wait_started(self) -> None:
        """Read until the Run produces something beyond KV traffic; keep it for next_batch.

        Raises the Run's ConnectError if it fails first (e.g. `Blob not found` for a stale
        checkpoint), while nothing has reached the client yet and a retry is still possible.
        """
        while True:
            batch = await self._read()
            if batch is None:
                return
            self._held.append(batch)
            if any(not isinstance(e, ev.BlobServed | ev.BlobStored) for e in batch):
                return

    async def finish(self, grace: float = 10.0) -> bytes | None:
        """Let a Run whose turn ended close by itself (the backend may still send a
        checkpoint); cancel it after `grace` seconds. Returns the last checkpoint. A Run no
        task reads yet is read here to its end (no reader task for the few frames left)."""
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError, Exception):
            if self._task is None and self._upstream.finished:
                # The Run's end is already read (usually it came with the turn's end): what
                # is left returns without waiting, so no deadline is needed.
                while await self._read() is not None:
                    pass
            elif self._task is None:
                async with asyncio.timeout(grace):
                    while await self._read() is not None:
                        pass
            else:
                await asyncio.wait_for(asyncio.shield(self._task), grace)
        await self.aclose()
        return self._machine.last_checkpoint

    def finish_now(self) -> bool:
        """`finish` here and now when there is nothing to wait for (the usual turn end: the
        Run's end came with it), so closing the Run costs no task; False, with nothing
        done, when `finish` must wait (a reader task, frames still to come, a heartbeat
        being sent). The last checkpoint is then already `checkpoint`: nothing follows
        the Run's end."""
        if self._task is not None or not self._upstream.close_now():
            return False
        self.ended = True
        _close_at_once(self._batches)
        return True

    async def send_answers(self, answers: list[list[agent.ExecClientMessage]]) -> None:
        """Deliver exec answers (each one exec's message sequence) and flush them."""
        for answer in answers:
            if answer:
                self._machine.send_exec_result(answer[0], *answer[1:])
        await self._upstream.flush()

    @property
    def alive(self) -> bool:
        if self._task is not None and self._task.done():
            return False
        return not self.ended

    async def aclose(self) -> None:
        """Cancel the Run upstream (if unfinished) and stop reading it."""
        self.ended = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):
            await self._batches.aclose()
        await self._upstream.aclose()

    async def _pump(self, queue: asyncio.Queue[list[ev.Event] | BaseException | None]) -> None:
        # Batches that queue up unread are joined, as a direct read joins the frames that
        # arrived together: a reader that comes back late (a stream holding its writes
        # while the loop is behind, server/pacing.py) catches up in one step. What follows
        # the turn's end stays a batch of its own.
        unread: list[ev.Event] | None = None
        joinable = False
        try:
            async for batch in self._batches:
                if unread is not None and joinable and not queue.empty():
                    unread += batch  # still queued: the last item put is this list
                else:
                    unread = list(batch)
                    queue.put_nowait(unread)
                joinable = not any(type(event) is ev.TurnEnded for event in batch)
        except ConnectError as exc:
            queue.put_nowait(exc)
        except Exception as exc:  # pragma: no cover - a bug below us; surface, do not hang
            queue.put_nowait(ConnectError("internal", f"run reader failed: {exc!r}"))
        else:
            queue.put_nowait(_END)
