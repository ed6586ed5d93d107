"""What `serve`'s HTTP protocol adds to uvicorn's cycles (server/http_cycle.py): the response
head goes out with the body's first bytes (same bytes, one write fewer), and the client
leaving is reported through a hook in the scope (no watcher task), which cancels the answer
as the watcher would."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import uvicorn
from starlette.types import Message, Receive, Scope, Send
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from cursor_bridge.server.disconnect import (
    DISCONNECT_HOOK,
    WATCHED,
    serve_until_disconnect,
)
from cursor_bridge.server.event_stream import HOLD_HEAD
from cursor_bridge.server.header_deadline import header_deadline_protocol
from cursor_bridge.server.http_cycle import adopt
from cursor_bridge.server.limits import BODY_COMPLETE

# -- the head written with the body ---------------------------------------------------------


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def cycle_on(transport: RecordingTransport, method: str = "POST", **kwargs: Any) -> Any:
    scope = {"type": "http", "method": method, "path": "/", "http_version": "1.1"}
    options: dict[str, Any] = {"expect_100_continue": False, "keep_alive": True, **kwargs}
    return RequestResponseCycle(
        scope=scope,  # type: ignore[arg-type]
        transport=transport,
        flow=FlowControl(transport),
        logger=logging.getLogger("test"),
        access_logger=logging.getLogger("test.access"),
        access_log=False,
        default_headers=[(b"server", b"test")],
        message_event=asyncio.Event(),
        on_response=lambda: None,
        **options,
    )


START = {"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]}


def body(data: bytes, more: bool) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


RESPONSES: list[tuple[str, list[Message]]] = [
    ("stream", [START, body(b"data: one\n\n", True), body(b"data: two\n\n", False)]),
    ("one body", [START, body(b"{}", False)]),
    ("empty end", [START, body(b"x", True), body(b"", False)]),
    (
        "content-length",
        [
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"4")],
            },
            body(b"ab", True),
            body(b"cd", False),
        ],
    ),
    (
        "close",
        [
            {"type": "http.response.start", "status": 401, "headers": [(b"connection", b"close")]},
            body(b"no", False),
        ],
    ),
    ("no content", [{"type": "http.response.start", "status": 204}, body(b"", False)]),
]


def held(cycle: Any) -> Any:
    """*cycle* with its hooks, its next head held (what an event stream asks for)."""
    adopt(cycle, asyncio.get_running_loop())
    cycle.scope[HOLD_HEAD]()
    return cycle


@pytest.mark.parametrize(("name", "messages"), RESPONSES, ids=[n for n, _ in RESPONSES])
@pytest.mark.parametrize("method", ["POST", "HEAD"])
async def test_the_bytes_are_uvicorns_in_one_write_fewer(
    name: str, messages: list[Message], method: str
) -> None:
    plain, ours = RecordingTransport(), RecordingTransport()
    plain_cycle, our_cycle = cycle_on(plain, method), held(cycle_on(ours, method))
    for message in messages:
        await plain_cycle.send(message)
        await our_cycle.send(message)
    assert b"".join(ours.writes) == b"".join(plain.writes)
    assert b"".join(ours.writes).startswith(b"HTTP/1.1 ")
    if method == "HEAD":  # no body writes: nothing is held
        assert ours.writes == plain.writes
    else:
        assert len(ours.writes) == len(plain.writes) - 1
        assert ours.writes[0] == b"".join(plain.writes[:2])
    assert ours.closed == plain.closed
    assert our_cycle.response_complete and plain_cycle.response_complete
    assert our_cycle.transport is ours, "the cycle's own transport is back"


@pytest.mark.parametrize(("name", "messages"), RESPONSES, ids=[n for n, _ in RESPONSES])
async def test_unasked_nothing_is_held(name: str, messages: list[Message]) -> None:
    plain, ours = RecordingTransport(), RecordingTransport()
    plain_cycle, our_cycle = cycle_on(plain), cycle_on(ours)
    adopt(our_cycle, asyncio.get_running_loop())
    for message in messages:
        await plain_cycle.send(message)
        await our_cycle.send(message)
        assert ours.writes == plain.writes


async def test_a_100_continue_is_not_held() -> None:
    transport = RecordingTransport()
    cycle = cycle_on(transport, expect_100_continue=True)
    adopt(cycle, asyncio.get_running_loop())
    cycle.more_body = False
    cycle.message_event.set()
    await cycle.receive()
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    cycle.scope[HOLD_HEAD]()
    await cycle.send(START)
    await cycle.send(body(b"x", False))
    assert len(transport.writes) == 2 and transport.writes[1].startswith(b"HTTP/1.1 200 OK")


async def test_closing_writes_a_held_head_first() -> None:
    transport = RecordingTransport()
    cycle = held(cycle_on(transport))
    await cycle.send(START)
    assert transport.writes == []
    cycle.transport.close()
    assert transport.closed and transport.writes[0].startswith(b"HTTP/1.1 200 OK")
    assert cycle.transport is transport


async def test_a_finished_cycle_is_freed_without_the_garbage_collector() -> None:
    """What adopt() adds makes no reference cycle: uvicorn's cycles (scope, headers, body)
    are freed as soon as the connection moves on, not at the next collection."""
    transport = RecordingTransport()
    cycle = held(cycle_on(transport))
    hooks = cycle.scope
    for message in RESPONSES[0][1]:
        await cycle.send(message)
    hooks[DISCONNECT_HOOK](lambda: None)
    hooks[DISCONNECT_HOOK](None)
    await asyncio.sleep(0)
    gone = weakref.ref(cycle)
    gc.disable()
    try:
        del cycle
        assert gone() is None
    finally:
        gc.enable()


# -- the disconnect hook --------------------------------------------------------------------


class Hook:
    """A server's disconnect hook, fired by hand."""

    def __init__(self) -> None:
        self.callbacks: list[Callable[[], None]] = []

    def __call__(self, callback: Callable[[], None] | None) -> None:
        if callback is None:
            self.callbacks.clear()
        else:
            self.callbacks.append(callback)

    def fire(self) -> None:
        for callback in self.callbacks:
            callback()


