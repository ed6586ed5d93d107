"""The Run's request side is half-closed at turn end (current-client.md §7)."""

from __future__ import annotations

import asyncio
import time

from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
from cursor_bridge.engine.live_run import LiveRun
from cursor_bridge.engine.upstream import UpstreamRun
from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol.blobs import MemoryBlobStore
from cursor_bridge.protocol.headers import RUN_PATH, ClientIdentity, run_headers
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.run import RunMachine
from cursor_bridge.transport import BackendPool


def _request(text: str) -> agent.AgentRunRequest:
    user = agent.UserMessage(text=text, message_id="m-1")
    return agent.AgentRunRequest(
        action=agent.ConversationAction(
            user_message_action=agent.UserMessageAction(
                user_message=user, request_context=agent.RequestContext()
            )
        ),
        conversation_id="c-life",
        requested_model=agent.RequestedModel(model_id="claude-4.6-sonnet"),
    )


async def _run(
    emulator: EmulatorServer, pool: BackendPool, text: str, *, heartbeat_interval: float
) -> UpstreamRun:
    """An UpstreamRun of *text* on a new stream to *emulator*, not started yet."""
    headers = run_headers(None, ClientIdentity(), now_ms=int(time.time() * 1000))
    stream = await pool.open_stream(emulator.url + RUN_PATH, headers)
    machine = RunMachine(blobs=MemoryBlobStore(), request_context=agent.RequestContext())
    return UpstreamRun(stream, machine, _request(text), heartbeat_interval=heartbeat_interval)


async def test_a_finished_run_frees_its_stream_at_once() -> None:
    # A long grace: without our half-close the server would keep the stream 60 s.
    options = EmulatorOptions(close_grace=60.0)
    async with EmulatorServer(options=options) as emulator, BackendPool() as pool:
        run = await _run(emulator, pool, "/reply done", heartbeat_interval=1.0)
        events = [e async for batch in run.batches() for e in batch]
        assert any(isinstance(e, ev.TurnEnded) for e in events)
        assert isinstance(events[-1], ev.StreamClosed)
        assert run.half_closed
        (connection,) = [c for group in pool._connections.values() for c in group]
        deadline = asyncio.get_running_loop().time() + 5
        while connection.stream_count and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 - polled with a deadline
            await asyncio.sleep(0.01)
        assert connection.stream_count == 0
        assert emulator.counters.runs_completed == 1


async def test_heartbeats_go_out_while_the_run_streams_and_stop_at_its_end() -> None:
    options = EmulatorOptions(token_latency=0.02)
    async with EmulatorServer(options=options) as emulator, BackendPool() as pool:
        run = await _run(emulator, pool, "/tokens 40", heartbeat_interval=0.1)
        events = [e async for batch in run.batches() for e in batch]
        assert isinstance(events[-1], ev.StreamClosed)
        # 40 words at 20 ms: about 0.8 s of streaming, so several heartbeats at 0.1 s.
        sent = emulator.counters.client_heartbeats
        assert sent >= 3
        assert run._beat_timer is None and run._beat_task is None
        await asyncio.sleep(0.3)  # three more intervals: nothing may follow the Run's end
        assert emulator.counters.client_heartbeats == sent


async def test_a_heartbeat_on_a_lost_stream_ends_the_heartbeats() -> None:
    options = EmulatorOptions(token_latency=0.02)
    async with EmulatorServer(options=options) as emulator, BackendPool() as pool:
        run = await _run(emulator, pool, "/tokens 40", heartbeat_interval=0.05)
        assert emulator.counters.client_heartbeats == 0
        batches = run.batches()
        await anext(batches)
        await run.stream.cancel()  # the stream fails under the Run: the next heartbeat cannot go
        deadline = asyncio.get_running_loop().time() + 5
        while run._beating and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 - polled with a deadline
            await asyncio.sleep(0.01)
        assert not run._beating and run._beat_timer is None
        await batches.aclose()


async def test_a_run_whose_end_came_with_its_turn_is_closed_at_once_and_not_cancelled() -> None:
    """LiveRun.finish_now (Checkpoints.keep's usual path): no task, no await, and the Run
    counts as completed upstream, not cancelled; its heartbeats and inline reading stop."""
    async with EmulatorServer() as emulator, BackendPool() as pool:
        upstream = await _run(emulator, pool, "/reply done", heartbeat_interval=1.0)
        run = LiveRun(upstream, "c-life")
        events: list[ev.Event] = []
        while not any(isinstance(e, ev.TurnEnded) for e in events):
            batch = await run.next_batch()
            assert batch is not None
            events += batch
        assert upstream.finished  # the end-stream came with the turn's end
        assert run.finish_now()
        assert not run.alive and not upstream._beating and upstream._beat_timer is None
        assert not upstream._inline_on
        assert run._batches.ag_frame is None  # the generator is closed, not left to the GC
        assert await run.next_batch() is None
        await asyncio.sleep(0.05)
        assert emulator.counters.runs_completed == 1 and emulator.counters.runs_cancelled == 0


async def test_finish_now_leaves_a_run_with_a_heartbeat_in_flight_to_finish() -> None:
    async with EmulatorServer() as emulator, BackendPool() as pool:
        upstream = await _run(emulator, pool, "/reply done", heartbeat_interval=1.0)
        run = LiveRun(upstream, "c-life")
        await run.next_batch()
        upstream.finished = True  # as if its end were read, but a heartbeat is being sent
        sending = asyncio.get_running_loop().create_future()
        upstream._beat_task = asyncio.ensure_future(sending)  # type: ignore[arg-type]
        assert not run.finish_now()
        assert run.alive and upstream._beating
        sending.set_result(None)
        await run.finish()
        assert not run.alive and not upstream._beating
