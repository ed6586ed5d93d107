"""The OpenAI Responses API through bridge + emulator, driven by the official openai SDK."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from cursor_bridge.engine.output import OutputEvent, TextDelta, ToolCall, TurnFinished, Usage
from cursor_bridge.engine.request import ChatRequest
from cursor_bridge.server.app import create_app
from tests.conftest import Stack
from tests.support.bridge_apps import ScriptedBackend, serve
from tests.support.polling import wait_for

MODEL = "gpt-5.4"


@pytest.fixture
def client(stack: Stack) -> OpenAI:
    return OpenAI(base_url=stack.bridge_url + "/v1", api_key="x", max_retries=0, timeout=20)


def test_stream_helper_text_and_usage(paced_stack: Stack) -> None:
    client = OpenAI(base_url=paced_stack.bridge_url + "/v1", api_key="x", max_retries=0)
    deltas: list[str] = []
    with client.responses.stream(
        model=MODEL, input="/reply Hello there, streaming world"
    ) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert len(deltas) > 1, "the answer must arrive in several deltas"
    assert "".join(deltas) == "Hello there, streaming world"
    assert final.output_text == "Hello there, streaming world"
    assert final.status == "completed" and final.id.startswith("resp_")
    usage = final.usage
    assert usage is not None and usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


def test_raw_stream_events_are_ordered_and_numbered(client: OpenAI) -> None:
    events = list(client.responses.create(model=MODEL, input="/reply one two", stream=True))
    types = [e.type for e in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    created, completed = events[0], events[-1]
    assert created.response.id == completed.response.id  # type: ignore[union-attr]
    assert completed.response.output_text == "one two"  # type: ignore[union-attr]


def test_non_streaming_response(client: OpenAI) -> None:
    response = client.responses.create(model=MODEL, input="/reply A whole answer")
    assert response.object == "response" and response.status == "completed"
    assert response.output_text == "A whole answer"
    message = response.output[0]
    assert message.type == "message" and message.role == "assistant"
    assert response.usage is not None and response.usage.output_tokens > 0
    assert response.model == MODEL


def test_reasoning_summaries_stream_and_count(client: OpenAI) -> None:
    summary_deltas: list[str] = []
    with client.responses.stream(
        model=MODEL,
        input="/think Let me consider this\n/reply Done",
        reasoning={"effort": "high", "summary": "auto"},
    ) as stream:
        for event in stream:
            if event.type == "response.reasoning_summary_text.delta":
                summary_deltas.append(event.delta)
        final = stream.get_final_response()
    assert "".join(summary_deltas) == "Let me consider this"
    reasoning, message = final.output
    assert reasoning.type == "reasoning" and message.type == "message"
    assert [s.text for s in reasoning.summary] == ["Let me consider this"]
    assert final.output_text == "Done"
    assert final.reasoning is not None and final.reasoning.effort == "high"
    assert final.usage is not None and final.usage.output_tokens_details.reasoning_tokens > 0

    quiet = client.responses.create(model=MODEL, input="/think Hidden\n/reply Shown")
    assert quiet.output[0].type == "reasoning" and quiet.output[0].summary == []
    assert quiet.output_text == "Shown"


def test_unknown_reasoning_effort_is_400(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model=MODEL, input="hi", reasoning={"effort": "ultra"})
    assert "ultra" in str(info.value.body)


def test_instructions_and_item_history_reach_the_backend(client: OpenAI) -> None:
    response = client.responses.create(
        model=MODEL,
        instructions="You are terse.",
        input=[
            {"role": "developer", "content": "Prefer tea."},
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": "Noted, Ada."},
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "/recall"}],
            },
        ],
    )
    recalled = response.output_text
    assert "You are terse." in recalled and "Prefer tea." in recalled
    assert recalled.index("My name is Ada.") < recalled.index("Noted, Ada.")


def test_previous_response_id_chain_resolves_the_whole_history(client: OpenAI) -> None:
    first = client.responses.create(
        model=MODEL, instructions="Old rules.", input="/reply Noted, Ada.\nMy name is Ada."
    )
    second = client.responses.create(
        model=MODEL, input="/reply Tea it is.\nI like tea.", previous_response_id=first.id
    )
    third = client.responses.create(
        model=MODEL, input="/recall", previous_response_id=second.id, instructions="New rules."
    )
    recalled = third.output_text
    assert (
        "user=/reply Noted, Ada.\nMy name is Ada.; assistant=Noted, Ada.; "
        "user=/reply Tea it is.\nI like tea.; assistant=Tea it is."
    ) in recalled
    assert "rule=New rules." in recalled
    assert "Old rules." not in recalled, "instructions are not carried over (as at OpenAI)"
    assert third.previous_response_id == second.id


def test_stored_responses_can_be_read_and_deleted(client: OpenAI) -> None:
    created = client.responses.create(model=MODEL, input="/reply keep me")
    fetched = client.responses.retrieve(created.id)
    assert fetched.id == created.id and fetched.output_text == "keep me"
    assert fetched.model_dump() == created.model_dump()
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)


def test_store_false_is_not_kept(client: OpenAI) -> None:
    response = client.responses.create(model=MODEL, input="/reply gone", store=False)
    assert response.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model=MODEL, input="again", previous_response_id=response.id)
    body = info.value.body
    assert isinstance(body, dict)
    assert body["code"] == "previous_response_not_found" and body["param"] == "previous_response_id"


def test_streamed_responses_are_stored_too(client: OpenAI) -> None:
    with client.responses.stream(model=MODEL, input="/reply streamed and kept") as stream:
        final = stream.get_final_response()
    assert client.responses.retrieve(final.id).output_text == "streamed and kept"


def test_unknown_model_is_404_model_not_found(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.responses.create(model="gpt-5.44-typo", input="hi")
    body = info.value.body
    assert isinstance(body, dict) and body["code"] == "model_not_found"
    assert body["param"] == "model"


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": MODEL}, "input"),
        ({"model": MODEL, "input": [{"role": "wizard", "content": "hi"}]}, "input[0].role"),
        ({"model": MODEL, "input": "hi", "tools": [{"type": "function"}]}, "tools[0].name"),
        ({"model": MODEL, "input": "hi", "stream": "yes"}, "stream"),
    ],
)
def test_malformed_requests_are_400_with_the_param(
    stack: Stack, payload: dict[str, Any], param: str
) -> None:
    response = httpx.post(stack.bridge_url + "/v1/responses", json=payload, timeout=10)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param


def test_input_without_a_user_message_is_400(stack: Stack) -> None:
    payload = {"model": MODEL, "input": [{"role": "assistant", "content": "hello?"}]}
    response = httpx.post(stack.bridge_url + "/v1/responses", json=payload, timeout=10)
    assert response.status_code == 400
    assert "user message" in response.json()["error"]["message"]


def test_invalid_json_and_unknown_ids(stack: Stack) -> None:
    bad = httpx.post(
        stack.bridge_url + "/v1/responses",
        content=b"{nope",
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
    missing = httpx.get(stack.bridge_url + "/v1/responses/resp_missing", timeout=10)
    assert missing.status_code == 404 and "resp_missing" in missing.json()["error"]["message"]


@pytest.mark.parametrize(
    ("code", "status", "exc_type"),
    [
        ("unauthenticated", 401, openai.AuthenticationError),
        ("resource_exhausted", 429, openai.RateLimitError),
        ("unavailable", 503, openai.InternalServerError),
    ],
)
def test_backend_errors_map_to_http_statuses(
    client: OpenAI, code: str, status: int, exc_type: type[openai.APIStatusError]
) -> None:
    with pytest.raises(exc_type) as info:
        client.responses.create(model=MODEL, input=f"/fault error {code} boom")
    assert info.value.status_code == status
    assert "boom" in str(info.value.body)


def test_error_after_streaming_started_is_error_then_response_failed(client: OpenAI) -> None:
    events = list(
        client.responses.create(
            model=MODEL,
            input="/reply one two three four five\n/fault error resource_exhausted late",
            stream=True,
        )
    )
    assert [e.type for e in events[-2:]] == ["error", "response.failed"]
    error, failed = events[-2:]
    assert "late" in error.message  # type: ignore[union-attr]
    assert failed.response.status == "failed"  # type: ignore[union-attr]
    assert failed.response.error is not None  # type: ignore[union-attr]
    assert failed.response.error.code == "rate_limit_exceeded"  # type: ignore[union-attr]
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_client_disconnect_mid_stream_cancels_the_upstream_run(stack: Stack) -> None:
    cancelled_before = stack.counters.runs_cancelled
    payload = {"model": MODEL, "input": "/reply first words\n/fault stall", "stream": True}
    with httpx.stream("POST", stack.bridge_url + "/v1/responses", json=payload, timeout=10) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data:") and json.loads(line[5:]).get("delta") == "first ":
                break
    # Leaving the block closed the connection mid-stream.
    wait_for(lambda: stack.counters.runs_cancelled > cancelled_before)


# -- tool calls ---------------------------------------------------------------------------

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
    "strict": True,
}


def test_function_call_loop_with_previous_response_id(client: OpenAI, stack: Stack) -> None:
    rounds = stack.backend.tool_rounds.copy()
    first = client.responses.create(
        model=MODEL,
        input='/tool get_weather {"city": "Paris"}',
        tools=[WEATHER],  # type: ignore[list-item]
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1, first.output
    call = calls[0]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert call.id is not None and call.id.startswith("fc_")
    second = client.responses.create(
        model=MODEL,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"}],
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert "sunny, 21C" in second.output_text
    # The resolved history matched the parked Run, so the tool round continued it.
    assert stack.backend.tool_rounds - rounds == {"continued": 1}


def test_function_call_loop_stateless_streaming(client: OpenAI, stack: Stack) -> None:
    """What Codex does: store false, the whole input resent every round, streamed."""
    rounds = stack.backend.tool_rounds.copy()
    history: list[Any] = [{"role": "user", "content": '/tool get_weather {"city": "Oslo"}'}]
    with client.responses.stream(
        model=MODEL,
        input=history,
        tools=[WEATHER],
        store=False,
        reasoning={"summary": "auto"},  # type: ignore[list-item]
    ) as stream:
        arguments = [e.delta for e in stream if e.type == "response.function_call_arguments.delta"]
        first = stream.get_final_response()
    call = next(item for item in first.output if item.type == "function_call")
    assert json.loads("".join(arguments)) == {"city": "Oslo"}
    history += [item.model_dump(exclude_none=True) for item in first.output]
    history.append({"type": "function_call_output", "call_id": call.call_id, "output": "snow, -3C"})
    with client.responses.stream(
        model=MODEL, input=history, tools=[WEATHER], store=False
    ) as stream:  # type: ignore[list-item]
        second = stream.get_final_response()
    assert "snow, -3C" in second.output_text
    assert stack.backend.tool_rounds - rounds == {"continued": 1}


def test_function_calls_round_trip_with_a_scripted_engine(stack: Stack) -> None:
    """Rendering of calls and resolution of their results, independently of engine tool
    calling: a scripted engine double answers, and records what the dialect sent it."""

    def script(request: ChatRequest) -> list[OutputEvent]:
        results = [m for m in request.messages if m.role == "tool"]
        if results:
            text = "; ".join(f"{m.tool_call_id}={m.text}" for m in results)
            return [TextDelta(text), TurnFinished("stop", Usage(10, 5))]
        return [
            TextDelta("Checking both."),
            ToolCall(0, "call_1", "get_weather", '{"city": "Paris"}'),
            ToolCall(1, "call_2", "get_weather", '{"city": "Rome"}'),
            TurnFinished("tool_calls", Usage(10, 5)),
        ]

    backend = ScriptedBackend(script)
    with serve(stack, create_app(backend)) as url:
        client = OpenAI(base_url=url + "/v1", api_key="x", max_retries=0, timeout=20)
        with client.responses.stream(model=MODEL, input="weather?", tools=[WEATHER]) as stream:  # type: ignore[list-item]
            done_arguments = [
                e.arguments for e in stream if e.type == "response.function_call_arguments.done"
            ]
            first = stream.get_final_response()
        assert done_arguments == ['{"city": "Paris"}', '{"city": "Rome"}']
        assert [item.type for item in first.output] == ["message", "function_call", "function_call"]
        calls = [item for item in first.output if item.type == "function_call"]
        second = client.responses.create(
            model=MODEL,
            previous_response_id=first.id,
            input=[
                {"type": "function_call_output", "call_id": c.call_id, "output": f"sunny in {i}"}
                for i, c in enumerate(calls)
            ],
            tools=[WEATHER],  # type: ignore[list-item]
        )
    assert second.output_text == "call_1=sunny in 0; call_2=sunny in 1"
    user, step, *results = backend.requests[1].messages
    assert (user.role, user.text) == ("user", "weather?")
    assert step.role == "assistant" and step.text == "Checking both."
    assert [(c.id, c.name, c.arguments) for c in step.tool_calls] == [
        ("call_1", "get_weather", '{"city": "Paris"}'),
        ("call_2", "get_weather", '{"city": "Rome"}'),
    ]
    assert [(m.role, m.tool_call_id) for m in results] == [("tool", "call_1"), ("tool", "call_2")]
