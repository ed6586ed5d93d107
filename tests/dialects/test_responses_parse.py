"""Parsing OpenAI Responses requests into the internal request model."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from cursor_bridge.dialects.openai_responses import InvalidRequest, parse_request
from cursor_bridge.engine.request import ChatMessage, NamedToolChoice, ToolCallRecord

PNG = base64.b64encode(b"\x89PNG fake").decode()


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-5.4", "input": "hi", **fields}


def test_string_input_is_one_user_message_and_defaults_match_openai() -> None:
    parsed = parse_request(body())
    assert parsed.input == (ChatMessage("user", "hi"),)
    assert parsed.store is True and parsed.stream is False
    assert parsed.tool_choice == "auto" and parsed.parallel_tool_calls is True
    assert parsed.reasoning_summary is None and parsed.previous_response_id is None
    assert parsed.echo["store"] is True and parsed.echo["tool_choice"] == "auto"


def test_instructions_become_the_system_prompt_before_history() -> None:
    parsed = parse_request(body(instructions="Be terse.", input="now"))
    earlier = (ChatMessage("user", "before"), ChatMessage("assistant", "ok"))
    chat = parsed.chat_request(earlier)
    assert [m.role for m in chat.messages] == ["system", "user", "assistant", "user"]
    assert chat.messages[0].text == "Be terse."
    assert chat.messages[-1].text == "now"
    assert chat.include_usage is True


def test_message_items_with_every_role_and_content_form() -> None:
    parsed = parse_request(
        body(
            input=[
                {"role": "developer", "content": "dev rules"},
                {
                    "type": "message",
                    "role": "system",
                    "content": [{"type": "input_text", "text": "sys"}],
                },
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "look"},
                        {
                            "type": "input_image",
                            "image_url": f"data:image/png;base64,{PNG}",
                            "detail": "auto",
                        },
                    ],
                },
                {
                    "type": "message",
                    "role": "assistant",
                    "id": "msg_1",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": "seen", "annotations": []}],
                },
                {"role": "user", "content": "next"},
            ]
        )
    )
    roles = [(m.role, m.text) for m in parsed.input]
    assert roles == [
        ("system", "dev rules"),
        ("system", "sys"),
        ("user", "look"),
        ("assistant", "seen"),
        ("user", "next"),
    ]
    assert parsed.input[2].images[0].mime_type == "image/png"
    assert parsed.input[2].images[0].data == b"\x89PNG fake"


def test_reasoning_text_and_calls_of_one_step_form_one_assistant_message() -> None:
    parsed = parse_request(
        body(
            input=[
                {"role": "user", "content": "run two things"},
                {
                    "type": "reasoning",
                    "id": "rs_1",
                    "summary": [{"type": "summary_text", "text": "I should run both."}],
                    "encrypted_content": None,
                },
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Running."}],
                },
                {
                    "type": "function_call",
                    "call_id": "call_a",
                    "name": "exec",
                    "arguments": '{"cmd":"ls"}',
                },
                {
                    "type": "function_call",
                    "call_id": "call_b",
                    "name": "exec",
                    "arguments": '{"cmd":"pwd"}',
                    "id": "fc_2",
                    "status": "completed",
                },
                {"type": "function_call_output", "call_id": "call_a", "output": "a.txt"},
                {
                    "type": "function_call_output",
                    "call_id": "call_b",
                    "output": [{"type": "input_text", "text": "/w"}],
                },
                {"type": "reasoning", "id": "rs_2", "summary": []},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Done."}],
                },
            ]
        )
    )
    _user, step, out_a, out_b, final = parsed.input
    assert step == ChatMessage(
        "assistant",
        "Running.",
        tool_calls=(
            ToolCallRecord("call_a", "exec", '{"cmd":"ls"}'),
            ToolCallRecord("call_b", "exec", '{"cmd":"pwd"}'),
        ),
        reasoning="I should run both.",
    )
    assert (out_a.role, out_a.tool_call_id, out_a.text) == ("tool", "call_a", "a.txt")
    assert (out_b.role, out_b.tool_call_id, out_b.text) == ("tool", "call_b", "/w")
    assert final == ChatMessage("assistant", "Done.")


def test_reasoning_after_a_call_starts_a_new_step() -> None:
    parsed = parse_request(
        body(
            input=[
                {"role": "user", "content": "go"},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "again"}]},
                {"type": "function_call", "call_id": "c2", "name": "f", "arguments": "{}"},
            ]
        )
    )
    assert [len(m.tool_calls) for m in parsed.input[1:]] == [1, 1]
    assert parsed.input[2].reasoning == "again"


def test_reasoning_content_is_used_when_there_is_no_summary() -> None:
    parsed = parse_request(
        body(
            input=[
                {"role": "user", "content": "q"},
                {
                    "type": "reasoning",
                    "summary": [],
                    "content": [{"type": "reasoning_text", "text": "raw"}],
                },
                {"role": "assistant", "content": "a"},
            ]
        )
    )
    assert parsed.input[1] == ChatMessage("assistant", "a", reasoning="raw")


def test_custom_tool_calls_round_trip_as_json_arguments() -> None:
    parsed = parse_request(
        body(
            input=[
                {"role": "user", "content": "patch"},
                {
                    "type": "custom_tool_call",
                    "call_id": "c1",
                    "name": "apply_patch",
                    "input": "*** Begin",
                },
                {"type": "custom_tool_call_output", "call_id": "c1", "output": "ok"},
            ]
        )
    )
    call = parsed.input[1].tool_calls[0]
    assert json.loads(call.arguments) == {"input": "*** Begin"}
    assert parsed.input[2].tool_call_id == "c1"


def test_hosted_tool_items_are_dropped_with_a_note() -> None:
    parsed = parse_request(
        body(
            input=[
                {"role": "user", "content": "search"},
                {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {}},
                {"role": "assistant", "content": "found"},
            ]
        )
    )
    assert [m.role for m in parsed.input] == ["user", "assistant"]
    assert any("web_search_call" in note for note in parsed.notes)


def test_function_tools_namespaces_and_hosted_tools() -> None:
    parsed = parse_request(
        body(
            tools=[
                {
                    "type": "function",
                    "name": "exec_command",
                    "description": "run",
                    "strict": False,
                    "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
                },
                {
                    "type": "namespace",
                    "name": "agents",
                    "description": "sub-agents",
                    "tools": [
                        {
                            "type": "function",
                            "name": "spawn_agent",
                            "parameters": {"type": "object"},
                        }
                    ],
                },
                {"type": "web_search", "external_web_access": False},
            ]
        )
    )
    assert [t.name for t in parsed.tools] == ["exec_command", "spawn_agent"]
    assert parsed.tools[0].parameters["properties"]["cmd"] == {"type": "string"}
    assert parsed.namespaces == {"spawn_agent": "agents"}
    assert [t["type"] for t in parsed.echo["tools"]] == ["function", "namespace"]
    assert any("web_search" in note for note in parsed.notes)


def test_tool_choice_forms() -> None:
    tools = [
        {"type": "function", "name": "a", "parameters": {}},
        {"type": "function", "name": "b", "parameters": {}},
    ]
    assert parse_request(body(tools=tools, tool_choice="required")).tool_choice == "required"
    named = parse_request(body(tools=tools, tool_choice={"type": "function", "name": "b"}))
    assert named.tool_choice == NamedToolChoice("b")
    assert named.echo["tool_choice"] == {"type": "function", "name": "b"}
    allowed = parse_request(
        body(
            tools=tools,
            tool_choice={
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": "a"}],
            },
        )
    )
    assert allowed.tool_choice == "required"
    assert [t.name for t in allowed.tools] == ["a"]


def test_reasoning_effort_summary_and_limits() -> None:
    parsed = parse_request(
        body(
            reasoning={"effort": "high", "summary": "auto"},
            max_output_tokens=300,
            store=False,
            stream=True,
            parallel_tool_calls=False,
            include=["reasoning.encrypted_content"],
            text={"format": {"type": "text"}, "verbosity": "low"},
            previous_response_id="resp_1",
            prompt_cache_key="k",
            client_metadata={"x": "y"},
        )
    )
    chat = parsed.chat_request()
    assert (chat.reasoning_effort, chat.max_tokens, chat.parallel_tool_calls) == (
        "high",
        300,
        False,
    )
    assert parsed.reasoning_summary == "auto"
    assert parsed.store is False and parsed.stream is True
    assert parsed.previous_response_id == "resp_1"
    assert parsed.echo["reasoning"] == {"effort": "high", "summary": "auto"}
    assert parsed.echo["text"]["verbosity"] == "low"


def test_a_codex_shaped_request_is_accepted() -> None:
    """The shape Codex CLI 0.169 sends (recorded from a real run, texts shortened)."""
    parsed = parse_request(
        {
            "model": "gpt-5.4",
            "stream": True,
            "input": [
                {
                    "type": "message",
                    "id": "msg_a",
                    "role": "developer",
                    "content": [{"type": "input_text", "text": "You are a coding agent."}],
                },
                {
                    "type": "message",
                    "id": "msg_b",
                    "role": "developer",
                    "content": [
                        {"type": "input_text", "text": "<skills>"},
                        {"type": "input_text", "text": "<permissions>"},
                    ],
                },
                {
                    "type": "message",
                    "id": "msg_c",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "<environment_context/>"}],
                },
                {
                    "type": "message",
                    "id": "msg_d",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "do it"}],
                },
            ],
            "tools": [
                {
                    "type": "function",
                    "name": "exec_command",
                    "description": "Runs a command",
                    "strict": False,
                    "parameters": {
                        "type": "object",
                        "properties": {"cmd": {"type": "string"}},
                        "required": ["cmd"],
                        "additionalProperties": False,
                    },
                },
                {
                    "type": "namespace",
                    "name": "multi_agent_v1",
                    "description": "Sub-agents",
                    "tools": [
                        {
                            "type": "function",
                            "name": "close_agent",
                            "description": "Close",
                            "strict": False,
                            "parameters": {"type": "object", "properties": {}},
                        }
                    ],
                },
                {"type": "web_search", "external_web_access": False},
            ],
            "tool_choice": "auto",
            "parallel_tool_calls": True,
            "reasoning": {"summary": "auto"},
            "store": False,
            "include": ["reasoning.encrypted_content"],
            "prompt_cache_key": "01a2",
            "client_metadata": {"session_id": "01a2"},
        }
    )
    chat = parsed.chat_request()
    assert [m.role for m in chat.messages] == ["system", "system", "user", "user"]
    assert chat.messages[1].text == "<skills>\n<permissions>"
    assert [t.name for t in chat.tools] == ["exec_command", "close_agent"]
    assert parsed.store is False and parsed.reasoning_summary == "auto"


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": "gpt-5.4"}, "input"),
        ({"model": "gpt-5.4", "input": 5}, "input"),
        (body(input=[{"role": "wizard", "content": "x"}]), "input[0].role"),
        (body(input=[{"type": "message", "content": "x"}]), "input[0].role"),
        (body(input=["just text"]), "input[0]"),
        (body(input=[{"type": "teleport"}]), "input[0].type"),
        (body(input=[{"type": "item_reference", "id": "msg_1"}]), "input[0].type"),
        (
            body(input=[{"type": "function_call", "name": "f", "arguments": "{}"}]),
            "input[0].call_id",
        ),
        (body(input=[{"type": "function_call_output", "output": "x"}]), "input[0].call_id"),
        (
            body(input=[{"role": "user", "content": [{"type": "input_text"}]}]),
            "input[0].content[0].text",
        ),
        (
            body(input=[{"role": "user", "content": [{"type": "input_audio", "data": "x"}]}]),
            "input[0].content[0].type",
        ),
        (
            body(
                input=[
                    {
                        "role": "user",
                        "content": [{"type": "input_image", "image_url": "https://x/y.png"}],
                    }
                ]
            ),
            "input[0].content[0].image_url",
        ),
        (
            body(
                input=[{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]
            ),
            "input[0].content[0].image_url",
        ),
        (
            body(
                input=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_image", "image_url": "data:image/png;base64,!!"}
                        ],
                    }
                ]
            ),
            "input[0].content[0].image_url",
        ),
        (
            body(input=[{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]),
            "input[0].content[0].type",
        ),
        (body(tools=[{"name": "f"}]), "tools[0].type"),
        (body(tools=[{"type": "function", "function": {"name": "f"}}]), "tools[0].name"),
        (
            body(tools=[{"type": "function", "name": "f"}, {"type": "function", "name": "f"}]),
            "tools[1].name",
        ),
        (body(tool_choice="required"), "tool_choice"),
        (body(tool_choice="sometimes"), "tool_choice"),
        (
            body(
                tools=[{"type": "function", "name": "f"}],
                tool_choice={"type": "function", "name": "g"},
            ),
            "tool_choice.name",
        ),
        (body(stream="yes"), "stream"),
        (body(store="no"), "store"),
        (body(max_output_tokens=0), "max_output_tokens"),
        (body(reasoning={"summary": "verbose"}), "reasoning.summary"),
        (body(background=True), "background"),
        (body(conversation="conv_1"), "conversation"),
    ],
)
def test_invalid_requests_name_the_param(payload: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_request(payload)
    assert info.value.param == param, info.value.message


def test_non_object_body_is_rejected() -> None:
    with pytest.raises(InvalidRequest):
        parse_request([1, 2])
