"""Resent bodies: a follow-up is decoded from where the remembered body's messages end,
reusing those objects, and whatever the bytes, the result is what json.loads gives (or
the reader steps aside and json.loads decides, errors included)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cursor_bridge.dialects.chat_body import parse_request
from cursor_bridge.dialects.common import InvalidRequest
from cursor_bridge.engine import resent_body
from cursor_bridge.server import json_body
from cursor_bridge.server.json_body import InvalidBody, decode

TOOLS = [{"type": "function", "function": {"name": "read", "parameters": {"type": "object"}}}]


@pytest.fixture(autouse=True)
def fresh_memo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(resent_body, "MIN_BYTES", 0)  # small bodies keep the tests readable
    resent_body.clear()
    yield
    resent_body.forget()
    resent_body.clear()


def loop_body(rounds: int, tag: str = "a", result: str = "ok", **extra: Any) -> dict[str, Any]:
    """A tool loop's chat body after *rounds* rounds (each: a call, then its result)."""
    opening = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": f"loop {tag}"},
    ]
    rounds_so_far = [
        message for i in range(rounds) for message in tool_round(f"call_{tag}{i}", result)
    ]
    return {"model": "m", "messages": opening + rounds_so_far, "tools": TOOLS, **extra}


def tool_round(call_id: str, result: str) -> list[dict[str, Any]]:
    arguments = json.dumps({"path": call_id})
    function = {"name": "read", "arguments": arguments}
    call = {"id": call_id, "type": "function", "function": function}
    return [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call_id, "content": result},
    ]


def raw(body: dict[str, Any], **dumps: Any) -> bytes:
    return json.dumps(body, **dumps).encode()


def test_a_follow_up_reuses_the_previous_messages_and_decodes_only_the_new() -> None:
    decode(raw(loop_body(0)))  # first seen: remembered by its head alone
    first = decode(raw(loop_body(1)))  # its first follow-up: decoded whole, values kept
    follow = raw(loop_body(2))
    body = decode(follow)
    reading = resent_body.current(body)
    assert reading is not None
    assert repr(body) == repr(json.loads(follow))
    assert reading.reused == 4 and reading.messages == 6 and reading.same_tail
    assert all(a is b for a, b in zip(body["messages"], first["messages"], strict=False))
    assert body["tools"] is first["tools"]
    assert reading.unchecked == {"messages": body["messages"][4:]}


def test_small_bodies_are_left_to_json_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resent_body, "MIN_BYTES", 1000)
    small, large = raw(loop_body(1)), raw(loop_body(1, result="r" * 1000))
    assert len(small) < 1000 <= len(large)
    assert resent_body.read(small) is None
    assert decode(small) == json.loads(small)
    assert resent_body.read(large) is not None


def test_first_seen_bodies_are_checked_whole_and_unknown_shapes_left_to_json_loads() -> None:
    body = decode(raw(loop_body(0)))
    reading = resent_body.current(body)
    assert reading is not None and reading.reused == 0 and reading.unchecked is body
    # Remembered by the head alone (no values kept: most bodies get no follow-up) ...
    (entry,) = resent_body._memo.entries
    assert not entry.decoded and entry.items == [] and raw(loop_body(1)).startswith(entry.head)
    # ... so its follow-up is decoded whole, then remembered with its values.
    body = decode(raw(loop_body(1)))
    reading = resent_body.current(body)
    assert reading is not None and reading.reused == 0 and reading.unchecked is body
    (entry,) = resent_body._memo.entries
    assert entry.decoded and entry.items is body["messages"]
    for odd in (b" {}", b"[1]", '{"a": 1}'.encode("utf-16"), b'{"a": 1} x', b'{"a" 1}'):
        assert resent_body.read(odd) is None


@pytest.mark.parametrize(
    "odd",
    [
        b'{"model": "m", "messages": [{"role": "user"}]} trailing',
        b'{"model": "m", "messages": [{"role": "user"}],}',
        b'{"model": "m", "messages": [{"role": "user"}]',
        b'{"model": "m", "messages": [{"role": "user"}], "x": [' + b"[" * 5000 + b"]" * 5001 + b"}",
        b'{"model": "m", "messages": [{"role": "user", "content": "\xff"}]}',
    ],
)
def test_bad_json_gets_the_error_json_loads_gives(odd: bytes) -> None:
    decode(b'{"model": "m", "messages": [{"role": "user"}]}')  # remembered head
    resent_body.forget()
    with pytest.raises(InvalidBody) as got:
        decode(odd)
    with pytest.raises(InvalidBody) as whole:
        json_body._decode_whole(odd)
    assert got.value.message == whole.value.message


def test_a_bad_new_message_gets_the_error_of_the_whole_body() -> None:
    decode(raw(loop_body(0)))
    decode(raw(loop_body(1)))
    bad = loop_body(2)
    bad["messages"][-1]["content"] = "\ud800"
    bad["messages"][-2]["tool_calls"][0]["function"]["arguments"] = "[" * 40 + "]" * 40
    with pytest.raises(InvalidBody) as got:
        decode(raw(bad))
    with pytest.raises(InvalidBody) as whole:
        json_body._decode_whole(raw(bad))
    assert got.value.message == whole.value.message
    # The refused body was not remembered: the valid round after it still follows round 1.
    body = decode(raw(loop_body(2)))
    reading = resent_body.current(body)
    assert reading is not None and reading.reused == 4


