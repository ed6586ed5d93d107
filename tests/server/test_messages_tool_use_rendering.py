"""The /v1/messages route over a scripted backend that emits ToolCall events.

The tool-use rendering of the route is checked here with exact synthetic events (thinking,
text, parallel calls, usage with cache reads) end to end through the official anthropic SDK
(its stream accumulator and its `Message` model) over an in-process ASGI transport.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from anthropic import AsyncAnthropic

from cursor_bridge.engine.backend import BackendConfig, CursorBackend
from cursor_bridge.engine.catalog import ModelChoice, ModelInfo
from cursor_bridge.engine.output import (
    OutputEvent,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    TurnFinished,
    TurnStarted,
)
from cursor_bridge.engine.request import ChatRequest
from cursor_bridge.protocol.events import Usage
from cursor_bridge.server.app import create_app

READ = {
    "name": "Read",
    "description": "Read a file",
    "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}},
}


class ScriptedBackend(CursorBackend):
    """A CursorBackend whose turns are scripted: nothing is ever sent upstream."""

    def __init__(self, batches: list[list[OutputEvent]]) -> None:
        super().__init__(
            BackendConfig(api_url="http://unused.invalid", agent_url="http://unused.invalid")
        )
        self.batches = batches
        self.requests: list[ChatRequest] = []

    async def resolve(self, request: ChatRequest) -> ModelChoice:
        self.requests.append(request)
        return ModelChoice(ModelInfo("claude-4.6-opus", "Claude 4.6 Opus"), "claude-4.6-opus")

    async def stream_turn(
        self, request: ChatRequest, choice: ModelChoice
    ) -> AsyncIterator[list[OutputEvent]]:
        for batch in self.batches:
            yield batch


TOOL_TURN: list[list[OutputEvent]] = [
    [TurnStarted(44), ThinkingDelta("I should read both files.")],
    [TextDelta("Reading them now.")],
    [
        ToolCall(0, "toolu_01", "Read", '{"file_path": "/tmp/a.txt"}'),
        ToolCall(1, "toolu_02", "Read", '{"file_path": "/tmp/b.txt"}'),
    ],
    [TurnFinished("tool_calls", Usage(input_tokens=40, output_tokens=12, cache_read_tokens=8))],
]


def client_for(backend: ScriptedBackend) -> AsyncAnthropic:
    app = create_app(backend)
    transport = httpx2.ASGITransport(app=app)
    http = httpx2.AsyncClient(transport=transport, base_url="http://bridge")
    return AsyncAnthropic(base_url="http://bridge", api_key="x", http_client=http, max_retries=0)


def request_args(**extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-opus-5-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "read a and b"}],
        "tools": [READ],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        **extra,
    }


async def test_streamed_tool_use_accumulates_in_the_sdk() -> None:
    backend = ScriptedBackend(TOOL_TURN)
    async with client_for(backend).messages.stream(**request_args()) as stream:
        seen = [event.type async for event in stream]
        message = await stream.get_final_message()
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use", "tool_use"]
    calls = [b for b in message.content if b.type == "tool_use"]
    assert [(c.id, c.name, c.input) for c in calls] == [
        ("toolu_01", "Read", {"file_path": "/tmp/a.txt"}),
        ("toolu_02", "Read", {"file_path": "/tmp/b.txt"}),
    ]
    assert "input_json" in seen  # the SDK saw input_json_delta events
    assert message.stop_reason == "tool_use"
    # message_delta repeats the input side message_start announced (the engine's up-front
    # figure), so the two never disagree; the output count is the backend's.
    assert message.usage.input_tokens == 44 and message.usage.output_tokens == 12
    assert message.usage.cache_read_input_tokens == 0
    assert backend.requests[0].tools[0].name == "Read"


async def test_whole_tool_use_message() -> None:
    message = await client_for(ScriptedBackend(TOOL_TURN)).messages.create(**request_args())
    assert message.stop_reason == "tool_use"
    tool = message.content[2]
    assert tool.type == "tool_use" and tool.input == {"file_path": "/tmp/a.txt"}


async def test_tool_results_sent_back_reach_the_engine_as_tool_messages() -> None:
    backend = ScriptedBackend([[TextDelta("a says hi")], [TurnFinished("stop", Usage())]])
    first = await client_for(ScriptedBackend(TOOL_TURN)).messages.create(**request_args())
    follow_up = [
        {"role": "user", "content": "read a and b"},
        first.to_param(),
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "hi"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_02",
                    "content": "gone",
                    "is_error": True,
                },
            ],
        },
    ]
    message = await client_for(backend).messages.create(**request_args(messages=follow_up))
    assert message.content[0].type == "text" and message.stop_reason == "end_turn"
    sent = backend.requests[0].messages
    assert [m.role for m in sent] == ["user", "assistant", "tool", "tool"]
    assistant = sent[1]
    assert assistant.reasoning == "I should read both files."
    assert [c.id for c in assistant.tool_calls] == ["toolu_01", "toolu_02"]
    assert [(m.tool_call_id, m.name, m.text, m.is_error) for m in sent[2:]] == [
        ("toolu_01", "Read", "hi", False),
        ("toolu_02", "Read", "gone", True),
    ]


@pytest.mark.parametrize("stream", [True, False])
async def test_a_turn_ended_by_a_stop_sequence_renders_its_reason(stream: bool) -> None:
    # The engine matches the sequence and withholds it (tests/engine/test_output_control.py).
    backend = ScriptedBackend(
        [[TextDelta("alpha bravo ")], [TurnFinished("stop", Usage(), stop_sequence="STOP")]]
    )
    client = client_for(backend)
    args = request_args(stop_sequences=["STOP"], tools=[])
    if stream:
        async with client.messages.stream(**args) as events:
            message = await events.get_final_message()
    else:
        message = await client.messages.create(**args)
    assert message.content[-1].type == "text" and message.content[-1].text == "alpha bravo "
    assert message.stop_reason == "stop_sequence" and message.stop_sequence == "STOP"
