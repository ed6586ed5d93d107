"""Validation errors name the offending field as the user wrote it (`messages[0].content[1].type`),
in every dialect, never pydantic's internals (`messages.0.content.str`)."""

from __future__ import annotations

from typing import Any

import pytest

from cursor_bridge.dialects import anthropic_messages, openai_chat, openai_responses
from cursor_bridge.dialects.common import InvalidRequest, field_path

WRONG_PART = [{"type": "text", "text": "hi"}, {"type": "bogus", "text": "x"}]


@pytest.mark.parametrize(
    ("parse", "body", "param"),
    [
        (
            openai_chat.parse_request,
            {"model": "m", "messages": [{"role": "user", "content": WRONG_PART}]},
            "messages[0].content[1].type",
        ),
        (
            openai_chat.parse_request,
            {"model": "m", "messages": [{"role": "user", "content": "a"}, {"role": "x"}]},
            "messages[1].role",
        ),
        (
            lambda body: anthropic_messages.parse_request(body),
            {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": WRONG_PART}]},
            "messages[0].content[1].type",
        ),
        (
            openai_responses.parse_request,
            {"model": "m", "input": [{"role": "user", "content": [{"type": "nope"}]}]},
            "input[0].content[0].type",
        ),
    ],
)
def test_the_param_is_the_users_path(parse: Any, body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse(body)
    assert param in info.value.message
    assert ".str" not in info.value.message and "list[" not in info.value.message
    if info.value.param is not None:
        assert info.value.param == param


def test_a_value_of_neither_union_type_names_both() -> None:
    with pytest.raises(InvalidRequest) as info:
        openai_chat.parse_request({"model": "m", "messages": [{"role": "user", "content": 5}]})
    assert info.value.param == "messages[0].content"
    assert "valid string or a valid list" in info.value.message


def test_field_path_drops_branch_labels_and_brackets_indexes() -> None:
    loc = (
        "messages",
        0,
        "content",
        "list[tagged-union[TextPart,ImagePart]]",
        2,
        "TextPart",
        "text",
    )
    assert field_path(loc) == "messages[0].content[2].text"
    assert field_path((0, "type"), "input") == "input[0].type"
    assert (
        field_path(("content", 0, "input_text", "text"), tags={"input_text"}) == "content[0].text"
    )
