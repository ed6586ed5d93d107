"""The fixed conversation of the golden first-Run test, and a field-by-field decoder.

`first_run_fields()` plans the first Run of that conversation exactly as the bridge sends it
(the frame `RunMachine.start` writes), decodes it back, follows every blob id into the blob it
names (JSON root prompt messages, turn structures, user messages, steps) and flattens the
result into `path -> value` leaves. tests/data/protocol/golden-first-run.json states, for
every leaf, the value and why the current client sends it.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from cursor_bridge.engine.catalog import ModelChoice, ModelInfo
from cursor_bridge.engine.context import Workspace
from cursor_bridge.engine.planner import plan_run
from cursor_bridge.engine.request import ChatMessage, ChatRequest, ToolCallRecord, ToolSpec
from cursor_bridge.protocol.blobs import MemoryBlobStore
from cursor_bridge.protocol.framing import EnvelopeDecoder
from cursor_bridge.protocol.messages import agent, value_bytes_to_json
from cursor_bridge.protocol.run import RunMachine

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

WEATHER = ToolSpec(
    "get_weather",
    "Current weather of a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CONVERSATION = (
    ChatMessage("system", "You are a weather assistant."),
    ChatMessage("user", "Weather in Oslo?"),
    ChatMessage(
        "assistant",
        "Let me check.",
        tool_calls=(ToolCallRecord("call_1", "get_weather", '{"city":"Oslo"}'),),
    ),
    ChatMessage("tool", "Sunny, 21 C", tool_call_id="call_1"),
    ChatMessage("assistant", "It is sunny and 21 C in Oslo."),
    ChatMessage("user", "And in Bergen?"),
    ChatMessage("assistant", "Rainy, 12 C."),
    ChatMessage("user", "Which city is warmer?"),
)


def first_run_frame() -> tuple[bytes, dict[bytes, bytes]]:
    request = ChatRequest(model="claude-4.6-sonnet", messages=CONVERSATION, tools=(WEATHER,))
    choice = ModelChoice(ModelInfo("claude-4.6-sonnet", "Claude 4.6 Sonnet"), "claude-4.6-sonnet")
    workspace = Workspace(path="", shell="/bin/bash", timezone="UTC", os_version="linux")
    plan = plan_run(request, choice, workspace, conversation_id="conv-golden")
    machine = RunMachine(blobs=MemoryBlobStore(), request_context=plan.request_context)
    return machine.start(plan.run_request, plan.raw_state), plan.blobs


def first_run_fields() -> dict[str, Any]:
    frame, blobs = first_run_frame()
    (envelope,) = EnvelopeDecoder().feed(frame)
    message = agent.AgentClientMessage.FromString(envelope.payload)
    tree = _tree(message, blobs)
    out: dict[str, Any] = {}
    _flatten(tree, "", out)
    return out


def _tree(message: Message, blobs: dict[bytes, bytes]) -> Any:
    """The message as a JSON-like tree; bytes fields that hold blob ids or Values resolved."""
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        name = field.name
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            out[name] = {
                k: _leaf(field.message_type.fields_by_name["value"], v, blobs, name)
                for k, v in value.items()
            }
        elif field.is_repeated:
            out[name] = [_leaf(field, item, blobs, name) for item in value]
        else:
            out[name] = _leaf(field, value, blobs, name)
    return out


def _leaf(field: Any, value: Any, blobs: dict[bytes, bytes], name: str) -> Any:
    if isinstance(value, Message):
        return _tree(value, blobs)
    if not isinstance(value, bytes):
        return value
    if name in ("input_schema", "args"):
        return {"value": value_bytes_to_json(value)}
    if len(value) == 32 and value in blobs:
        data = blobs[value]
        assert hashlib.sha256(data).digest() == value, "a blob id is the sha256 of its bytes"
        kind = _BLOB_KINDS.get(name)
        if kind is None:
            return {"blob_json": json.loads(data), "blob_bytes": data.decode()}
        return {"blob": _tree(kind.FromString(data), blobs)}
    return {"bytes_hex": value.hex()}


_BLOB_KINDS: dict[str, type[Message]] = {
    "turns": agent.ConversationTurnStructure,
    "user_message": agent.UserMessage,
    "steps": agent.ConversationStep,
}


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value and not set(value) <= {"value"}:
        for key, item in value.items():
            _flatten(item, f"{path}.{key}" if path else key, out)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            _flatten(item, f"{path}[{index}]", out)
    else:
        out[path] = value


def to_json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


__all__ = ["UUID", "first_run_fields", "json_format"]