def test_the_message_limit_counts_the_whole_history(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_body, "MAX_MESSAGES", 5)
    decode(raw(loop_body(1)))
    with pytest.raises(InvalidBody, match="holds 6 messages; at most 5"):
        decode(raw(loop_body(2)))


def test_a_changed_tail_is_decoded_and_checked_and_a_second_list_key_steps_aside() -> None:
    decode(raw(loop_body(0)))
    decode(raw(loop_body(1)))
    changed = raw(loop_body(2, stream=True, tools=[]))
    body = decode(changed)
    reading = resent_body.current(body)
    assert reading is not None and not reading.same_tail
    assert repr(body) == repr(json.loads(changed))
    assert reading.unchecked == {"messages": body["messages"][4:], "tools": [], "stream": True}
    # The message list named again after the tail: json.loads keeps the last one.
    twice = raw(loop_body(2))[:-1] + b', "messages": [{"role": "user", "content": "x"}]}'
    body = decode(twice)
    assert repr(body) == repr(json.loads(twice))


def test_forks_blanks_and_non_ascii_decode_as_json_loads_does() -> None:
    base = loop_body(1, result="héllo ☃")
    decode(raw(base, indent=2))
    for variant in (
        raw(loop_body(2, result="héllo ☃"), indent=2),
        raw(loop_body(2, result="héllo ☃", tag="a") | {"model": "n"}, indent=2),
        raw(base, indent=2),
        raw(loop_body(3, result="x\u2603\\y"), ensure_ascii=True),
    ):
        body = decode(variant)
        assert repr(body) == repr(json.loads(variant))
    fork_a, fork_b = loop_body(2, result="héllo ☃"), loop_body(2, result="héllo ☃")
    fork_b["messages"][-1]["content"] = "another answer"
    for fork in (fork_a, fork_b, fork_a):
        assert decode(raw(fork, indent=2)) == fork


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    before=st.dictionaries(st.sampled_from(["model", "a", "messages"]), json_values, max_size=2),
    history=st.lists(json_values, min_size=1, max_size=3),
    new=st.lists(json_values, max_size=3),
    more=st.lists(json_values, max_size=3),
    tail=st.dictionaries(st.sampled_from(["tools", "messages"]), json_values, max_size=1),
    after=st.dictionaries(st.sampled_from(["tools", "b", "messages", "model"]), json_values),
    indent=st.sampled_from([None, 1]),
    ascii_only=st.booleans(),
)
def test_any_follow_up_reads_exactly_as_json_loads(
    before: dict[str, Any],
    history: list[Any],
    new: list[Any],
    more: list[Any],
    tail: dict[str, Any],
    after: dict[str, Any],
    indent: int | None,
    ascii_only: bool,
) -> None:
    resent_body.clear()
    bodies = [
        {**before, "messages": history, **after},
        {**before, "messages": history + new, **after},
        {**before, "messages": history + new + more, **after},
        {**before, "messages": history + new + more + new, **after, **tail},
    ]
    for body in bodies:
        text = json.dumps(body, indent=indent, ensure_ascii=ascii_only)
        reading = resent_body.read(text.encode("utf-8", "surrogatepass"))
        if reading is not None:
            assert repr(reading.body) == repr(json.loads(text))
            reading.remember()


def test_the_memo_keeps_to_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resent_body, "MAX_BYTES", 20_000)
    for tag in range(60):
        decode(raw(loop_body(2, tag=str(tag), result="z" * 500)))
    memo = resent_body._memo
    assert memo.size == sum(len(head) for head in memo.heads) <= 20_000
    assert 0 < len(memo.heads) < 60 and memo.heads == sorted(memo.heads)


def test_a_chat_follow_up_parses_as_the_whole_body_does_reusing_known_messages() -> None:
    json_body._decode_and_parse(raw(loop_body(0)), parse_request)
    first = json_body._decode_and_parse(raw(loop_body(1)), parse_request)
    follow = raw(loop_body(2))
    parsed = json_body._decode_and_parse(follow, parse_request)
    assert parsed == parse_request(json.loads(follow))
    assert all(a is b for a, b in zip(parsed.messages, first.messages, strict=False))
    bad = loop_body(3)
    bad["messages"][-1].pop("tool_call_id")
    with pytest.raises(InvalidRequest) as got:
        json_body._decode_and_parse(raw(bad), parse_request)
    with pytest.raises(InvalidRequest) as whole:
        parse_request(json.loads(raw(bad)))
    assert (got.value.message, got.value.param) == (whole.value.message, whole.value.param)
    assert got.value.param == "messages[7].tool_call_id"


def test_a_chat_follow_up_with_another_tail_parses_its_new_options() -> None:
    json_body._decode_and_parse(raw(loop_body(0)), parse_request)
    json_body._decode_and_parse(raw(loop_body(1)), parse_request)
    follow = raw(loop_body(2, stream=True, tool_choice="none"))
    parsed = json_body._decode_and_parse(follow, parse_request)
    assert parsed == parse_request(json.loads(follow))
    assert parsed.stream and parsed.tool_choice == "none"
    again = json_body._decode_and_parse(
        raw(loop_body(3, stream=True, tool_choice="none")), parse_request
    )
    assert again.tools is parsed.tools  # the same tail: the request's rest is reused whole
