"""Remembered request bodies stay as they were read, whatever the request did with them.

`engine/resent_body.py` hands a tool loop's next request the very objects decoded for the
last one (messages, and the keys before and after the message list). So nothing that
handles a request may change a decoded body: a change would silently rewrite the next
round's history. These tests run real tool loops through the bridge in both dialects, with
bodies large enough to be remembered, and then compare every remembered value with a fresh
decode of the bytes it came from.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from anthropic import Anthropic
from openai import OpenAI

from cursor_bridge.engine import resent_body
from tests.conftest import Stack

MODEL = "claude-4.6-sonnet"
# Past resent_body.MIN_BYTES, so the bodies are remembered.
SYSTEM = "Keep answers short. " * 300
SCHEMA = {
    "type": "object",
    "properties": {"path": {"type": "string", "description": "which file"}},
    "required": ["path"],
    "additionalProperties": False,
}
SCRIPT = (
    '/tool read {"path": "a"}\n/then\n/tool read {"path": "b"}\n/then\n/tool read {"path": "c"}'
)


@pytest.fixture(autouse=True)
def fresh_memo() -> None:
    resent_body.clear()


def assert_remembered_values_unchanged() -> int:
    """Each remembered body's values equal a new decode of its bytes; how many were checked."""
    checked = 0
    for entry in list(resent_body._memo.entries):
        if not entry.decoded:
            continue
        text = entry.head.decode("utf-8", "surrogatepass") + "]" + entry.rest
        fresh = json.loads(text)
        assert fresh[entry.key] == entry.items
        assert [(k, fresh[k]) for k, _ in entry.before] == entry.before
        assert [(k, fresh[k]) for k, _ in entry.after] == entry.after
        checked += 1
    return checked


@pytest.mark.parametrize("streams", ["never", "always", "alternately"])
def test_a_chat_tool_loop_leaves_the_bodies_it_shares_unchanged(stack: Stack, streams: str) -> None:
    client = OpenAI(base_url=stack.bridge_url + "/v1", api_key="x", max_retries=0, timeout=20)
    tools: Any = [{"type": "function", "function": {"name": "read", "parameters": SCHEMA}}]
    messages: list[Any] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": SCRIPT},
    ]
    for number in range(4):
        streamed = streams == "always" or (streams == "alternately" and number % 2 == 1)
        choice = client.chat.completions.create(
            model=MODEL, messages=messages, tools=tools, stream=streamed
        )
        if streamed:  # gather the call from the chunks
            calls: dict[int, dict[str, str]] = {}
            finish = None
            for chunk in choice:  # type: ignore[union-attr]
                delta = chunk.choices[0].delta if chunk.choices else None
                for call in (delta.tool_calls or []) if delta else []:
                    slot = calls.setdefault(call.index, {"id": "", "arguments": ""})
                    slot["id"] = call.id or slot["id"]
                    slot["arguments"] += (call.function.arguments or "") if call.function else ""
                if chunk.choices and chunk.choices[0].finish_reason:
                    finish = chunk.choices[0].finish_reason
            if finish != "tool_calls":
                break
            call_id, arguments = calls[0]["id"], calls[0]["arguments"]
        else:
            answer = choice.choices[0]  # type: ignore[union-attr]
            finish = answer.finish_reason
            if finish != "tool_calls":
                break
            (made,) = answer.message.tool_calls or []
            call_id, arguments = made.id, made.function.arguments
        if finish != "tool_calls":
            break
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": "read", "arguments": arguments},
                    }
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": call_id, "content": f"text {number}"})
    assert finish == "stop"
    assert assert_remembered_values_unchanged() >= 1


def test_an_anthropic_tool_loop_leaves_the_bodies_it_shares_unchanged(stack: Stack) -> None:
    client = Anthropic(base_url=stack.bridge_url, api_key="x", max_retries=0, timeout=20)
    tools: Any = [{"name": "read", "description": "Read a file", "input_schema": SCHEMA}]
    messages: list[Any] = [{"role": "user", "content": SCRIPT}]
    for number in range(4):
        reply = client.messages.create(
            model=MODEL, max_tokens=512, system=SYSTEM, messages=messages, tools=tools
        )
        if reply.stop_reason != "tool_use":
            break
        call = next(block for block in reply.content if block.type == "tool_use")
        messages.append(
            {"role": "assistant", "content": [block.model_dump() for block in reply.content]}
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": call.id, "content": f"text {number}"}
                ],
            }
        )
    assert reply.stop_reason == "end_turn"
    assert assert_remembered_values_unchanged() >= 1
