"""The parked-session registry and the segment reader, without sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fake_run import FakeRun

from cursor_bridge.engine.fingerprint import chain
from cursor_bridge.engine.output import TextDelta, ToolCall, TurnFinished
from cursor_bridge.engine.request import (
    ChatMessage,
    NamedToolChoice,
    ToolCallRecord,
    ToolSpec,
)
from cursor_bridge.engine.sessions import PendingCall, Session, SessionRegistry
from cursor_bridge.engine.toolset import Toolset
from cursor_bridge.engine.turn import SegmentReader, answers_for
from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol.errors import ConnectError

TOOLS = Toolset.build([ToolSpec("read", "", {}), ToolSpec("write", "", {})])


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


def waiting(run: FakeRun, ids: list[str]) -> Session:
    """A session whose Run waits for the calls `ids`."""
    pending = [PendingCall(i, mcp(n, "read"), "read", "{}") for n, i in enumerate(ids)]
    return Session(run, pending=pending)


def park(
    registry: SessionRegistry,
    run: FakeRun,
    ids: list[str],
    fingerprint: str,
    toolset: Toolset = TOOLS,
) -> Session:
    session = waiting(run, ids)
    registry.park(session, fingerprint, "m", toolset)
    return session


async def test_claim_matches_only_an_exact_follow_up() -> None:
    registry = SessionRegistry()
    messages = history(["a", "b"])
    run = FakeRun()
    parked = park(registry, run, ["a", "b"], chain(messages[:1])[-1])
    assert run.held_open  # parked Runs are read by their own task
    assert registry.claim(messages[:1], chain(messages[:1]), "m", TOOLS) == (
        None,
        "not_a_tool_round",
    )
    session, reason = registry.claim(messages, chain(messages), "m", TOOLS)
    assert reason == "continued" and session is parked and session.run is run
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
        park(registry, run, ["a", "b"], fingerprint)
        assert registry.claim(request, chain(request), model, toolset) == (None, expected)
        await asyncio.sleep(0)  # the close runs as a task
        assert run.closed, expected
        assert len(registry) == 0
    assert SessionRegistry().claim(messages, chain(messages), "m", TOOLS) == (None, "unknown_ids")


async def test_idle_sessions_expire_and_the_cap_closes_the_oldest() -> None:
    now = [0.0]
    registry = SessionRegistry(idle_timeout=10, max_parked=2, clock=lambda: now[0])
    runs = [FakeRun() for _ in range(3)]
    for index, run in enumerate(runs):
        park(registry, run, [f"c{index}"], "f")
    await asyncio.sleep(0)
    assert runs[0].closed and not runs[1].closed and len(registry) == 2
    now[0] = 11
    follow_up = history(["c1"])
    assert registry.claim(follow_up, chain(follow_up), "m", TOOLS) == (None, "unknown_ids")
    await asyncio.sleep(0)
    assert runs[1].closed and runs[2].closed and len(registry) == 0
    assert registry.outcomes["closed_evicted"] == 1 and registry.outcomes["closed_expired"] == 2


async def read_all(reader: SegmentReader) -> tuple[list[Any], list[Any]]:
    """(events of the batches read() yields, events of the outcome's final batch)."""
    events = [event async for batch in reader.read() for event in batch]
    return events, reader.outcome.final


async def test_reader_emits_calls_and_leaves_them_in_the_session() -> None:
    run = FakeRun([ev.TextDelta("hi"), mcp(1, "read", path="a")], [mcp(2, "write")])
    session = Session(run, reported_output=5)
    ids = iter(["x", "y"])
    reader = SegmentReader(session, TOOLS, lambda: next(ids))
    events, final = await read_all(reader)
    assert events == [
        TextDelta("hi"),
        ToolCall(0, "x", "read", '{"path":"a"}'),
        ToolCall(1, "y", "write", "{}"),
    ]
    # The last batch is held back in the outcome, so the caller can park first.
    assert reader.outcome.ending == "tool_calls"
    assert len(final) == 1 and isinstance(final[0], TurnFinished)
    assert final[0].reason == "tool_calls" and final[0].usage.input_tokens == 7
    assert [c.call_id for c in session.pending] == ["x", "y"]
    assert session.queued == [] and session.reported_output == 5


async def test_reader_outcome_of_a_text_turn() -> None:
    run = FakeRun(
        [ev.TextDelta("Hel"), ev.TokenDelta(2)],
        [ev.TextDelta("lo"), ev.TokenDelta(1), ev.TurnEnded(ev.Usage(4, 9))],
    )
    session = Session(run, reported_output=6)
    reader = SegmentReader(session, TOOLS, lambda: "x")
    events, final = await read_all(reader)
    assert events == [TextDelta("Hel")]
    assert reader.outcome.ending == "turn_ended" and reader.outcome.text == "Hello"
    # turn_ended counts the whole Run: earlier responses reported 6 of its 9 tokens.
    assert final == [TextDelta("lo"), TurnFinished("stop", ev.Usage(4, 3))]
    assert session.reported_output == 9


async def test_no_outcome_before_the_segment_is_read() -> None:
    reader = SegmentReader(Session(FakeRun()), TOOLS, lambda: "x")
    with pytest.raises(RuntimeError):
        reader.outcome  # noqa: B018 - the property raises


async def test_reader_refuses_calls_the_tool_choice_forbids_and_unknown_tools() -> None:
    toolset = Toolset.build(TOOLS.declared, NamedToolChoice("write"))
    run = FakeRun([mcp(1, "read"), mcp(2, "nonexistent")], [ev.TurnEnded(ev.Usage(1, 2))])
    reader = SegmentReader(Session(run), toolset, lambda: "id")
    events, final = await read_all(reader)
    assert events == [] and final == [TurnFinished("stop", ev.Usage(1, 2))]
    errors = [answer[0].mcp_result.error.error for answer in run.answers]
    assert len(errors) == 2 and all("`write`" in e for e in errors)


async def test_reader_holds_back_calls_when_parallel_calls_are_off() -> None:
    session = Session(FakeRun([mcp(1, "read"), mcp(2, "write")]))
    ids = iter(["x", "y"])
    reader = SegmentReader(session, TOOLS, lambda: next(ids), parallel=False)
    events, _ = await read_all(reader)
    assert [e.call_id for e in events if isinstance(e, ToolCall)] == ["x"]
    assert [c.call_id for c in session.pending] == ["x"]
    assert [c.call_id for c in session.queued] == ["y"]
    # The next response hands out the held-back call without reading the Run.
    reader = SegmentReader(session, TOOLS, lambda: "unused", parallel=False)
    events, final = await read_all(reader)
    assert events == [] and reader.outcome.ending == "tool_calls"
    assert final[0] == ToolCall(0, "y", "write", "{}")
    assert [c.call_id for c in session.pending] == ["y"] and session.queued == []


async def test_server_heartbeat_ends_the_wait_for_parallel_calls() -> None:
    run = FakeRun([mcp(1, "read")], [ev.ServerHeartbeat()], [mcp(2, "write")])
    reader = SegmentReader(Session(run), TOOLS, lambda: "x", settle=60)
    events, final = await read_all(reader)
    assert [type(e) for e in [*events, *final]] == [ToolCall, TurnFinished]
    assert run.batches == [[mcp(2, "write")]]  # not read: the heartbeat said "waiting"


async def test_a_parked_run_that_failed_meanwhile_is_not_continued() -> None:
    registry = SessionRegistry()
    request = history(["a"])
    run = FakeRun(fail_answers=ConnectError("unavailable", "connection to the backend lost"))
    session = waiting(run, ["a"])
    assert await registry.resume(session, answers_for(session.pending, request, "")) is False
    assert run.closed and registry.outcomes["mismatch_run_failed"] == 1
    healthy = FakeRun([ev.TextDelta("go on")])
    session = waiting(healthy, ["a"])
    assert await registry.resume(session, answers_for(session.pending, request, "")) is True
    assert [a[0].mcp_result.success.content[0].text.text for a in healthy.answers] == ["r"]
    assert not healthy.closed
