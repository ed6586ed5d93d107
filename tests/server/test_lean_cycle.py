"""LeanCycle's `send` (server/http_cycle.py) writes what uvicorn's writes, leaves the cycle in
the same state and raises what it raises, for every kind of response: the fast path for
plain headers and chunked bodies, and uvicorn's own for the rest."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.types import Message

from cursor_bridge.server import http_cycle
from cursor_bridge.server.http_cycle import LeanCycle, adopt
from tests.server.test_http_cycle import RecordingTransport, body, cycle_on

STATE = ("response_started", "response_complete", "chunked_encoding", "keep_alive")


def start(status: int = 200, headers: Any = ((b"x-a", b"1"),)) -> Message:
    return {"type": "http.response.start", "status": status, "headers": list(headers)}


SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
CASES: list[tuple[str, list[Message]]] = [
    ("stream", [start(headers=SSE), body(b"data: 1\n\n", True), body(b"data: 2\n\n", False)]),
    ("end in one", [start(headers=SSE), body(b"x" * 300, False)]),
    ("empty writes", [start(), body(b"", True), body(b"a", True), body(b"", False)]),
    ("bytearray body", [start(), body(bytearray(b"ab"), True), body(b"", False)]),  # type: ignore[arg-type]
    ("no headers", [{"type": "http.response.start", "status": 200}, body(b"{}", False)]),
    ("upper-case name", [start(headers=[(b"X-Upper", b"v")]), body(b"x", False)]),
    ("tab in value", [start(headers=[(b"x-t", b"a\tb")]), body(b"x", False)]),
    ("list headers", [start(headers=[[b"x-l", b"1"]]), body(b"x", False)]),
    ("content-length", [start(headers=[(b"content-length", b"2")]), body(b"ab", False)]),
    ("chunked declared", [start(headers=[(b"transfer-encoding", b"chunked")]), body(b"a", False)]),
    ("connection close", [start(headers=[(b"connection", b"close")]), body(b"a", False)]),
    ("no content", [start(204), body(b"", False)]),
    ("not modified", [start(304), body(b"", False)]),
    ("odd status", [start(599), body(b"x", False)]),
    ("error status", [start(401, [(b"www-authenticate", b"Bearer")]), body(b"no", False)]),
]


async def both(messages: list[Message], method: str = "POST", **options: Any) -> tuple[Any, Any]:
    """(uvicorn's cycle, an adopted one) after the same messages, each on its transport."""
    plain = cycle_on(RecordingTransport(), method, **options)
    ours = cycle_on(RecordingTransport(), method, **options)
    adopt(ours, asyncio.get_running_loop())
    assert type(ours) is LeanCycle
    for message in messages:
        await plain.send(message)
        await ours.send(message)
        assert ours.transport.writes == plain.transport.writes, message
    return plain, ours


@pytest.mark.parametrize(("name", "messages"), CASES, ids=[n for n, _ in CASES])
@pytest.mark.parametrize("method", ["POST", "HEAD"])
@pytest.mark.parametrize("keep_alive", [True, False])
async def test_the_same_bytes_and_state_as_uvicorn(
    name: str, messages: list[Message], method: str, keep_alive: bool
) -> None:
    for _ in range(2):  # the second time with the header lines known
        plain, ours = await both(messages, method, keep_alive=keep_alive)
        assert [getattr(ours, a) for a in STATE] == [getattr(plain, a) for a in STATE]
        assert ours.transport.closed == plain.transport.closed
        assert ours.message_event.is_set() == plain.message_event.is_set()


async def test_the_response_is_completed_once() -> None:
    done: list[str] = []
    cycle = cycle_on(RecordingTransport())
    cycle.on_response = lambda: done.append("x")
    adopt(cycle, asyncio.get_running_loop())
    await cycle.send(start())
    await cycle.send(body(b"a", True))
    assert done == [] and not cycle.response_complete
    await cycle.send(body(b"b", False))
    assert done == ["x"] and cycle.response_complete
    with pytest.raises(RuntimeError, match="after response already completed"):
        await cycle.send(body(b"c", False))


BAD: list[tuple[str, list[Message]]] = [
    ("header injection", [start(headers=[(b"x-a", b"1\r\nx-b: 2")])]),
    ("bad name", [start(headers=[(b"x a", b"1")])]),
    ("body first", [body(b"a", False)]),
    ("start twice", [start(), start()]),
    ("too long", [start(headers=[(b"content-length", b"1")]), body(b"ab", False)]),
]


@pytest.mark.parametrize(("name", "messages"), BAD, ids=[n for n, _ in BAD])
async def test_the_same_errors_as_uvicorn(name: str, messages: list[Message]) -> None:
    plain = cycle_on(RecordingTransport())
    ours = cycle_on(RecordingTransport())
    adopt(ours, asyncio.get_running_loop())
    for cycle in (plain, ours):
        with pytest.raises(RuntimeError) as raised:
            for message in messages:
                await cycle.send(message)
        cycle.error = str(raised.value)
    assert ours.error == plain.error
    assert ours.transport.writes == plain.transport.writes


async def test_a_refused_header_is_never_kept_as_checked() -> None:
    bad = (b"x-a", b"1\r\nx-b: 2")
    for _ in range(2):
        cycle = cycle_on(RecordingTransport())
        adopt(cycle, asyncio.get_running_loop())
        with pytest.raises(RuntimeError, match="Invalid HTTP header value"):
            await cycle.send(start(headers=[bad]))
    assert all(bad not in headers for headers in http_cycle._BLOCKS)


async def test_a_head_held_for_the_body_still_goes_out_with_it() -> None:
    """The fast path writes through the cycle's transport, so a held head (HOLD_HEAD) is
    written with the first body bytes as before."""
    messages = CASES[0][1]
    plain = cycle_on(RecordingTransport())
    transport = RecordingTransport()
    ours = cycle_on(transport)
    hooks = adopt(ours, asyncio.get_running_loop())
    hooks.hold_head()
    for message in messages:
        await plain.send(message)
        await ours.send(message)
    assert transport.writes == [b"".join(plain.transport.writes[:2]), plain.transport.writes[2]]


async def test_a_new_date_is_a_new_head() -> None:
    """The server's default headers (its date changes every second) are part of what a
    checked head is kept under: the same response a second later carries the new date."""
    for date in (b"Mon, 01 Jan 2024 00:00:00 GMT", b"Mon, 01 Jan 2024 00:00:01 GMT"):
        plain, ours = cycle_on(RecordingTransport()), cycle_on(RecordingTransport())
        plain.default_headers = ours.default_headers = [(b"date", date)]
        adopt(ours, asyncio.get_running_loop())
        for cycle in (plain, ours):
            await cycle.send(start(headers=SSE))
            await cycle.send(body(b"x", False))
        assert ours.transport.writes == plain.transport.writes
        assert date in ours.transport.writes[0]


async def test_a_uvicorn_without_what_lean_cycle_uses_keeps_its_own_send(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http_cycle, "_lean_fit", None)
    monkeypatch.setattr(http_cycle, "_LEAN_NEEDS", (*http_cycle._LEAN_NEEDS, "renamed_field"))
    cycle = cycle_on(RecordingTransport())
    adopt(cycle, asyncio.get_running_loop())
    assert type(cycle) is not LeanCycle
    monkeypatch.setattr(http_cycle, "_lean_fit", None)
    monkeypatch.setattr(http_cycle, "_LEAN_NEEDS", http_cycle._LEAN_NEEDS[:-1])
    cycle = cycle_on(RecordingTransport())
    adopt(cycle, asyncio.get_running_loop())
    assert type(cycle) is LeanCycle
