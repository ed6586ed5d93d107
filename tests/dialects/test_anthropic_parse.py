"""Anthropic Messages request parsing: every field's mapping onto the internal ChatRequest."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from cursor_bridge.dialects.anthropic_messages import (
    InvalidRequest,
    MessagesRequest,
    parse_request,
)
from cursor_bridge.dialects.anthropic_render import thinking_signature
from cursor_bridge.engine.request import ChatMessage, NamedToolChoice

PNG = b"\x89PNG\r\n\x1a\nfake"
READ_TOOL = {
    "name": "Read",
    "description": "Read a file",
    "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}},
}


def body(**extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "hi"}],
        **extra,
    }


def parse(**extra: Any) -> MessagesRequest:
    return parse_request(body(**extra))


def test_minimal_request() -> None:
    parsed = parse()
    chat = parsed.chat
    assert chat.model == "claude-sonnet-4-5"
    assert chat.messages == (ChatMessage("user", "hi"),)
    assert chat.max_tokens == 1024 and chat.stream is False
    assert chat.tool_choice == "auto" and chat.parallel_tool_calls is True
    assert chat.reasoning_effort is None
    assert parsed.thinking == "off" and parsed.stop_sequences == ()


def test_system_as_string_and_as_blocks() -> None:
    assert parse(system="Be brief.").chat.messages[0] == ChatMessage("system", "Be brief.")
    blocks = [
        {"type": "text", "text": "First."},
        {"type": "text", "text": "Second.", "cache_control": {"type": "ephemeral"}},
    ]
    first = parse(system=blocks).chat.messages[0]
    assert first == ChatMessage("system", "First.\n\nSecond.")


def test_text_blocks_and_base64_images() -> None:
    content = [
        {"type": "text", "text": "line one"},
        {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": "image/png",
                "data": base64.b64encode(PNG).decode(),
            },
        },
        {"type": "text", "text": "line two"},
    ]
    (message,) = parse(messages=[{"role": "user", "content": content}]).chat.messages
    assert message.text == "line one\nline two"
    assert [(i.mime_type, i.data) for i in message.images] == [("image/png", PNG)]


def test_mid_conversation_system_message_is_a_system_message() -> None:
    messages = [
        {"role": "user", "content": "question"},
        {"role": "system", "content": [{"type": "text", "text": "# Environment"}]},
    ]
    chat = parse(messages=messages).chat
    assert chat.messages == (
        ChatMessage("user", "question"),
        ChatMessage("system", "# Environment"),
    )


def test_tool_use_and_tool_results_round_trip() -> None:
    image = {
        "type": "image",
        "source": {
            "type": "base64",
            "media_type": "image/jpeg",
            "data": base64.b64encode(b"j").decode(),
        },
    }
    messages = [
        {"role": "user", "content": "read two files"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "a"}},
                {"type": "tool_use", "id": "toolu_2", "name": "Read", "input": {"file_path": "b"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "alpha"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "is_error": True,
                    "content": [{"type": "text", "text": "no such file"}, image],
                },
                {"type": "text", "text": "and then?"},
            ],
        },
    ]
    chat = parse(messages=messages, tools=[READ_TOOL]).chat
    first, assistant, result_1, result_2, follow_up = chat.messages
    assert first == ChatMessage("user", "read two files")
    assert assistant.role == "assistant" and assistant.text == "Reading."
    assert [(c.id, c.name, c.arguments) for c in assistant.tool_calls] == [
        ("toolu_1", "Read", '{"file_path":"a"}'),
        ("toolu_2", "Read", '{"file_path":"b"}'),
    ]
    assert (result_1.role, result_1.tool_call_id, result_1.text, result_1.is_error) == (
        "tool",
        "toolu_1",
        "alpha",
        False,
    )
    assert result_1.name == "Read"
    assert result_2.is_error and result_2.text == "no such file"
    assert [i.mime_type for i in result_2.images] == ["image/jpeg"]
    assert follow_up == ChatMessage("user", "and then?")
    assert chat.tools[0].name == "Read" and chat.tools[0].parameters == READ_TOOL["input_schema"]


def test_a_turn_of_only_tool_results_adds_no_empty_user_message() -> None:
    messages = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t", "name": "Read", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]},
    ]
    roles = [m.role for m in parse(messages=messages).chat.messages]
    assert roles == ["user", "assistant", "tool"]


def test_thinking_blocks_become_reasoning_even_when_omitted() -> None:
    shown = {"type": "thinking", "thinking": "visible thought", "signature": "sig"}
    hidden = {
        "type": "thinking",
        "thinking": "",
        "signature": thinking_signature("hidden thought", True),
    }
    redacted = {"type": "redacted_thinking", "data": "opaque"}
    for block, expected in ((shown, "visible thought"), (hidden, "hidden thought"), (redacted, "")):
        messages = [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [block, {"type": "text", "text": "a"}]},
            {"role": "user", "content": "next"},
        ]
        assert parse(messages=messages).chat.messages[1].reasoning == expected


@pytest.mark.parametrize(
    ("thinking", "output_config", "effort", "display"),
    [
        (None, None, None, "off"),
        ({"type": "disabled"}, None, None, "off"),
        ({"type": "enabled", "budget_tokens": 1024}, None, "low", "summarized"),
        ({"type": "enabled", "budget_tokens": 4096}, None, "low", "summarized"),
        ({"type": "enabled", "budget_tokens": 10000}, None, "medium", "summarized"),
        ({"type": "enabled", "budget_tokens": 31999}, None, "high", "summarized"),
        ({"type": "adaptive"}, None, None, "summarized"),
        ({"type": "adaptive", "display": "omitted"}, {"effort": "medium"}, "medium", "omitted"),
        ({"type": "adaptive"}, {"effort": "max"}, "high", "summarized"),
        ({"type": "enabled", "budget_tokens": 31999}, {"effort": "low"}, "low", "summarized"),
    ],
)
def test_thinking_maps_to_reasoning_effort(
    thinking: dict[str, Any] | None,
    output_config: dict[str, Any] | None,
    effort: str | None,
    display: str,
) -> None:
    extra: dict[str, Any] = {}
    if thinking is not None:
        extra["thinking"] = thinking
    if output_config is not None:
        extra["output_config"] = output_config
    parsed = parse(**extra)
    assert parsed.chat.reasoning_effort == effort
    assert parsed.thinking == display


@pytest.mark.parametrize(
    ("choice", "expected", "parallel"),
    [
        ({"type": "auto"}, "auto", True),
        ({"type": "any"}, "required", True),
        ({"type": "none"}, "none", True),
        ({"type": "tool", "name": "Read"}, NamedToolChoice("Read"), True),
        ({"type": "auto", "disable_parallel_tool_use": True}, "auto", False),
        ({"type": "any", "disable_parallel_tool_use": True}, "required", False),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: object, parallel: bool) -> None:
    chat = parse(tools=[READ_TOOL], tool_choice=choice).chat
    assert chat.tool_choice == expected
    assert chat.parallel_tool_calls is parallel


def test_claude_code_request_shape_is_accepted() -> None:
    """The fields Claude Code sends (see shared clients notes) parse without complaint."""
    parsed = parse(
        stream=True,
        metadata={"user_id": '{"device_id":"d","session_id":"s"}'},
        thinking={"type": "adaptive", "display": "omitted"},
        output_config={"effort": "medium"},
        context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        tools=[READ_TOOL, {**READ_TOOL, "name": "Deferred", "defer_loading": True}],
        system=[{"type": "text", "text": "x-anthropic-billing-header: cc_version=1;"}],
        temperature=1,
        stop_sequences=["</done>"],
    )
    assert parsed.chat.stream and parsed.thinking == "omitted"
    assert parsed.stop_sequences == ("</done>",)
    assert [t.name for t in parsed.chat.tools] == ["Read", "Deferred"]


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ([], "JSON object"),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}]},
            "max_tokens: Field required",
        ),
        (body(max_tokens=0), "max_tokens"),
        (
            {"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
            "model: Field required",
        ),
        (body(messages=[]), "messages"),
        (body(messages=[{"role": "wizard", "content": "x"}]), "messages[0].role"),
        (body(messages=[{"role": "user", "content": 5}]), "messages[0].content"),
        (
            body(messages=[{"role": "user", "content": [{"type": "video"}]}]),
            "'video' is not supported",
        ),
        (body(stream="yes"), "stream"),
        (body(temperature=3), "temperature"),
        (body(thinking={"type": "enabled"}), "thinking.budget_tokens"),
        (body(thinking={"type": "sometimes"}), "thinking.type"),
        (body(tool_choice={"type": "any"}), "needs tools"),
        (body(tools=[READ_TOOL], tool_choice={"type": "tool", "name": "Nope"}), "tool_choice.name"),
        (body(tools=[{"name": "x"}]), "tools[0].input_schema"),
        (body(tools=[{"type": "web_search_20250305", "name": "web_search"}]), "server tool"),
        (body(mcp_servers=[{"type": "url", "url": "http://x"}]), "mcp_servers"),
        (body(output_config={"format": {"type": "json_object"}}), "only 'json_schema'"),
        (
            body(output_config={"format": {"type": "json_schema", "schema": {"type": 5}}}),
            "Invalid JSON schema",
        ),
        (
            body(
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "image", "source": {"type": "url", "url": "http://x"}}
                        ],
                    }
                ]
            ),
            "only base64",
        ),
        (
            body(
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": "!!",
                                },
                            }
                        ],
                    }
                ]
            ),
            "not valid base64",
        ),
        (
            body(
                messages=[
                    {"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "t"}]}
                ]
            ),
            "not allowed in assistant",
        ),
        (
            body(
                messages=[
                    {"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "x"}]}
                ]
            ),
            "not allowed in user",
        ),
    ],
)
def test_invalid_requests_name_the_problem(payload: Any, fragment: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_request(payload)
    assert fragment in info.value.message


def test_count_tokens_body_needs_no_max_tokens() -> None:
    parsed = parse_request(
        {"model": "m", "messages": [{"role": "user", "content": "x"}]}, count_only=True
    )
    assert parsed.chat.max_tokens is None


def test_documents_with_text_sources_become_text() -> None:
    content = [
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "doc body"},
        },
        {"type": "text", "text": "summarise"},
    ]
    (message,) = parse(messages=[{"role": "user", "content": content}]).chat.messages
    assert message.text == "doc body\nsummarise"
