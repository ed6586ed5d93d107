"""An Anthropic follow-up whose body only adds messages parses as the whole body does, with
the earlier messages taken as parsed last round (tool names declared earlier included),
and a bad new message gets exactly the whole body's error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from cursor_bridge.dialects.anthropic_messages import parse_request
from cursor_bridge.dialects.common import InvalidRequest
from cursor_bridge.engine import resent_body
from cursor_bridge.server.json_body import _decode_and_parse

TOOLS = [{"name": "Read", "input_schema": {"type": "object"}}]


@pytest.fixture(autouse=True)
def fresh_memo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(resent_body, "MIN_BYTES", 0)
    resent_body.clear()
    yield
    resent_body.clear()


def loop_body(rounds: int, **extra: Any) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "read the files"}]
    for i in range(rounds):
        use = {"type": "tool_use", "id": f"toolu_{i}", "name": "Read", "input": {"n": i}}
        messages.append({"role": "assistant", "content": [{"type": "text", "text": "ok"}, use]})
        result = {"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": f"r{i}"}
        messages.append({"role": "user", "content": [result]})
    body = {"model": "m", "max_tokens": 100, "messages": messages, "system": "be brief"}
    return {**body, "tools": TOOLS, **extra}


def read(body: dict[str, Any]) -> Any:
    return _decode_and_parse(json.dumps(body).encode(), parse_request)


def test_a_follow_up_parses_as_the_whole_body_reusing_earlier_messages() -> None:
    read(loop_body(0))
    first = read(loop_body(1))
    follow = read(loop_body(2))
    assert follow == parse_request(loop_body(2))
    assert all(a is b for a, b in zip(follow.chat.messages, first.chat.messages, strict=False))
    assert follow.chat.tools is first.chat.tools
    # The tool result of a later round still finds the name its tool_use declared.
    assert follow.chat.messages[-1].role == "tool" and follow.chat.messages[-1].name == "Read"


def test_a_bad_new_message_and_a_changed_tail_parse_as_the_whole_body_does() -> None:
    read(loop_body(0))
    read(loop_body(1))
    bad = loop_body(2)
    bad["messages"][-1]["content"][0]["type"] = "nonsense"
    with pytest.raises(InvalidRequest) as got:
        read(bad)
    with pytest.raises(InvalidRequest) as whole:
        parse_request(bad)
    assert (got.value.message, got.value.param) == (whole.value.message, whole.value.param)
    changed = loop_body(2, stream=True, system="be terse")
    assert read(changed) == parse_request(changed)
