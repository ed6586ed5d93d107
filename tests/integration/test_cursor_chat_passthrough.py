"""`/cursor/chat/completions` in passthrough mode, against a scripted OpenAI-compatible stub.

The stub (a tiny ASGI app on uvicorn, real sockets) streams chat.completion chunks chosen by
the request's `model`, including tool-call deltas split across chunks, errors, a cut stream
and a stream that waits for the client to go away (to prove the upstream is cancelled).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn

from cursor_bridge.engine.backend import BackendConfig, CursorBackend
from cursor_bridge.passthrough import OpenAIUpstream, UpstreamConfig, UpstreamError
from cursor_bridge.server.app import create_app
from tests.conftest import _free_socket

PATH = "/cursor/chat/completions"
API_KEY = "sk-stub-secret"


def _chunk(delta: dict[str, Any] | None = None, finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "stub",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
    }


def _call(index: int, **fields: Any) -> dict[str, Any]:
    return {"tool_calls": [{"index": index, **fields}]}


USAGE = {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}}

SCRIPTS: dict[str, list[dict[str, Any] | str]] = {
    "text": [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": "Hello"}),
        _chunk({"content": " from the"}),
        _chunk({"content": " upstream"}),
        _chunk(finish="stop"),
        USAGE,
        "[DONE]",
    ],
    "tools": [
        _chunk({"role": "assistant", "content": "Let me look."}),
        _chunk(_call(0, id="call_read", type="function", function={"name": "read_file"})),
        _chunk(_call(0, function={"arguments": '{"pa'})),
        _chunk(_call(0, function={"arguments": 'th": "src/app.py"}'})),
        _chunk(_call(1, id="call_grep", type="function", function={"name": "Grep", "arguments": ""})),
        _chunk(_call(1, function={"arguments": '{"pattern": "TODO",'})),
        _chunk(_call(1, function={"arguments": ' "-i": true}'})),
        _chunk(_call(2, id="call_mcp", function={"name": "lookup_ticket", "arguments": '{"id": 7}'})),
        _chunk(finish="tool_calls"),
        USAGE,
        "[DONE]",
    ],
    "midstream-error": [
        _chunk({"content": "partial"}),
        {"error": {"message": "upstream exploded", "type": "server_error", "code": "500"}},
    ],
    "cut": [_chunk({"content": "cut short"})],
}  # fmt: skip

ERRORS: dict[str, tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]] = {
    "unauthorized": (
        401,
        {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}},
        [],
    ),
    "overloaded": (
        503,
        {"error": {"message": "Overloaded, retry later"}},
        [(b"retry-after", b"7")],
    ),
    "broken": (500, {"detail": "Internal Server Error"}, []),
}


@dataclass
class StubUpstream:
    """Records every request; signals when a waiting stream's client went away."""

    requests: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    disconnected: threading.Event = field(default_factory=threading.Event)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        request = json.loads(body)
        self.requests.append((headers, request))
        if scope["path"] != "/v1/chat/completions":
            await self._json(send, 404, {"error": {"message": "no such route"}}, [])
            return
        model = request["model"]
        if model in ERRORS:
            await self._json(send, *ERRORS[model])
            return
        if model == "not-sse":
            await self._json(send, 200, {"choices": []}, [])
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        if model in ("hang", "hang-before-output"):
            if model == "hang":
                await self._event(send, _chunk({"content": "waiting"}))
            message = await receive()  # blocks until the client goes away
            if message["type"] == "http.disconnect":
                self.disconnected.set()
            return
        for item in SCRIPTS[model]:
            await self._event(send, item)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    async def _event(send: Any, item: dict[str, Any] | str) -> None:
        data = item if isinstance(item, str) else json.dumps(item)
        await send(
            {"type": "http.response.body", "body": f"data: {data}\n\n".encode(), "more_body": True}
        )

    @staticmethod
    async def _json(
        send: Any, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), *headers],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})


@dataclass
class Passthrough:
    stub: StubUpstream
    backend: CursorBackend
    bridge_url: str


@pytest.fixture(scope="module")
def passthrough() -> Iterator[Passthrough]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="passthrough-loop", daemon=True)
    thread.start()
    stub = StubUpstream()
    stub_sock, bridge_sock = _free_socket(), _free_socket()
    stub_url = f"http://127.0.0.1:{stub_sock.getsockname()[1]}/v1"
    # The Cursor backend is never contacted in passthrough mode (asserted below).
    backend = CursorBackend(
        BackendConfig(api_url="http://127.0.0.1:9", agent_url="http://127.0.0.1:9")
    )
    upstream = OpenAIUpstream(UpstreamConfig(stub_url, api_key=API_KEY))
    app = create_app(backend, mode="emulator", cursor_chat_upstream=upstream)
    servers = [
        uvicorn.Server(uvicorn.Config(stub, log_level="warning", lifespan="off")),
        uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on")),
    ]

    async def boot() -> list[asyncio.Task[None]]:
        tasks = [
            asyncio.create_task(server.serve(sockets=[sock]))
            for server, sock in zip(servers, (stub_sock, bridge_sock), strict=True)
        ]
        while not all(server.started for server in servers):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return tasks

    tasks = asyncio.run_coroutine_threadsafe(boot(), loop).result(30)
    try:
        yield Passthrough(stub, backend, f"http://127.0.0.1:{bridge_sock.getsockname()[1]}")
    finally:

        async def shutdown() -> None:
            for server in servers:
                server.should_exit = True
            await asyncio.gather(*tasks)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        stub_sock.close()
        bridge_sock.close()
    assert backend.runs_opened == 0


