"""Hostile request bodies get a 400 in the caller's dialect, never a 500 or a hang."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Stack

MODEL = "claude-4.6-sonnet"
ROUTES = {
    "/v1/chat/completions": "openai",
    "/cursor/chat/completions": "openai",
    "/v1/responses": "openai",
    "/v1/messages": "anthropic",
}


def post(stack: Stack, path: str, content: bytes) -> httpx.Response:
    return httpx.post(
        stack.bridge_url + path,
        content=content,
        headers={"content-type": "application/json"},
        timeout=60,
    )


def assert_dialect_400(response: httpx.Response, dialect: str, words: str) -> None:
    assert response.status_code == 400, response.text[:300]
    body = response.json()
    if dialect == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
        message = body["error"]["message"]
    else:
        assert body["error"]["type"] == "invalid_request_error"
        message = body["error"]["message"]
    assert words in message


def chat_body(path: str, messages_json: str, extra: str = "") -> bytes:
    if path == "/v1/responses":
        return f'{{"model": "{MODEL}", "input": {messages_json}{extra}}}'.encode()
    tokens = ', "max_tokens": 64' if path == "/v1/messages" else ""
    return f'{{"model": "{MODEL}", "messages": {messages_json}{tokens}{extra}}}'.encode()


@pytest.mark.parametrize("path", ROUTES)
def test_json_nested_ten_thousand_deep(stack: Stack, path: str) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    response = post(stack, path, chat_body(path, "[]", f', "metadata": {deep}'))
    assert_dialect_400(response, ROUTES[path], "nested")


@pytest.mark.parametrize("path", ROUTES)
def test_lone_surrogate(stack: Stack, path: str) -> None:
    messages = '[{"role": "user", "content": "hi \\ud800 there"}]'
    response = post(stack, path, chat_body(path, messages))
    assert_dialect_400(response, ROUTES[path], "Unicode")


def _schema(depth: int) -> str:
    schema = '{"type": "string"}'
    for _ in range(depth):
        schema = f'{{"type": "object", "properties": {{"a": {schema}}}}}'
    return schema


def _tools(path: str, schema: str) -> str:
    if path == "/v1/messages":
        return f', "tools": [{{"name": "deep", "input_schema": {schema}}}]'
    if path == "/v1/responses":
        return f', "tools": [{{"type": "function", "name": "deep", "parameters": {schema}}}]'
    return (
        ', "tools": [{"type": "function", "function": {"name": "deep", '
        f'"parameters": {schema}}}}}]'
    )


@pytest.mark.parametrize("path", ROUTES)
def test_tool_schema_nested_25_levels(stack: Stack, path: str) -> None:
    messages = '[{"role": "user", "content": "/reply hi"}]'
    response = post(stack, path, chat_body(path, messages, _tools(path, _schema(25))))
    assert_dialect_400(response, ROUTES[path], "schema")


@pytest.mark.parametrize("path", ROUTES)
def test_a_deep_but_allowed_tool_schema_still_works(stack: Stack, path: str) -> None:
    messages = '[{"role": "user", "content": "/reply fine"}]'
    response = post(stack, path, chat_body(path, messages, _tools(path, _schema(8))))
    assert response.status_code == 200, response.text[:300]


@pytest.mark.parametrize("path", ROUTES)
def test_too_many_messages(stack: Stack, path: str) -> None:
    one = '{"role": "user", "content": "x"}'
    messages = "[" + ", ".join([one] * 100_001) + "]"
    response = post(stack, path, chat_body(path, messages))
    assert_dialect_400(response, ROUTES[path], "messages")


@pytest.mark.parametrize("path", ROUTES)
def test_overlong_string(stack: Stack, path: str) -> None:
    messages = '[{"role": "user", "content": "/reply hi"}]'
    response = post(stack, path, chat_body(path, messages, ', "user": "' + "u" * 20_000 + '"'))
    assert_dialect_400(response, ROUTES[path], "long")


def test_a_long_history_is_hashed_and_seeded_off_the_loop_and_served(stack: Stack) -> None:
    one = '{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}'
    messages = "[" + ", ".join([one] * 400) + ', {"role": "user", "content": "/reply long"}]'
    response = post(stack, "/v1/chat/completions", chat_body("/v1/chat/completions", messages))
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "long"


def test_a_body_over_the_frame_limit_is_refused_before_it_is_sent(stack: Stack) -> None:
    import socket

    from cursor_bridge.protocol.framing import DEFAULT_MAX_FRAME_SIZE

    port = int(stack.bridge_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            + f"content-length: {DEFAULT_MAX_FRAME_SIZE + 1}\r\n\r\n".encode()
        )
        answer = ""  # no body byte is sent: answered from the header alone
        while not answer.endswith("}"):
            chunk = sock.recv(65536).decode()
            if not chunk:
                break
            answer += chunk
    assert answer.startswith("HTTP/1.1 413")
    assert '"type":"error"' in answer and "request_too_large" in answer


async def test_a_client_that_trickles_its_body_is_cut_off() -> None:
    import asyncio

    import httpx as client_lib

    from cursor_bridge.engine.backend import BackendConfig, CursorBackend
    from cursor_bridge.server.app import create_app
    from cursor_bridge.server.client_keys import ClientKeys
    from cursor_bridge.server.guards import Guards

    backend = CursorBackend(BackendConfig(api_url="http://127.0.0.1:9", agent_url="x"))
    app = create_app(backend, guards=Guards(keys=ClientKeys(), body_read_timeout=0.3))

    async def trickle():  # type: ignore[no-untyped-def]
        yield b'{"model": '
        await asyncio.sleep(5)  # a slow client: the bridge must not wait for it
        yield b'"x"}'

    transport = client_lib.ASGITransport(app=app)
    try:
        async with client_lib.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            response = await asyncio.wait_for(
                c.post(
                    "/v1/chat/completions",
                    content=trickle(),
                    headers={"content-type": "application/json"},
                ),
                4,
            )
    finally:
        await backend.aclose()
    assert response.status_code == 408
    assert response.json()["error"]["code"] == "request_timeout"
