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
