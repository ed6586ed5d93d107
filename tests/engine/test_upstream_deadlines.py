"""The Run's response-headers deadline: a backend that never answers fails the Run with
`deadline_exceeded` and its stream is cancelled; one that answers in time is unaffected
(and leaves no timer behind); a lost stream stays `unavailable`."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cursor_bridge.engine.upstream import UpstreamRun
from cursor_bridge.protocol.blobs import MemoryBlobStore
from cursor_bridge.protocol.errors import ConnectError
from cursor_bridge.protocol.framing import encode_end_stream
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.run import RunMachine
from cursor_bridge.transport import TransportError


class _Stream:
    """A stream whose response headers come when the test says (or never), failing as a
    DuplexStream does once cancelled."""

    def __init__(self) -> None:
        self.headers: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.cancelled = 0
        self.trailers: list[tuple[str, str]] | None = None
        self._error: TransportError | None = None
        self._inbox: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def response_headers(self) -> tuple[int, list[tuple[str, str]]]:
        if self._error is None:
            await asyncio.wait({self.headers}, return_when=asyncio.FIRST_COMPLETED)
        if self._error is not None:
            raise self._error
        return 200, []

    async def send(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error

    def can_send_now(self, size: int) -> bool:
        return False

    def try_send_now(self, data: bytes | bytearray) -> bool:
        return False

    def consume_inline(self, consumer: Any) -> None:
        pass

    async def receive(self, idle_timeout: float | None = None) -> bytes | None:
        return await self._inbox.get()

    async def end(self) -> None:
        pass

    async def cancel(self) -> None:
        self.cancelled += 1
        if self._error is None:
            self._error = TransportError("stream 1 was cancelled")
            if not self.headers.done():
                self.headers.set_result(None)

    def fail(self, message: str) -> None:
        self._error = TransportError(message)
        self.headers.set_result(None)


def _run(stream: _Stream, idle_timeout: float, heartbeat_interval: float = 5.0) -> UpstreamRun:
    machine = RunMachine(blobs=MemoryBlobStore(), request_context=agent.RequestContext())
    fake: Any = stream
    return UpstreamRun(
        fake,
        machine,
        agent.AgentRunRequest(),
        idle_timeout=idle_timeout,
        heartbeat_interval=heartbeat_interval,
    )


async def test_a_backend_that_never_answers_fails_the_run_and_its_stream_is_cancelled() -> None:
    stream = _Stream()
    run = _run(stream, idle_timeout=0.05)
    with pytest.raises(ConnectError) as caught:
        await asyncio.wait_for(anext(run.batches()), 5)
    assert caught.value.code == "deadline_exceeded"
    assert "did not answer" in caught.value.message
    assert stream.cancelled >= 1 and run.finished


@pytest.mark.parametrize("heartbeat_interval", [5.0, 0.05], ids=["own-timer", "carried"])
async def test_an_answer_in_time_runs_on_and_leaves_no_deadline_behind(
    heartbeat_interval: float,
) -> None:
    """Headers in time: no deadline left, whether it had its own timer or rode on the
    heartbeat timer."""
    stream = _Stream()
    run = _run(stream, idle_timeout=0.2, heartbeat_interval=heartbeat_interval)
    batches = run.batches()
    reading = asyncio.ensure_future(anext(batches, None))
    await asyncio.sleep(0.01)
    stream.headers.set_result(None)
    stream._inbox.put_nowait(encode_end_stream())
    stream._inbox.put_nowait(None)
    with pytest.raises(ConnectError) as caught:  # the end of the stream before any turn
        await asyncio.wait_for(reading, 5)
    assert caught.value.code != "deadline_exceeded"
    assert run._headers_due is None and run._headers_timer is None
    await asyncio.sleep(0.3)  # past the deadline: nothing cancels the stream afterwards
    assert stream.cancelled <= 1 and not run._headers_late


async def test_a_stream_lost_before_the_headers_is_unavailable() -> None:
    stream = _Stream()
    run = _run(stream, idle_timeout=5)
    reading = asyncio.ensure_future(anext(run.batches()))
    await asyncio.sleep(0.01)
    stream.fail("connection to the backend lost")
    with pytest.raises(ConnectError) as caught:
        await asyncio.wait_for(reading, 5)
    assert caught.value.code == "unavailable"


async def test_a_deadline_carried_by_earlier_heartbeats_still_fires_and_not_before_its_time() -> (
    None
):
    """Heartbeats due before the deadline carry it (no timer of its own at first); the
    first one hands it its own timer for the moment it was set for."""
    stream = _Stream()
    run = _run(stream, idle_timeout=0.4, heartbeat_interval=0.02)
    reading = asyncio.ensure_future(anext(run.batches()))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert run._beat_timer is not None and run._headers_timer is None  # one timer, not two
    assert run._headers_due is not None
    await asyncio.sleep(0.1)  # several heartbeats: the deadline now has its own timer
    assert run._headers_due is None and run._headers_timer is not None
    assert not reading.done() and stream.cancelled == 0  # a deadline never fires early
    with pytest.raises(ConnectError) as caught:
        await asyncio.wait_for(reading, 5)
    assert caught.value.code == "deadline_exceeded"
    assert stream.cancelled >= 1 and run.finished


async def test_heartbeats_stopped_before_the_headers_hand_the_deadline_its_own_timer() -> None:
    stream = _Stream()
    run = _run(stream, idle_timeout=0.1, heartbeat_interval=0.05)
    reading = asyncio.ensure_future(anext(run.batches()))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert run._headers_due is not None
    run._stop_beat_timer()  # no heartbeat timer is left to carry the deadline
    assert run._headers_due is None and run._headers_timer is not None
    with pytest.raises(ConnectError) as caught:
        await asyncio.wait_for(reading, 5)
    assert caught.value.code == "deadline_exceeded"
