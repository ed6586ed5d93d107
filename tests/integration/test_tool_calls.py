"""Tool loops through bridge + emulator with the openai SDK: held-open Runs and fallbacks.

The emulator's scripted model calls client tools on `/tool NAME {json}` lines (`/then`
separates rounds) and, once every result is in, answers ``Tool results:`` quoting each one.
The emulator counts Runs, so a test can tell a continued Run from a fresh one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from openai import OpenAI

from tests.conftest import Stack, _stack
from tests.support.polling import wait_for

MODEL = "claude-4.6-sonnet"

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
CLOCK = {
    "type": "function",
    "function": {
        "name": "get.time",  # not a valid wire name: sanitised and mapped back
        "description": "Current time in a zone",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}},
    },
}


@pytest.fixture
def client(stack: Stack) -> OpenAI:
    return OpenAI(base_url=stack.bridge_url + "/v1", api_key="x", max_retries=0, timeout=20)


def answer_calls(messages: list[dict[str, Any]], message: Any, result: Any) -> None:
    """Append the assistant's tool-call message and one tool message per call."""
    messages.append(
        {
            "role": "assistant",
            "content": message.content,
            "tool_calls": [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.function.name, "arguments": c.function.arguments},
                }
                for c in message.tool_calls
            ],
        }
    )
    for call in message.tool_calls:
        messages.append({"role": "tool", "tool_call_id": call.id, "content": result(call)})


def test_single_call_continues_the_same_run(client: OpenAI, stack: Stack) -> None:
    runs = stack.counters.runs_opened
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": '/tool get_weather {"city": "Paris"}'}
    ]
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert first.usage is not None and first.usage.completion_tokens > 0
    answer_calls(messages, choice.message, lambda c: "sunny, 21C")
    second = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "Tool results:\n- get_weather: sunny, 21C"
    assert stack.counters.runs_opened == runs + 1
    assert stack.backend.tool_rounds["continued"] >= 1


def test_parallel_calls_arrive_in_one_response_and_names_map_back(client: OpenAI) -> None:
    messages: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": '/tool get_weather {"city": "Oslo"}\n/tool get_time {"zone": "CET"}',
        }
    ]
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER, CLOCK])
    calls = first.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather", "get.time"]
    assert len({c.id for c in calls}) == 2
    answer_calls(messages, first.choices[0].message, lambda c: f"result of {c.function.name}")
    second = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER, CLOCK])
    assert second.choices[0].message.content == (
        "Tool results:\n- get_weather: result of get_weather\n- get_time: result of get.time"
    )


def test_streamed_tool_calls_accumulate_like_openai(client: OpenAI, stack: Stack) -> None:
    runs = stack.counters.runs_opened
    messages: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": '/tool get_weather {"city": "Rome"}\n/tool get_weather {"city": "Nice"}',
        }
    ]
    stream = client.chat.completions.create(
        model=MODEL,
        messages=messages,
        tools=[WEATHER],
        stream=True,
        stream_options={"include_usage": True},
    )
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in stream:
        if not chunk.choices:
            continue
        for delta in chunk.choices[0].delta.tool_calls or []:
            entry = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += delta.id or ""
            if delta.function is not None:
                entry["name"] += delta.function.name or ""
                entry["arguments"] += delta.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert [json.loads(c["arguments"])["city"] for c in calls.values()] == ["Rome", "Nice"]
    messages.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for c in calls.values()
            ],
        }
    )
    for c in calls.values():
        messages.append({"role": "tool", "tool_call_id": c["id"], "content": c["arguments"]})
    stream = client.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.startswith("Tool results:\n- get_weather: ")
    assert '"Rome"' in text and '"Nice"' in text
    assert stack.counters.runs_opened == runs + 1


def test_ten_round_loop_in_one_run(client: OpenAI, stack: Stack) -> None:
    runs = stack.counters.runs_opened
    script = "\n/then\n".join(f'/tool get_weather {{"city": "c{i}"}}' for i in range(10))
    messages: list[dict[str, Any]] = [{"role": "user", "content": script}]
    for round_number in range(10):
        response = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
        assert response.choices[0].finish_reason == "tool_calls", round_number
        (call,) = response.choices[0].message.tool_calls or []
        assert json.loads(call.function.arguments) == {"city": f"c{round_number}"}
        answer_calls(messages, response.choices[0].message, lambda c, n=round_number: f"r{n}")
    final = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    lines = (final.choices[0].message.content or "").splitlines()
    assert lines == ["Tool results:", *(f"- get_weather: r{i}" for i in range(10))]
    assert stack.counters.runs_opened == runs + 1


