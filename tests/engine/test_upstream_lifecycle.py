"""The Run's request side is half-closed at turn end (current-client.md §7)."""

from __future__ import annotations

import asyncio
import time

from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
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


async def test_a_finished_run_frees_its_stream_at_once() -> None:
    # A long grace: without our half-close the server would keep the stream 60 s.
    options = EmulatorOptions(close_grace=60.0)
    async with EmulatorServer(options=options) as emulator, BackendPool() as pool:
        headers = run_headers(None, ClientIdentity(), now_ms=int(time.time() * 1000))
        stream = await pool.open_stream(emulator.url + RUN_PATH, headers)
        machine = RunMachine(blobs=MemoryBlobStore(), request_context=agent.RequestContext())
        run = UpstreamRun(stream, machine, _request("/reply done"), heartbeat_interval=1.0)
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
