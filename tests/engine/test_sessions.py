"""The parked-session registry and the segment reader, without sockets."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from cursor_bridge.engine.fingerprint import chain
from cursor_bridge.engine.output import TextDelta, ToolCall, TurnFinished
from cursor_bridge.engine.request import (
    ChatMessage,
    NamedToolChoice,
    ToolCallRecord,
    ToolSpec,
)
from cursor_bridge.engine.sessions import ParkedSession, PendingCall, SessionRegistry
from cursor_bridge.engine.toolset import Toolset
from cursor_bridge.engine.turn import SegmentReader
from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol.messages import agent

TOOLS = Toolset.build([ToolSpec("read", "", {}), ToolSpec("write", "", {})])


@dataclass
class FakeMachine:
    used_tokens: int = 7


@dataclass
class FakeUpstream:
    machine: FakeMachine = field(default_factory=FakeMachine)


class FakeRun:
    """Stands in for LiveRun: scripted batches, records answers and closing."""

    def __init__(self, batches: list[list[ev.Event]] | None = None) -> None:
        self.batches = list(batches or [])
        self.answers: list[list[agent.ExecClientMessage]] = []
        self.closed = False
        self.upstream = FakeUpstream()

    @property
    def alive(self) -> bool:
        return not self.closed

    async def next_batch(self, within: float | None = None) -> list[ev.Event] | None:
        if not self.batches:
            if within is None:
                return None
            raise TimeoutError
        return self.batches.pop(0)

    async def send_results(self, answers: list[list[agent.ExecClientMessage]]) -> None:
        self.answers.extend(answers)

    def detach(self) -> None:
        pass

    async def wait_started(self) -> None:
        if not self.batches:
            raise AssertionError("the test gave the Run nothing to start with")

    async def aclose(self) -> None:
        self.closed = True


def mcp(exec_id: int, name: str, **args: Any) -> ev.ExecRequested:
    return ev.ExecRequested(exec_id, "", "mcp_args", args, tool_name=name)


def history(call_ids: list[str]) -> tuple[ChatMessage, ...]:
    return (
        ChatMessage("user", "go"),
        ChatMessage(
            "assistant", "", tool_calls=tuple(ToolCallRecord(i, "read", "{}") for i in call_ids)
        ),
        *(ChatMessage("tool", "r", tool_call_id=i) for i in call_ids),
    )


def parked(
    run: FakeRun, ids: list[str], fingerprint: str, toolset: Toolset = TOOLS
) -> ParkedSession:
    pending = [PendingCall(i, mcp(n, "read"), "read", "{}") for n, i in enumerate(ids)]
    return ParkedSession(run, fingerprint, "m", toolset, pending)  # type: ignore[arg-type]


async def test_claim_matches_only_an_exact_follow_up() -> None:
    registry = SessionRegistry()
    messages = history(["a", "b"])
    run = FakeRun()
    registry.park(parked(run, ["a", "b"], chain(messages[:1])[-1]))
    assert registry.claim(messages[:1], "m", TOOLS) == (None, "not_a_tool_round")
    session, reason = registry.claim(messages, "m", TOOLS)
    assert reason == "continued" and session is not None and session.run is run
    assert len(registry) == 0


async def test_every_disagreement_closes_the_parked_run() -> None:
    messages = history(["a", "b"])
    fingerprint = chain(messages[:1])[-1]
    cases: dict[str, tuple[tuple[ChatMessage, ...], str, Toolset]] = {
        "mismatch_ids": (messages[:-1], "m", TOOLS),  # one result missing
        "mismatch_history": ((ChatMessage("user", "edited"), *messages[1:]), "m", TOOLS),
        "mismatch_model": (messages, "other", TOOLS),
        "mismatch_tools": (messages, "m", Toolset.build([ToolSpec("read", "", {})])),
    }
    for expected, (request, model, toolset) in cases.items():
        registry = SessionRegistry()
        run = FakeRun()
        registry.park(parked(run, ["a", "b"], fingerprint))
        assert registry.claim(request, model, toolset) == (None, expected)
        await asyncio.sleep(0)  # the close runs as a task
        assert run.closed, expected
        assert len(registry) == 0
    assert SessionRegistry().claim(messages, "m", TOOLS) == (None, "unknown_ids")


async def test_idle_sessions_expire_and_the_cap_closes_the_oldest() -> None:
    now = [0.0]
    registry = SessionRegistry(idle_timeout=10, max_parked=2, clock=lambda: now[0])
    runs = [FakeRun() for _ in range(3)]
    for index, run in enumerate(runs):
        registry.park(parked(run, [f"c{index}"], "f"))
    await asyncio.sleep(0)
    assert runs[0].closed and not runs[1].closed and len(registry) == 2
    now[0] = 11
    assert registry.claim(history(["c1"]), "m", TOOLS) == (None, "unknown_ids")
    await asyncio.sleep(0)
    assert runs[1].closed and runs[2].closed and len(registry) == 0
    assert registry.outcomes["closed_evicted"] == 1 and registry.outcomes["closed_expired"] == 2


async def collect(reader: SegmentReader) -> list[Any]:
    return [event async for batch in reader.read() for event in batch]


async def test_reader_emits_calls_then_finishes_with_tool_calls() -> None:
    run = FakeRun([[ev.TextDelta("hi"), mcp(1, "read", path="a")], [mcp(2, "write")]])
    ids = iter(["x", "y"])
    reader = SegmentReader(run, TOOLS, lambda: next(ids))  # type: ignore[arg-type]
    events = await collect(reader)
    assert events[:3] == [
        TextDelta("hi"),
        ToolCall(0, "x", "read", '{"path":"a"}'),
        ToolCall(1, "y", "write", "{}"),
    ]
    assert isinstance(events[3], TurnFinished) and events[3].reason == "tool_calls"
    assert events[3].usage.input_tokens == 7
    assert [c.call_id for c in reader.result.emitted] == ["x", "y"]


async def test_reader_refuses_calls_the_tool_choice_forbids_and_unknown_tools() -> None:
    toolset = Toolset.build(TOOLS.declared, NamedToolChoice("write"))
    run = FakeRun([[mcp(1, "read"), mcp(2, "nonexistent")], [ev.TurnEnded(ev.Usage(1, 2))]])
    reader = SegmentReader(run, toolset, lambda: "id")  # type: ignore[arg-type]
    events = await collect(reader)
    assert events == [TurnFinished("stop", ev.Usage(1, 2))]
    errors = [answer[0].mcp_result.error.error for answer in run.answers]
    assert len(errors) == 2 and all("`write`" in e for e in errors)


async def test_reader_holds_back_calls_when_parallel_calls_are_off() -> None:
    run = FakeRun([[mcp(1, "read"), mcp(2, "write")]])
    ids = iter(["x", "y"])
    reader = SegmentReader(run, TOOLS, lambda: next(ids), parallel=False)  # type: ignore[arg-type]
    events = await collect(reader)
    assert [e.call_id for e in events if isinstance(e, ToolCall)] == ["x"]
    assert [c.call_id for c in reader.result.queued] == ["y"]


async def test_server_heartbeat_ends_the_wait_for_parallel_calls() -> None:
    run = FakeRun([[mcp(1, "read")], [ev.ServerHeartbeat()], [mcp(2, "write")]])
    reader = SegmentReader(run, TOOLS, lambda: "x", settle=60)  # type: ignore[arg-type]
    events = await collect(reader)
    assert [type(e) for e in events] == [ToolCall, TurnFinished]
    assert run.batches == [[mcp(2, "write")]]  # not read: the heartbeat said "waiting"


async def test_a_parked_run_that_failed_meanwhile_is_not_continued() -> None:
    from cursor_bridge.engine.backend import BackendConfig, CursorBackend
    from cursor_bridge.engine.request import ChatRequest
    from cursor_bridge.protocol.errors import ConnectError

    class BrokenRun(FakeRun):
        async def send_results(self, answers: list[list[agent.ExecClientMessage]]) -> None:
            raise ConnectError("unavailable", "connection to the backend lost")

    backend = CursorBackend(BackendConfig(api_url="http://127.0.0.1:9", agent_url="x"))
    run = BrokenRun()
    session = parked(run, ["a"], "f")
    request = ChatRequest("m", history(["a"]))
    assert await backend._deliver(session, request) is False
    assert run.closed
    healthy = FakeRun([[ev.TextDelta("go on")]])
    assert await backend._deliver(parked(healthy, ["a"], "f"), request) is True
    assert [a[0].mcp_result.success.content[0].text.text for a in healthy.answers] == ["r"]
    await backend.aclose()