def test_edited_history_falls_back_to_a_fresh_run_with_the_right_answer(
    client: OpenAI, stack: Stack
) -> None:
    script = '/tool get_weather {"city": "A"}\n/then\n/tool get_weather {"city": "B"}'
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": script},
    ]
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    answer_calls(messages, first.choices[0].message, lambda c: "ra")
    messages[0] = {"role": "system", "content": "be verbose"}  # the client edits history
    runs = stack.counters.runs_opened
    fallbacks = stack.backend.tool_rounds["fallback"]
    second = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    assert stack.counters.runs_opened == runs + 1
    assert stack.backend.tool_rounds["fallback"] == fallbacks + 1
    # The fresh Run saw round one in the seeded history and carries on with round two.
    (call,) = second.choices[0].message.tool_calls or []
    assert json.loads(call.function.arguments) == {"city": "B"}
    answer_calls(messages, second.choices[0].message, lambda c: "rb")
    third = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    assert third.choices[0].message.content == (
        "Tool results:\n- get_weather: ra\n- get_weather: rb"
    )
    assert stack.counters.runs_opened == runs + 1  # round three continued the new Run


def test_unknown_call_ids_fall_back(client: OpenAI, stack: Stack) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": '/tool get_weather {"city": "X"}'},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_from_elsewhere",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "X"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_from_elsewhere", "content": "cloudy"},
    ]
    runs = stack.counters.runs_opened
    response = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    assert response.choices[0].message.content == "Tool results:\n- get_weather: cloudy"
    assert stack.counters.runs_opened == runs + 1


def test_changed_tools_or_model_between_rounds_fall_back(client: OpenAI, stack: Stack) -> None:
    for change in ("tools", "model"):
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": f'/tool get_weather {{"city": "{change}"}}'}
        ]
        first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
        answer_calls(messages, first.choices[0].message, lambda c: "ok")
        tools = [WEATHER, CLOCK] if change == "tools" else [WEATHER]
        model = "gpt-5.4" if change == "model" else MODEL
        fallbacks = stack.backend.tool_rounds["fallback"]
        second = client.chat.completions.create(model=model, messages=messages, tools=tools)
        assert second.choices[0].message.content == "Tool results:\n- get_weather: ok"
        assert stack.backend.tool_rounds["fallback"] == fallbacks + 1, change


def test_interleaved_conversations_get_their_own_results(client: OpenAI, stack: Stack) -> None:
    convs: list[list[dict[str, Any]]] = [
        [{"role": "user", "content": f'/tool get_weather {{"city": "{name}"}}'}]
        for name in ("one", "two")
    ]
    firsts = [
        client.chat.completions.create(model=MODEL, messages=m, tools=[WEATHER]) for m in convs
    ]
    for messages, first, label in zip(convs, firsts, ("first", "second"), strict=True):
        answer_calls(messages, first.choices[0].message, lambda c, label=label: label)
    runs = stack.counters.runs_opened
    answers = [
        client.chat.completions.create(model=MODEL, messages=m, tools=[WEATHER])
        for m in reversed(convs)
    ]
    assert [a.choices[0].message.content for a in answers] == [
        "Tool results:\n- get_weather: second",
        "Tool results:\n- get_weather: first",
    ]
    assert stack.counters.runs_opened == runs


def test_parallel_tool_calls_false_hands_out_one_call_per_response(
    client: OpenAI, stack: Stack
) -> None:
    runs = stack.counters.runs_opened
    messages: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": '/tool get_weather {"city": "P"}\n/tool get_weather {"city": "Q"}',
        }
    ]
    cities = []
    for _ in range(2):
        response = client.chat.completions.create(
            model=MODEL, messages=messages, tools=[WEATHER], parallel_tool_calls=False
        )
        (call,) = response.choices[0].message.tool_calls or []
        cities.append(json.loads(call.function.arguments)["city"])
        answer_calls(messages, response.choices[0].message, lambda c: "r" + cities[-1])
    final = client.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER], parallel_tool_calls=False
    )
    assert cities == ["P", "Q"]
    assert final.choices[0].message.content == "Tool results:\n- get_weather: rP\n- get_weather: rQ"
    assert stack.counters.runs_opened == runs + 1


def test_named_tool_choice_offers_only_that_tool(client: OpenAI) -> None:
    # The emulator can only call tools the request context declares: its call of the other
    # tool is refused, it answers in text, and the bridge asks again for the named call
    # (which the model makes, with arguments from the schema).
    response = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": '/tool get_weather {"city": "Z"}'}],
        tools=[WEATHER, CLOCK],
        tool_choice={"type": "function", "function": {"name": "get.time"}},
    )
    assert response.choices[0].finish_reason == "tool_calls"
    calls = response.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["get.time"]  # type: ignore[union-attr]
    named = client.chat.completions.create(
        model=MODEL,
        # The model sees the sanitised wire name; the client gets its own name back.
        messages=[{"role": "user", "content": '/tool get_time {"zone": "UTC"}'}],
        tools=[WEATHER, CLOCK],
        tool_choice={"type": "function", "function": {"name": "get.time"}},
    )
    assert [c.function.name for c in named.choices[0].message.tool_calls or []] == ["get.time"]


def test_tool_choice_none_offers_no_tools(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": '/tool get_weather {"city": "Z"}'}],
        tools=[WEATHER],
        tool_choice="none",
    )
    assert response.choices[0].finish_reason == "stop"
    assert not response.choices[0].message.tool_calls


def test_tool_choice_naming_an_unknown_tool_is_a_400(client: OpenAI) -> None:
    import openai

    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "hi"}],
            tools=[WEATHER],
            tool_choice={"type": "function", "function": {"name": "nope"}},
        )
    assert info.value.body["param"] == "tool_choice.function.name"  # type: ignore[index]


