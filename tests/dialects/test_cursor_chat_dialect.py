"""Cursor chat stream dialect: request parsing and the rendered SSE stream (seed 000)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf import json_format

from cursor_bridge.dialects import cursor_chat
from cursor_bridge.dialects.cursor_chat import InvalidRequest, StreamWriter, parse_request
from cursor_bridge.engine.output import TextDelta, ThinkingDelta, ToolCall, TurnFinished, Usage
from cursor_bridge.engine.request import NamedToolChoice
from cursor_bridge.protocol.messages import aiserver


def _events(sse: str) -> list[Any]:
    """Decode SSE text into its data payloads (JSON, or the literal [DONE])."""
    out: list[Any] = []
    assert sse.endswith("\n\n") or not sse
    for block in sse.split("\n\n"):
        if not block:
            continue
        assert block.startswith("data: ") and "\n" not in block, block
        data = block.removeprefix("data: ")
        out.append(data if data == "[DONE]" else json.loads(data))
    return out


# -- rendering --------------------------------------------------------------------------------


def test_text_chunks_are_text_messages() -> None:
    writer = StreamWriter()
    out = writer.render([TextDelta("Hello"), TextDelta(""), TextDelta(' "world" ✓\n')])
    assert _events(out) == [{"text": "Hello"}, {"text": ' "world" ✓\n'}]


def test_text_fast_path_matches_protobuf_json() -> None:
    for text in ["plain", 'quote " and \\ backslash', "unicode ✓ 日本", "line\nbreak\ttab"]:
        via_proto = cursor_chat.sse_text(
            cursor_chat.to_json(aiserver.StreamUnifiedChatResponse(text=text))
        )
        assert StreamWriter().text(text) == via_proto


def test_thinking_then_text_marks_the_last_thinking_chunk() -> None:
    writer = StreamWriter()
    out = writer.render([ThinkingDelta("Let me "), ThinkingDelta("think"), TextDelta("Done")])
    assert _events(out) == [
        {"thinking": {"text": "Let me "}},
        {"thinking": {"text": "think"}},
        {"thinking": {"is_last_thinking_chunk": True}},
        {"text": "Done"},
    ]


def test_tool_calls_then_finish_and_done() -> None:
    writer = StreamWriter()
    calls = [
        ToolCall(0, "call_a", "read_file", '{"path": "a.py"}'),
        ToolCall(1, "call_b", "Shell", '{"command": "ls"}'),
    ]
    out = writer.render([TextDelta("Looking."), *calls, TurnFinished("tool_calls", Usage())])
    out += writer.done()
    events = _events(out)
    assert events[0] == {"text": "Looking."}
    kinds = [next(iter(e)) if isinstance(e, dict) else e for e in events[1:]]
    assert kinds == [
        "partial_tool_call",
        "tool_call_v2",
        "partial_tool_call",
        "tool_call_v2",
        "parallel_tool_calls_complete",
        "[DONE]",
    ]
    assert events[1]["partial_tool_call"]["tool_call_id"] == "call_a"
    assert "tool_index" not in events[1]["partial_tool_call"]  # 0 is proto3's default
    assert events[3]["partial_tool_call"]["tool_index"] == 1
    assert events[4]["tool_call_v2"]["tool"] == 15
    assert events[4]["tool_call_v2"]["run_terminal_command_v2_params"]["command"] == "ls"
    assert events[5] == {"parallel_tool_calls_complete": True}


def test_text_only_finish_adds_nothing_but_done() -> None:
    writer = StreamWriter()
    out = writer.render([TextDelta("hi"), TurnFinished("stop", Usage(5, 7))]) + writer.done()
    assert _events(out) == [{"text": "hi"}, "[DONE]"]


def test_finish_closes_an_open_thinking_run() -> None:
    writer = StreamWriter()
    out = writer.render([ThinkingDelta("hmm"), TurnFinished("stop", Usage())])
    assert _events(out)[-1] == {"thinking": {"is_last_thinking_chunk": True}}


def test_error_event_is_the_error_body() -> None:
    writer = StreamWriter()
    body = {"error": {"message": "boom", "type": "api_error", "param": None, "code": "x"}}
    out = writer.render([TextDelta("partial")]) + writer.error(body)
    assert _events(out) == [{"text": "partial"}, body]


def test_field_names_are_seed_000s_and_parse_as_protobuf_json() -> None:
    """Seed 000 shows proto field names (`tool_call_v2`); a protobuf JSON parser (Cursor's
    protobuf-es `fromJson` behaves the same) accepts them, and the lowerCamelCase names."""
    call = ToolCall(3, "call_1", "Read", '{"file_path": "a.py", "limit": 4}')
    out = StreamWriter().tool_call(call)
    assert '"tool_call_v2":' in out and '"read_file_v2_params":' in out
    assert "toolCallV2" not in out
    full = _events(out)[1]
    message = json_format.ParseDict(full, aiserver.StreamUnifiedChatResponse())
    camel = json_format.MessageToDict(message, use_integers_for_enums=True)
    assert "toolCallV2" in camel
    assert json_format.ParseDict(camel, aiserver.StreamUnifiedChatResponse()) == message
    assert message.tool_call_v2.read_file_v2_params.limit == 4


# -- request parsing --------------------------------------------------------------------------


def test_parse_request_reads_a_chat_completions_body() -> None:
    chat = parse_request(
        {
            "model": "gpt-5.4",
            "stream": False,
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Read a.py"}]},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "read_file", "arguments": '{"path":"a.py"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "print(1)"},
            ],
            "tools": [
                {"type": "function", "function": {"name": "read_file", "parameters": {}}},
            ],
            "tool_choice": {"type": "function", "function": {"name": "read_file"}},
            "max_completion_tokens": 100,
            "some_cursor_extension": {"kept": "ignored"},
        }
    )
    assert chat.stream is True  # Cursor's chat is always a stream
    assert [m.role for m in chat.messages] == ["system", "user", "assistant", "tool"]
    assert chat.messages[2].tool_calls[0].name == "read_file"
    assert chat.messages[3].tool_call_id == "call_1"
    assert chat.tools[0].name == "read_file"
    assert chat.tool_choice == NamedToolChoice("read_file")
    assert chat.max_tokens == 100


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        (
            {"model": "m", "messages": [{"role": "tool", "content": "x"}]},
            "messages[0].tool_call_id",
        ),
        ({"model": "m", "messages": [{"role": "user"}]}, "messages[0].content"),
        (
            {
                "model": "m",
                "messages": [{"role": "user", "content": "x"}],
                "tool_choice": "required",
            },
            "tool_choice",
        ),
        (
            {
                "model": "m",
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "http://x/y"}}],
                    }
                ],
            },
            "messages[0].content[0].image_url",
        ),
    ],
)
def test_bad_requests_name_the_param(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_request(body)
    assert info.value.param is not None and info.value.param.startswith(param)


def test_non_object_body_is_rejected() -> None:
    with pytest.raises(InvalidRequest):
        parse_request([1, 2])
