"""An event stream under `serve` writes its body chunks through the cycle's `write_body`
(DIRECT_BODY, server/http_cycle.py) instead of awaiting `send` per chunk: the client gets
the bytes uvicorn's own send writes, and anything that send would not write at once (a
paused connection, a gone client, a HEAD answer, another app's send wrapper) still goes
through `send`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from starlette.types import Message, Send

from cursor_bridge.server.event_stream import DIRECT_BODY, EventStream, Write
from cursor_bridge.server.gate import StampedSend
from cursor_bridge.server.http_cycle import LeanCycle, adopt
from tests.server.test_http_cycle import RecordingTransport, body, cycle_on
from tests.server.test_lean_cycle import SSE, start

CHUNKS = ["data: one\n\n", "", "data: caf\u00e9 \U0001f600\n\n", "data: " + "x" * 3000 + "\n\n"]
ENDINGS = ["data: [DONE]\n\n", ""]


async def never_receive() -> Message:
    await asyncio.Event().wait()
    raise AssertionError


def producer(chunks: list[str], last: str) -> Callable[[Write], Awaitable[str]]:
    async def produce(write: Write) -> str:
        for text in chunks:
            await write(text)
        return last

    return produce


async def stream_on(cycle: Any, send: Send, last: str, *, at_once: bool = True) -> None:
    response = EventStream(producer(CHUNKS, last), {"cache-control": "no-cache"})
    response.writes_at_once = at_once
    await response(cycle.scope, never_receive, send)


def counted_sends(monkeypatch: pytest.MonkeyPatch) -> list[Message]:
    """Every message LeanCycle.send is called with (it stays the class's send)."""
    seen: list[Message] = []
    own = LeanCycle.send

    async def send(self: LeanCycle, message: Message) -> None:
        seen.append(message)
        await own(self, message)  # type: ignore[arg-type]

    monkeypatch.setattr(LeanCycle, "send", send)
    return seen


@pytest.mark.parametrize("last", ENDINGS)
@pytest.mark.parametrize("keep_alive", [True, False])
@pytest.mark.parametrize("at_once", [True, False])
async def test_the_client_gets_the_bytes_of_uvicorns_send(
    last: str, keep_alive: bool, at_once: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    sends = counted_sends(monkeypatch)
    plain = cycle_on(RecordingTransport(), keep_alive=keep_alive)
    await stream_on(plain, plain.send, last)  # uvicorn's own cycle: no hooks, every send
    ours = cycle_on(RecordingTransport(), keep_alive=keep_alive)
    adopt(ours, asyncio.get_running_loop())
    await stream_on(ours, ours.send, last, at_once=at_once)
    assert b"".join(ours.transport.writes) == b"".join(plain.transport.writes)
    assert ours.response_complete and ours.message_event.is_set()
    assert ours.transport.closed == plain.transport.closed == (not keep_alive)
    assert [m["type"] for m in sends] == ["http.response.start"], "the body went past send"
    # One write per chunk (as uvicorn's, an empty one too) and the end; the head with the
    # first chunk when held.
    assert len(ours.transport.writes) == len(CHUNKS) + 1 + (not at_once)


async def test_past_the_gates_send_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gate's StampedSend only stamps the start: the body goes past it and past send."""
    sends = counted_sends(monkeypatch)
    cycle = cycle_on(RecordingTransport())
    adopt(cycle, asyncio.get_running_loop())
    record = type("Record", (), {"status": 0, "model": "", "cursor_model": ""})()
    stamped = StampedSend(cycle.send, record, None)  # type: ignore[arg-type]
    await stream_on(cycle, stamped, ENDINGS[0])
    assert [m["type"] for m in sends] == ["http.response.start"]
    assert record.status == 200
    assert b"data: [DONE]\n\n\r\n0\r\n\r\n" in cycle.transport.writes[-1]


async def test_a_send_wrapper_sees_every_message() -> None:
    """Another app's wrapper of send (it may read or change the body) is never bypassed."""
    cycle = cycle_on(RecordingTransport())
    adopt(cycle, asyncio.get_running_loop())
    seen: list[Message] = []

    async def wrapper(message: Message) -> None:
        seen.append(message)
        await cycle.send(message)

    await stream_on(cycle, wrapper, ENDINGS[0])
    bodies = [m["body"] for m in seen if m["type"] == "http.response.body"]
    assert bodies == [text.encode() for text in [*CHUNKS, ENDINGS[0]]]
    assert cycle.scope[DIRECT_BODY](wrapper) is None
    other = cycle_on(RecordingTransport())
    adopt(other, asyncio.get_running_loop())
    assert cycle.scope[DIRECT_BODY](other.send) is None, "another cycle's send"


async def test_a_paused_connection_waits_in_send() -> None:
    """While the client reads slowly (writes paused), a chunk waits in uvicorn's send
    until the connection drains, and is written then."""
    cycle = cycle_on(RecordingTransport())
    adopt(cycle, asyncio.get_running_loop())
    second_written = asyncio.Event()

    async def produce(write: Write) -> str:
        await write("data: one\n\n")
        cycle.flow.pause_writing()
        await write("data: two\n\n")
        second_written.set()
        return "data: [DONE]\n\n"

    task = asyncio.create_task(EventStream(produce)(cycle.scope, never_receive, cycle.send))
    await asyncio.sleep(0.01)
    assert not second_written.is_set()
    assert not any(b"two" in w for w in cycle.transport.writes)
    cycle.flow.resume_writing()
    await asyncio.wait_for(task, 5)
    assert b"".join(cycle.transport.writes).endswith(
        b"b\r\ndata: two\n\n\r\ne\r\ndata: [DONE]\n\n\r\n0\r\n\r\n"
    )


async def test_a_gone_client_gets_nothing_more() -> None:
    cycle = cycle_on(RecordingTransport())
    adopt(cycle, asyncio.get_running_loop())

    async def produce(write: Write) -> str:
        await write("data: one\n\n")
        cycle.disconnected = True
        await write("data: two\n\n")
        return "data: [DONE]\n\n"

    await EventStream(produce)(cycle.scope, never_receive, cycle.send)
    assert not any(b"two" in w or b"DONE" in w for w in cycle.transport.writes)


async def write_body_after(messages: list[Message], method: str = "POST", **options: Any) -> Any:
    cycle = cycle_on(RecordingTransport(), method, **options)
    adopt(cycle, asyncio.get_running_loop())
    for message in messages:
        await cycle.send(message)
    return cycle


@pytest.mark.parametrize(
    ("name", "messages", "method", "change"),
    [
        ("not started", [], "POST", None),
        ("HEAD", [start(headers=SSE)], "HEAD", None),
        ("content-length", [start(headers=[(b"content-length", b"9")])], "POST", None),
        ("complete", [start(headers=SSE), body(b"", False)], "POST", None),
        ("paused", [start(headers=SSE)], "POST", lambda c: c.flow.pause_writing()),
        ("gone", [start(headers=SSE)], "POST", lambda c: setattr(c, "disconnected", True)),
        ("access log", [start(headers=SSE)], "POST", lambda c: setattr(c, "access_log", True)),
    ],
)
async def test_write_body_refuses_what_send_does_its_own_way(
    name: str, messages: list[Message], method: str, change: Callable[[Any], None] | None
) -> None:
    cycle = await write_body_after(messages, method)
    if change is not None:
        change(cycle)
    writes = list(cycle.transport.writes)
    state = (cycle.response_complete, cycle.message_event.is_set())
    assert cycle.write_body(b"data: x\n\n", True) is False
    assert cycle.write_body(b"data: x\n\n", False) is False
    assert cycle.transport.writes == writes
    assert (cycle.response_complete, cycle.message_event.is_set()) == state


async def test_write_body_is_what_send_writes() -> None:
    plain = await write_body_after([start(headers=SSE)])
    ours = await write_body_after([start(headers=SSE)])
    for data, more in [(b"data: 1\n\n", True), (b"", True), (b"data: 2\n\n", False)]:
        await plain.send(body(data, more))
        assert ours.write_body(data, more) is True
    assert ours.transport.writes == plain.transport.writes
    assert ours.response_complete and ours.message_event.is_set()