def test_metrics_count_runs_parked_sessions_and_rounds(client: OpenAI, stack: Stack) -> None:
    import httpx

    def scrape() -> dict[str, float]:
        text = httpx.get(stack.bridge_url + "/metrics").text
        return {
            line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line and not line.startswith("#")
        }

    before = scrape()
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": '/tool get_weather {"city": "M"}'}
    ]
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    parked = scrape()
    assert (
        parked["cursor_bridge_upstream_runs_total"]
        == before["cursor_bridge_upstream_runs_total"] + 1
    )
    assert parked["cursor_bridge_parked_sessions"] == before["cursor_bridge_parked_sessions"] + 1
    answer_calls(messages, first.choices[0].message, lambda c: "ok")
    client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    after = scrape()
    key = 'cursor_bridge_tool_rounds_total{outcome="continued"}'
    assert after[key] == before[key] + 1
    assert after["cursor_bridge_parked_sessions"] == before["cursor_bridge_parked_sessions"]


def test_abandoned_loop_is_closed_at_the_idle_timeout(client: OpenAI, stack: Stack) -> None:
    registry = stack.backend.sessions
    saved = registry.idle_timeout
    registry.idle_timeout = 0.3
    try:
        cancelled = stack.counters.runs_cancelled
        parked = len(registry)
        response = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": '/tool get_weather {"city": "gone"}'}],
            tools=[WEATHER],
        )
        assert response.choices[0].finish_reason == "tool_calls"
        # Nobody answers: the parked Run is closed upstream once the timeout passes.
        wait_for(lambda: stack.counters.runs_cancelled > cancelled)
        assert registry.outcomes["closed_expired"] >= 1
        assert len(registry) == parked
    finally:
        registry.idle_timeout = saved


def test_restart_between_rounds_falls_back_with_the_right_answer(
    client: OpenAI, stack: Stack
) -> None:
    from cursor_bridge.engine.backend import BackendConfig, CursorBackend
    from cursor_bridge.engine.request import ChatMessage, ChatRequest, ToolCallRecord, ToolSpec

    messages: list[dict[str, Any]] = [
        {"role": "user", "content": '/tool get_weather {"city": "Lima"}'}
    ]
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    (call,) = first.choices[0].message.tool_calls or []

    async def second_round_on_a_fresh_bridge() -> list[Any]:
        # A new process: no parked sessions, no state; same backend.
        url = stack.emulator.url
        restarted = CursorBackend(BackendConfig(api_url=url, agent_url=url))
        request = ChatRequest(
            MODEL,
            (
                ChatMessage("user", '/tool get_weather {"city": "Lima"}'),
                ChatMessage(
                    "assistant",
                    "",
                    tool_calls=(
                        ToolCallRecord(call.id, call.function.name, call.function.arguments),
                    ),
                ),
                ChatMessage("tool", "misty", tool_call_id=call.id),
            ),
            tools=(ToolSpec("get_weather", "", WEATHER["function"]["parameters"]),),
        )
        try:
            choice = await restarted.resolve(request)
            events = [e async for batch in restarted.stream_turn(request, choice) for e in batch]
            assert restarted.tool_rounds["fallback"] == 1
            return events
        finally:
            await restarted.aclose()

    events = stack.call(second_round_on_a_fresh_bridge())
    text = "".join(getattr(e, "text", "") for e in events)
    assert text == "Tool results:\n- get_weather: misty"


@pytest.fixture(scope="module")
def signal_only_stack() -> Iterator[Stack]:
    """No timer and no heartbeat can end a round here (both an hour away): only the
    backend's step boundary can."""
    from cursor_bridge.emulator import EmulatorOptions

    yield from _stack(EmulatorOptions(heartbeat_interval=3600), tool_settle=3600.0)


def test_parallel_calls_end_the_response_on_the_step_boundary(
    signal_only_stack: Stack,
) -> None:
    stack = signal_only_stack
    client = OpenAI(base_url=stack.bridge_url + "/v1", api_key="x", max_retries=0, timeout=20)
    runs = stack.counters.runs_opened
    script = '/tool get_weather {"city": "Oslo"}\n/tool get_time {"zone": "CET"}\n/then\n'
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": script + '/tool get_weather {"city": "Rome"}'}
    ]
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER, CLOCK])
    assert first.choices[0].finish_reason == "tool_calls"
    calls = first.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather", "get.time"]  # together
    answer_calls(messages, first.choices[0].message, lambda c: f"result of {c.function.name}")
    second = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER, CLOCK])
    assert [c.function.name for c in second.choices[0].message.tool_calls or []] == ["get_weather"]
    answer_calls(messages, second.choices[0].message, lambda c: "rain")
    third = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER, CLOCK])
    assert third.choices[0].finish_reason == "stop"
    assert third.choices[0].message.content == (
        "Tool results:\n- get_weather: result of get_weather\n"
        "- get_time: result of get.time\n- get_weather: rain"
    )
    assert stack.counters.runs_opened == runs + 1
