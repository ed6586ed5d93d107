"""Chat completions through bridge + emulator, driven by the official openai SDK."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai import OpenAI

from tests.conftest import Stack
from tests.support.polling import wait_for


@pytest.fixture
def client(stack: Stack) -> OpenAI:
    return OpenAI(base_url=stack.bridge_url + "/v1", api_key="x", max_retries=0, timeout=20)


def test_streaming_text_with_usage(paced_stack: Stack) -> None:
    client = OpenAI(base_url=paced_stack.bridge_url + "/v1", api_key="x", max_retries=0)
    stream = client.chat.completions.create(
        model="claude-4.6-sonnet",
        messages=[{"role": "user", "content": "/reply Hello there, streaming world"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello there, streaming world"
    assert chunks[0].choices[0].delta.role == "assistant"
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) > 1, "the answer must arrive in several deltas"
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["stop"]
    usage = chunks[-1].usage
    assert usage is not None and not chunks[-1].choices
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_streaming_without_include_usage_sends_no_usage_chunk(client: OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="claude-4.6-sonnet",
            messages=[{"role": "user", "content": "/reply ok"}],
            stream=True,
        )
    )
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)


def test_non_streaming_completion(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model="claude-4.6-sonnet",
        messages=[{"role": "user", "content": "/reply A whole answer"}],
    )
    assert response.object == "chat.completion"
    assert response.choices[0].message.content == "A whole answer"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None and response.usage.completion_tokens > 0


def test_reasoning_arrives_as_reasoning_content(client: OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="claude-4.6-sonnet",
            messages=[{"role": "user", "content": "/think Let me consider this\n/reply Done"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    reasoning = "".join(
        getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices
    )
    assert reasoning == "Let me consider this"
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens > 0

    whole = client.chat.completions.create(
        model="claude-4.6-sonnet",
        messages=[{"role": "user", "content": "/think Pondering\n/reply Done"}],
    )
    assert whole.choices[0].message.content == "Done"
    assert getattr(whole.choices[0].message, "reasoning_content", None) == "Pondering"


def test_multi_turn_history_and_system_prompt_reach_the_backend(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model="claude-4.6-sonnet",
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": "Noted, Ada."},
            {"role": "user", "content": "I like tea."},
            {"role": "assistant", "content": "Tea it is."},
            {"role": "user", "content": "/recall"},
        ],
    )
    recalled = response.choices[0].message.content or ""
    for fragment in (
        "You are terse.",
        "My name is Ada.",
        "Noted, Ada.",
        "I like tea.",
        "Tea it is.",
    ):
        assert fragment in recalled
    assert recalled.index("My name is Ada.") < recalled.index("I like tea.")


def test_history_blobs_are_served_to_the_backend(client: OpenAI, stack: Stack) -> None:
    before = stack.counters.blobs_get
    client.chat.completions.create(
        model="claude-4.6-sonnet",
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": "second"},
        ],
    )
    # Root prompt: the user and assistant entries (no system prompt, no rules); state: the
    # turn structure, its user message and one assistant step.
    assert stack.counters.blobs_get - before == 5


def test_models_endpoint_lists_the_backend_catalog(client: OpenAI) -> None:
    models = client.models.list()
    ids = [m.id for m in models.data]
    assert "claude-4.6-sonnet" in ids and "gpt-5.4" in ids
    entry = next(m for m in models.data if m.id == "claude-4.6-sonnet")
    assert entry.owned_by == "cursor"
    assert (entry.model_extra or {}).get("context_window", 0) >= 200_000
    assert client.models.retrieve("gpt-5.4").id == "gpt-5.4"


def test_unknown_model_is_404_model_not_found_with_suggestions(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(
            model="claude-4.6-sonet", messages=[{"role": "user", "content": "hi"}]
        )
    body = info.value.body
    assert isinstance(body, dict) and body["code"] == "model_not_found"
    assert "claude-4.6-sonnet" in body["message"]


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "gpt-5.4"}, "messages"),
        ({"model": "gpt-5.4", "messages": []}, "messages"),
        (
            {"model": "gpt-5.4", "messages": [{"role": "wizard", "content": "hi"}]},
            "messages[0].role",
        ),
        ({"model": "gpt-5.4", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (
            {"model": "gpt-5.4", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"},
            "stream",
        ),
        ({"model": "gpt-5.4", "messages": [{"role": "user", "content": "hi"}], "n": 3}, "n"),
        (
            {"model": "gpt-5.4", "messages": [{"role": "tool", "content": "x"}]},
            "messages[0].tool_call_id",
        ),
    ],
)
def test_malformed_requests_are_400_with_the_param(stack: Stack, payload: dict, param: str) -> None:
    response = httpx.post(stack.bridge_url + "/v1/chat/completions", json=payload, timeout=10)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] is not None and error["param"].startswith(param)


def test_invalid_json_is_400(stack: Stack) -> None:
    response = httpx.post(
        stack.bridge_url + "/v1/chat/completions",
        content=b"{not json",
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_unknown_route_is_an_openai_shaped_404(stack: Stack) -> None:
    response = httpx.get(stack.bridge_url + "/v1/nothing-here", timeout=10)
    assert response.status_code == 404
    assert "error" in response.json()


@pytest.mark.parametrize(
    ("code", "status", "exc_type"),
    [
        ("unauthenticated", 401, openai.AuthenticationError),
        ("permission_denied", 403, openai.PermissionDeniedError),
        ("resource_exhausted", 429, openai.RateLimitError),
        ("unavailable", 503, openai.InternalServerError),
        ("internal", 502, openai.InternalServerError),
    ],
)
def test_backend_errors_map_to_http_statuses(
    client: OpenAI, code: str, status: int, exc_type: type[openai.APIStatusError]
) -> None:
    with pytest.raises(exc_type) as info:
        client.chat.completions.create(
            model="gpt-5.4", messages=[{"role": "user", "content": f"/fault error {code} boom"}]
        )
    assert info.value.status_code == status
    assert "boom" in str(info.value.body)
    if code == "unauthenticated":
        assert "cursor-bridge login" in str(info.value.body)


def test_error_after_streaming_started_arrives_as_an_error_event(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-5.4",
        messages=[
            {
                "role": "user",
                "content": "/reply one two three four five\n/fault error unavailable late",
            }
        ],
        stream=True,
    )
    with pytest.raises(openai.APIError) as info:
        for _ in stream:
            pass
    assert "late" in str(info.value)


@pytest.mark.parametrize("fault", ["malformed", "huge-frame", "end-early", "disconnect"])
def test_broken_backend_streams_become_errors_not_hangs(client: OpenAI, fault: str) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(
            model="gpt-5.4", messages=[{"role": "user", "content": f"/fault {fault}"}]
        )
    assert info.value.status_code in (502, 503)


def test_client_disconnect_mid_stream_cancels_the_upstream_run(stack: Stack) -> None:
    cancelled_before = stack.counters.runs_cancelled
    payload = {
        "model": "gpt-5.4",
        "messages": [{"role": "user", "content": "/reply first words\n/fault stall"}],
        "stream": True,
    }
    with httpx.stream(
        "POST", stack.bridge_url + "/v1/chat/completions", json=payload, timeout=10
    ) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if '"content":"first' in line or '"content": "first' in line:
                break
    # Leaving the block closed the connection mid-stream.
    wait_for(lambda: stack.counters.runs_cancelled > cancelled_before)


def test_concurrent_streams(client: OpenAI) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> str:
        response = client.chat.completions.create(
            model="gpt-5.4", messages=[{"role": "user", "content": f"/reply answer {i}"}]
        )
        return response.choices[0].message.content or ""

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(48)))
    assert answers == [f"answer {i}" for i in range(48)]


def test_health(stack: Stack) -> None:
    response = httpx.get(stack.bridge_url + "/health", timeout=10)
    assert response.json() == {"status": "ok", "mode": "emulator"}
