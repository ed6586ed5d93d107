"""The plain-body fast path of chat_body (`_parse_plain`) reads exactly what the schema path
reads, and leaves every other body (including every body the schema refuses) to it."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cursor_bridge.dialects.chat_body import _parse_plain, _parse_validated, parse_request
from cursor_bridge.dialects.common import InvalidRequest
from cursor_bridge.engine.request import ChatMessage, ChatRequest

ODD = st.one_of(
    st.none(), st.integers(), st.floats(allow_nan=False), st.lists(st.text(), max_size=2)
)
ROLES = ["system", "developer", "user", "assistant", "tool"]
EXTRA = {
    "body": ["stream_options", "temperature", "n", "audio", "tools", "stop", "x"],
    "message": ["name", "tool_call_id", "reasoning_content", "tool_calls", "x"],
}


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A plain body (model, text messages, maybe `stream`), often with one thing changed:
    a field added to it or to a message, or a value of another type."""
    messages = draw(
        st.lists(
            st.fixed_dictionaries({"role": st.sampled_from(ROLES), "content": st.text(max_size=8)}),
            max_size=3,
        )
    )
    body: dict[str, Any] = {"model": draw(st.text(max_size=4)), "messages": messages}
    if draw(st.booleans()):
        body["stream"] = draw(st.booleans())
    change = draw(st.sampled_from(["none", "body", "message", "value", "message value"]))
    value = draw(st.one_of(ODD, st.text(max_size=3), st.booleans(), st.just({})))
    if change == "body":
        body[draw(st.sampled_from(EXTRA["body"]))] = value
    elif change == "message" and messages:
        draw(st.sampled_from(messages))[draw(st.sampled_from(EXTRA["message"]))] = value
    elif change == "value":
        body[draw(st.sampled_from(["model", "messages", "stream"]))] = value
    elif change == "message value" and messages:
        draw(st.sampled_from(messages))[draw(st.sampled_from(["role", "content"]))] = value
    return body


def validated(body: Any) -> ChatRequest | None:
    try:
        return _parse_validated(body)
    except InvalidRequest:
        return None


@settings(max_examples=600, deadline=None)
@given(bodies())
def test_the_fast_path_reads_what_the_schema_reads(body: dict[str, Any]) -> None:
    fast = _parse_plain(body)
    if fast is not None:
        assert fast == validated(body), body


PLAIN: list[dict[str, Any]] = [
    {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    {"model": "m", "messages": [{"role": "user", "content": ""}], "stream": True},
    {
        "model": "gpt-5",
        "stream": False,
        "messages": [
            {"role": "developer", "content": "be brief"},
            {"role": "system", "content": "s"},
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a"},
        ],
    },
]


def test_plain_bodies_take_the_fast_path_and_read_the_same() -> None:
    for body in PLAIN:
        fast = _parse_plain(body)
        assert fast is not None and fast == validated(body) == parse_request(body)
    assert _parse_plain(PLAIN[2]) is not None
    assert _parse_plain(PLAIN[2]).messages[0] == ChatMessage(role="system", text="be brief")  # type: ignore[union-attr]


REFUSED: list[dict[str, Any]] = [
    {"model": "", "messages": [{"role": "user", "content": "hi"}]},
    {"model": "m", "messages": []},
    {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": 1},
    {"model": "m", "messages": [{"role": "tool", "content": "x"}]},
    {"model": "m", "messages": [{"role": "user", "content": None}]},
    {"model": 3, "messages": [{"role": "user", "content": "hi"}]},
]


def test_bodies_the_schema_refuses_are_left_to_it() -> None:
    for body in REFUSED:
        assert _parse_plain(body) is None
        assert validated(body) is None
