"""One access-log line per request at the default level, with what a user needs to see (route,
dialect, requested and Cursor model, status, time to first token, duration, tokens, how the Run
was obtained), a response header naming the Cursor model, and never any prompt content."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from cursor_bridge.access import AccessRecord
from cursor_bridge.logs import JsonFormatter
from cursor_bridge.server.request_log import TTFT_BUCKETS, RequestLog
from tests.conftest import Stack
from tests.support.polling import wait_for

SECRET_PROMPT = "my-private-prompt-words"
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def access_records(
    caplog: pytest.LogCaptureFixture, path: str, count: int = 0
) -> list[logging.LogRecord]:
    """The access records of *path*, once *count* are there: the line is written after the
    last byte was sent, so the client can be a moment ahead of it."""

    def found() -> list[logging.LogRecord]:
        return [
            r
            for r in caplog.records
            if r.name == "cursor_bridge.access" and r.access["path"] == path
        ]

    wait_for(lambda: len(found()) >= count, timeout=5)
    return found()


def chat(stack: Stack, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{stack.bridge_url}/v1/chat/completions", json=body, timeout=20)


def test_one_line_per_request_with_model_run_and_tokens(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "cursor_bridge.access")
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": f'{SECRET_PROMPT}\n/tool get_weather {{"city": "Paris"}}'}
    ]
    first = chat(stack, {"model": "claude-sonnet-4-5", "messages": messages, "tools": [TOOL]})
    assert first.status_code == 200
    assert first.headers["x-cursor-bridge-model"] == "claude-4.6-sonnet"
    call = first.json()["choices"][0]["message"]["tool_calls"][0]
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny"},
    ]
    second = chat(stack, {"model": "claude-sonnet-4-5", "messages": messages, "tools": [TOOL]})
    assert second.status_code == 200
    records = access_records(caplog, "/v1/chat/completions", 2)
    assert len(records) == 2
    fresh, continued = (r.access for r in records)
    assert fresh["method"] == "POST" and fresh["dialect"] == "openai-chat"
    assert fresh["model"] == "claude-sonnet-4-5" and fresh["cursor_model"] == "claude-4.6-sonnet"
    assert fresh["status"] == 200 and fresh["run"] == "fresh"
    assert 0 < fresh["ttft_ms"] <= fresh["duration_ms"]
    assert fresh["input_tokens"] >= 0 and fresh["output_tokens"] > 0
    assert continued["run"] == "continued"
    assert all(r.levelno == logging.INFO for r in records)
    line = records[0].getMessage()
    assert "claude-sonnet-4-5 -> claude-4.6-sonnet 200" in line and "run=fresh" in line
    for record in records:
        assert SECRET_PROMPT not in record.getMessage() + json.dumps(record.access)


def test_failures_are_logged_with_status_and_reason(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "cursor_bridge.access")
    bad = httpx.post(
        f"{stack.bridge_url}/v1/messages",
        json={"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "x"}]},
        timeout=20,
    )
    assert bad.status_code == 400
    (record,) = access_records(caplog, "/v1/messages", 1)
    assert record.access["status"] == 400 and record.access["dialect"] == "anthropic"
    assert record.access["model"] == "claude-sonnet-4-5"  # named even though it failed
    assert "claude-sonnet-4-5 400" in record.getMessage()
    assert "max_tokens" in record.access["error"]
    unknown = chat(
        stack, {"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}
    )
    assert unknown.status_code == 404
    record = access_records(caplog, "/v1/chat/completions", 1)[-1]
    assert record.access["status"] == 404 and record.access["model"] == "no-such-model"
    assert "cursor_model" not in record.access and "does not exist" in record.access["error"]


def test_json_format_puts_the_fields_at_the_top_level(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "cursor_bridge.access")
    stream = chat(
        stack,
        {"model": "gpt-5.4", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert stream.status_code == 200 and stream.headers["x-cursor-bridge-model"] == "gpt-5.4"
    (record,) = access_records(caplog, "/v1/chat/completions", 1)
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "info" and line["logger"] == "cursor_bridge.access"
    assert line["status"] == 200 and line["cursor_model"] == "gpt-5.4" and line["output_tokens"] > 0


def test_health_checks_are_not_logged_at_info(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "cursor_bridge.access")
    assert httpx.get(f"{stack.bridge_url}/health", timeout=10).status_code == 200
    assert httpx.get(f"{stack.bridge_url}/v1/models", timeout=10).status_code == 200
    assert len(access_records(caplog, "/v1/models", 1)) == 1  # logged by now: /health too
    assert access_records(caplog, "/health") == []


@pytest.mark.parametrize(
    ("path", "suggestion"),
    [
        ("/chat/completions", "POST /v1/chat/completions"),
        ("/messages", "POST /v1/messages"),
        ("/v1/v1/responses", "POST /v1/responses"),
        ("/v1/chat/completion", "POST /v1/chat/completions"),
        ("/models", "GET /v1/models"),
    ],
)
def test_unknown_paths_suggest_the_nearest_route(stack: Stack, path: str, suggestion: str) -> None:
    response = httpx.post(f"{stack.bridge_url}{path}", json={}, timeout=10)
    assert response.status_code == 404
    body = response.json()
    assert f"Did you mean {suggestion}?" in body["error"]["message"]


def test_each_time_to_first_output_lands_in_the_first_bucket_that_holds_it() -> None:
    """The histogram slot is the first bound at or above the ttft (bisect), bounds included."""
    values = [0.0, 0.01, *TTFT_BUCKETS, *(b + 1e-9 for b in TTFT_BUCKETS), 1e9]
    log = RequestLog()
    for ttft in values:
        record = AccessRecord("POST", "/v1/chat/completions", "openai-chat", started=0.0)
        record.first_output = ttft
        log.add(record)
    expected = [0] * (len(TTFT_BUCKETS) + 1)
    for ttft in values:
        slot = next((i for i, b in enumerate(TTFT_BUCKETS) if ttft <= b), len(TTFT_BUCKETS))
        expected[slot] += 1
    assert log.ttft_counts["openai-chat"] == expected
