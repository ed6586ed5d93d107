"""The local input-token estimate behind count_tokens."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cursor_bridge.engine import token_estimate
from cursor_bridge.engine.request import (
    ChatMessage,
    ChatRequest,
    ImageInput,
    ToolCallRecord,
    ToolSpec,
)
from cursor_bridge.engine.token_estimate import (
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    estimate_input_tokens,
    input_token_bound,
    rough_input_tokens,
    text_tokens,
)


def test_text_pieces() -> None:
    assert text_tokens("") == 0
    assert text_tokens("cat") == 1  # one short word
    assert text_tokens("internationalization") == 5  # 20 letters, 4 per token
    assert text_tokens("12345") == 2  # digits in threes
    assert text_tokens("a.b") == 3  # punctuation splits
    assert text_tokens("日本語") == 3  # non-Latin characters count one each


def test_the_request_counts_messages_images_and_tools() -> None:
    base = ChatRequest("m", (ChatMessage("user", "hello world"),))
    assert estimate_input_tokens(base) == MESSAGE_OVERHEAD + 4
    with_image = ChatRequest(
        "m", (ChatMessage("user", "hello world", (ImageInput("image/png", b"x"),)),)
    )
    assert estimate_input_tokens(with_image) == estimate_input_tokens(base) + IMAGE_TOKENS
    tool = ToolSpec("Read", "Read a file", {"type": "object"})
    with_tool = ChatRequest("m", base.messages, tools=(tool,))
    assert estimate_input_tokens(with_tool) > estimate_input_tokens(base)


@settings(max_examples=100, deadline=None)
@given(st.text(), st.text())
def test_appending_text_never_lowers_the_count(a: str, b: str) -> None:
    assert text_tokens(a + " " + b) >= text_tokens(a)


def test_rough_figure_tracks_size() -> None:
    short = ChatRequest("m", (ChatMessage("user", "x" * 40),))
    long = ChatRequest("m", (ChatMessage("user", "x" * 4000),))
    assert 0 < rough_input_tokens(short) < rough_input_tokens(long)
    assert rough_input_tokens(long) >= 1000


def test_the_rough_figure_counts_every_character_once_with_tools_remembered() -> None:
    tools = (ToolSpec("read", "Read a file", {"type": "object"}),)
    call = ToolCallRecord("c1", "read", '{"path": "a"}')
    messages = (
        ChatMessage("user", "x" * 40, images=(ImageInput("image/png", b"."),)),
        ChatMessage("assistant", "", tool_calls=(call, call), reasoning="y" * 8),
        ChatMessage("tool", "z" * 12, tool_call_id="c1"),
    )
    request = ChatRequest(model="m", messages=messages, tools=tools)
    chars = 40 + 8 + 2 * len(call.arguments) + 12
    chars += len("Read a file") + len('{"type":"object"}')  # the schema as compact JSON
    expected = chars // 4 + 1600 + 3 * 3
    assert rough_input_tokens(request) == expected
    assert rough_input_tokens(request) == expected  # the tools' share, remembered
    other = (ToolSpec("read", "Read a file, longer", {"type": "object"}),)
    longer = ChatRequest(model="m", messages=messages, tools=other)
    assert rough_input_tokens(longer) == (chars + 8) // 4 + 1600 + 9


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.text(), st.text(), st.text(), st.integers(0, 2)), max_size=4),
    st.lists(st.tuples(st.text(max_size=20), st.text(), st.text()), max_size=3),
)
def test_the_length_bound_is_never_below_the_estimate(
    messages: list[tuple[str, str, str, int]], tools: list[tuple[str, str, str]]
) -> None:
    request = ChatRequest(
        "m",
        tuple(
            ChatMessage(
                "assistant",
                text,
                (ImageInput("image/png", b"x"),) * images,
                (ToolCallRecord("c", "name", arguments),),
                reasoning=reasoning,
            )
            for text, reasoning, arguments, images in messages
        ),
        tools=tuple(ToolSpec(name, doc, {"description": schema}) for name, doc, schema in tools),
    )
    assert input_token_bound(request) >= estimate_input_tokens(request)


def _plain_bound(request: ChatRequest) -> int:
    """`input_token_bound` as it was written before its tool figure was remembered."""
    import json

    count = 0
    for m in request.messages:
        count += MESSAGE_OVERHEAD + len(m.text) + len(m.reasoning)
        count += IMAGE_TOKENS * len(m.images)
        count += sum(len(call.name) + len(call.arguments) for call in m.tool_calls)
    for tool in request.tools:
        schema = json.dumps(tool.parameters, separators=(",", ":"))
        count += len(tool.name) + len(tool.description) + len(schema)
    return count


def test_the_bound_of_tools_is_remembered_only_for_the_same_tuple() -> None:
    message = ChatMessage(
        "assistant",
        "text",
        (ImageInput("image/png", b"x"),) * 2,
        (ToolCallRecord("c", "name", '{"a": 1}'),),
        reasoning="why",
    )
    tools = (ToolSpec("read", "Reads.", {"type": "object", "é": [1, 2]}), ToolSpec("w"))
    request = ChatRequest("m", (message, ChatMessage("user", "go")), tools=tools)
    assert input_token_bound(request) == _plain_bound(request)
    assert input_token_bound(request) == _plain_bound(request)  # remembered: the same
    # Equal-looking but another tuple, with a longer schema: its own figure.
    other = (ToolSpec("read", "Reads.", {"type": "object", "é": [1, 2, 3]}), ToolSpec("w"))
    longer = ChatRequest("m", request.messages, tools=other)
    assert input_token_bound(longer) == _plain_bound(longer) == _plain_bound(request) + 2
    assert input_token_bound(ChatRequest("m", request.messages)) == _plain_bound(
        ChatRequest("m", request.messages)
    )


def test_a_remembered_tool_bound_is_used_only_for_the_very_tuple(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An entry under a tuple's id made for another tuple (an id reused after the first
    died) is not this tuple's figure."""
    tools = (ToolSpec("read", "Reads.", {"type": "object"}),)
    stale = (ToolSpec("x"),)
    monkeypatch.setattr(token_estimate, "_TOOL_BOUNDS", {id(tools): (stale, 999_999)})
    request = ChatRequest("m", (ChatMessage("user", "go"),), tools=tools)
    assert input_token_bound(request) == _plain_bound(request)