async def never_receive() -> Message:
    raise AssertionError("with a hook, nothing waits in receive()")


async def hooked(answer: Callable[[], Awaitable[None]]) -> tuple[bool, Hook, Scope]:
    hook = Hook()
    scope: Scope = {DISCONNECT_HOOK: hook}
    return await serve_until_disconnect(scope, never_receive, answer), hook, scope


async def test_the_hook_cancels_the_answer_and_restores_the_cancel_count() -> None:
    cancelled = asyncio.Event()
    hook = Hook()

    async def answer() -> None:
        loop = asyncio.get_running_loop()
        loop.call_soon(hook.fire)
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    scope: Scope = {DISCONNECT_HOOK: hook}
    assert await serve_until_disconnect(scope, never_receive, answer) is False
    assert cancelled.is_set() and scope[WATCHED] is True
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    await asyncio.sleep(0)  # not cancelled any more


async def test_an_answer_that_ends_first_is_not_cancelled_by_a_late_hook() -> None:
    async def answer() -> None:
        await asyncio.sleep(0)

    answered, hook, _ = await hooked(answer)
    assert answered is True
    hook.fire()  # the client leaves after the answer: nothing to cancel
    await asyncio.sleep(0)


async def test_a_cancellation_from_elsewhere_still_propagates() -> None:
    started = asyncio.Event()

    async def answer() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.ensure_future(hooked(answer))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancellation_from_elsewhere_after_the_client_left_still_propagates() -> None:
    started = asyncio.Event()
    hook = Hook()

    async def answer() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.01)  # shutdown's cancel arrives while this cleans up

    async def serve() -> bool:
        return await serve_until_disconnect({DISCONNECT_HOOK: hook}, never_receive, answer)

    task = asyncio.ensure_future(serve())
    await started.wait()
    hook.fire()
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_answer_that_swallows_the_cancellation_is_answered() -> None:
    hook = Hook()

    async def answer() -> None:
        asyncio.get_running_loop().call_soon(hook.fire)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()

    assert await serve_until_disconnect({DISCONNECT_HOOK: hook}, never_receive, answer)
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