def _payload(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}]}


def _events(response: httpx.Response) -> list[Any]:
    out: list[Any] = []
    for line in response.iter_lines():
        if not line:
            continue
        assert line.startswith("data: "), line
        data = line.removeprefix("data: ")
        out.append(data if data == "[DONE]" else json.loads(data))
    return out


def _stream(passthrough: Passthrough, model: str) -> list[Any]:
    with httpx.stream(
        "POST", passthrough.bridge_url + PATH, json=_payload(model), timeout=20
    ) as response:
        assert response.status_code == 200, response.read()
        return _events(response)


def test_text_is_relayed_as_cursor_text(passthrough: Passthrough) -> None:
    events = _stream(passthrough, "text")
    assert events == [
        {"text": "Hello"},
        {"text": " from the"},
        {"text": " upstream"},
        "[DONE]",
    ]
    headers, body = passthrough.stub.requests[-1]
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "user", "content": "hi"}]


def test_split_tool_call_deltas_become_cursor_tool_calls(passthrough: Passthrough) -> None:
    events = _stream(passthrough, "tools")
    assert events[0] == {"text": "Let me look."}
    assert [next(iter(e)) if isinstance(e, dict) else e for e in events[1:]] == [
        "partial_tool_call",
        "tool_call_v2",
    ] * 3 + ["parallel_tool_calls_complete", "[DONE]"]
    read, grep, mcp = (events[i]["tool_call_v2"] for i in (2, 4, 6))
    assert events[1]["partial_tool_call"] == {
        "tool": 5,
        "tool_call_id": "call_read",
        "name": "read_file",
    }
    assert read["tool"] == 5
    assert read["read_file_params"] == {
        "relative_workspace_path": "src/app.py",
        "read_entire_file": True,
    }
    assert read["raw_args"] == '{"path": "src/app.py"}'
    assert (grep["tool"], grep["tool_index"], grep["tool_call_id"]) == (41, 1, "call_grep")
    assert grep["ripgrep_raw_search_params"] == {"pattern": "TODO", "case_insensitive": True}
    assert mcp["tool"] == 19
    assert mcp["mcp_params"] == {"tools": [{"name": "lookup_ticket", "parameters": '{"id":7}'}]}


@pytest.mark.parametrize(
    ("model", "status", "message", "retry_after"),
    [
        ("unauthorized", 401, "Incorrect API key provided", None),
        ("overloaded", 503, "Overloaded, retry later", "7"),
        ("broken", 502, "Internal Server Error", None),
        ("not-sse", 502, "not an event stream", None),
    ],
)
def test_upstream_http_errors_get_a_clear_status_and_body(
    passthrough: Passthrough, model: str, status: int, message: str, retry_after: str | None
) -> None:
    response = httpx.post(passthrough.bridge_url + PATH, json=_payload(model), timeout=10)
    assert response.status_code == status
    error = response.json()["error"]
    assert message in error["message"]
    assert API_KEY not in response.text
    assert response.headers.get("retry-after") == retry_after


def test_upstream_error_mid_stream_ends_with_an_error_event(passthrough: Passthrough) -> None:
    events = _stream(passthrough, "midstream-error")
    assert events[0] == {"text": "partial"}
    assert events[-1]["error"]["message"] == "upstream exploded"
    assert events[-1]["error"]["type"] == "api_error"
    assert "[DONE]" not in events


def test_upstream_stream_cut_short_is_an_error_not_a_clean_end(passthrough: Passthrough) -> None:
    events = _stream(passthrough, "cut")
    assert events[0] == {"text": "cut short"}
    assert "before the answer finished" in events[-1]["error"]["message"]
    assert "[DONE]" not in events


def test_client_disconnect_cancels_the_upstream_request(passthrough: Passthrough) -> None:
    passthrough.stub.disconnected.clear()
    with httpx.stream(
        "POST", passthrough.bridge_url + PATH, json=_payload("hang"), timeout=10
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line == 'data: {"text":"waiting"}':
                break
    # Leaving the block closed our connection; the bridge must drop the upstream one.
    assert passthrough.stub.disconnected.wait(10)


def test_client_disconnect_before_any_output_cancels_the_upstream(
    passthrough: Passthrough,
) -> None:
    passthrough.stub.disconnected.clear()
    # The bridge answers only after the first output, which never comes: give up waiting.
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            passthrough.bridge_url + PATH,
            json=_payload("hang-before-output"),
            timeout=httpx.Timeout(10, read=0.5),
        )
    assert passthrough.stub.disconnected.wait(10)


async def test_unreachable_upstream_is_a_502() -> None:
    sock = _free_socket()
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    upstream = OpenAIUpstream(UpstreamConfig(f"http://user:pw@127.0.0.1:{port}/v1"))
    try:
        with pytest.raises(UpstreamError) as info:
            await upstream.open(_payload("text"))
    finally:
        await upstream.aclose()
    assert info.value.status == 502
    assert f"127.0.0.1:{port}/v1" in info.value.message
    assert "pw" not in info.value.message