# -- against a real server -------------------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, int, dict[str, Any]]]:
    """(port of `serve`'s protocol, port of plain uvicorn, what the app saw)."""
    seen: dict[str, Any] = {"hooked": [], "cancelled": asyncio.Event()}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        seen["hooked"].append(DISCONNECT_HOOK in scope)
        if BODY_COMPLETE in scope:
            seen.setdefault("complete", []).append(scope[BODY_COMPLETE]())
        await receive()
        if HOLD_HEAD in scope:
            scope[HOLD_HEAD]()
        if scope["path"] == "/hang":

            async def hang() -> None:
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send(body(b"data: one\n\n", True))
                try:
                    await asyncio.Event().wait()
                finally:
                    seen["cancelled"].set()

            await serve_until_disconnect(scope, receive, hang)
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
        await send(body(b"data: one\n\n", True))
        await asyncio.sleep(0.01)
        await send(body(b"data: two\n\n", False))

    servers, tasks, ports = [], [], []
    for http in (header_deadline_protocol(10.0), HttpToolsProtocol):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            app,
            log_config=None,
            http=http,  # type: ignore[arg-type]
            lifespan="off",
            date_header=False,
            server_header=False,
        )
        instance = uvicorn.Server(config)
        tasks.append(asyncio.create_task(instance.serve(sockets=[sock])))
        servers.append(instance)
        ports.append(sock.getsockname()[1])
    while not all(s.started for s in servers):  # noqa: ASYNC110 (uvicorn exposes only a flag)
        await asyncio.sleep(0.01)
    yield ports[0], ports[1], seen
    for instance in servers:
        instance.should_exit = True
    await asyncio.gather(*tasks)


REQUEST = b"POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}"


async def exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request * 2)  # two requests on one connection
    await writer.drain()
    answer = b""
    while answer.count(b"0\r\n\r\n") < 2:
        chunk = await asyncio.wait_for(reader.read(4096), 5)
        assert chunk
        answer += chunk
    writer.close()
    return answer


async def test_the_wire_carries_what_plain_uvicorn_sends(
    server: tuple[int, int, dict[str, Any]],
) -> None:
    ours, plain, seen = server
    assert await exchange(ours, REQUEST) == await exchange(plain, REQUEST)
    assert seen["hooked"] == [True, True, False, False]
    assert seen["complete"] == [True, True], "each request arrived whole"


async def test_a_body_still_arriving_is_not_complete(
    server: tuple[int, int, dict[str, Any]],
) -> None:
    ours, _, seen = server
    reader, writer = await asyncio.open_connection("127.0.0.1", ours)
    head = REQUEST.partition(b"\r\n\r\n")[0]
    writer.write(head + b"\r\n\r\n{")
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.write(b"}")
    await writer.drain()
    answer = b""
    while not answer.endswith(b"0\r\n\r\n"):
        chunk = await asyncio.wait_for(reader.read(4096), 5)
        assert chunk
        answer += chunk
    writer.close()
    assert seen["complete"] == [False]


async def test_a_client_leaving_cancels_the_answer_through_the_hook(
    server: tuple[int, int, dict[str, Any]],
) -> None:
    ours, _, seen = server
    reader, writer = await asyncio.open_connection("127.0.0.1", ours)
    writer.write(REQUEST.replace(b"/x", b"/hang"))
    await writer.drain()
    assert b"data: one" in await asyncio.wait_for(reader.readuntil(b"one\n\n"), 5)
    writer.close()
    await asyncio.wait_for(seen["cancelled"].wait(), 5)
    assert seen["hooked"] == [True]
