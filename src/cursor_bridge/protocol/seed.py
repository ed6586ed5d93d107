"""Seeding a fresh Run from a client-held history (OpenAI-style messages).

The backend builds the model's prompt from `ConversationStateStructure.root_prompt_messages_json`
(current-client.md §2.1): each entry is the 32-byte id of a compact JSON chat message blob
(id = sha256 of the UTF-8 bytes). History only in `turns` is never shown to the model, so the
whole history goes into the root list; `root_prompt_entries` is the one place that decides
the entries' shape. `turns` still carries the conversation state the way the current client
sends it (§2.3): ids of `ConversationTurnStructure` blobs referencing a `UserMessage` blob and
`ConversationStep` blobs (tool rounds as `McpToolCall{args, result}` steps). The trailing live
user message is not seeded: it is the Run's `user_message_action`. Every blob is stored before
the run_request goes out, and the RunMachine serves them when the backend asks (`get_blob`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .blobs import blob_id
from .messages import agent, json_to_value_bytes

AGENT_MODE = 1
# P caps a tool result in the root list at 20 000 characters (current-client.md §2.2).
MAX_TOOL_RESULT_CHARS = 20_000


@dataclass(frozen=True, slots=True)
class AssistantStep:
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingStep:
    text: str


@dataclass(frozen=True, slots=True)
class ToolStep:
    """A client tool call and its result. `name` is the tool's wire (MCP) name."""

    call_id: str
    name: str
    arguments: dict[str, Any]
    result: str
    is_error: bool = False
    provider: str = ""


HistoryStep = AssistantStep | ThinkingStep | ToolStep


@dataclass(frozen=True, slots=True)
class HistoryImage:
    mime_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class HistoryTurn:
    """One earlier exchange: what the user said and the assistant's steps, in order."""

    user_text: str
    steps: Sequence[HistoryStep] = ()
    images: Sequence[HistoryImage] = ()


@dataclass(slots=True)
class SeededConversation:
    state: agent.ConversationStateStructure
    blobs: dict[bytes, bytes] = field(default_factory=dict)


def seed_conversation(
    turns: Sequence[HistoryTurn], system: str = "", rules: str = ""
) -> SeededConversation:
    """Build the conversation state (and its blobs) for the given history.

    `system`: the client's system prompt; `rules`: the instructions also sent as
    `RequestContext.cloud_rule` (system prompt plus the bridge's own rules).
    """
    seeded = SeededConversation(agent.ConversationStateStructure())
    root = seeded.state.root_prompt_messages_json
    for index, entry in enumerate(root_prompt_entries(system, rules, turns)):
        if index < _LEADING:
            key, data = _leading.encoded(entry)
            seeded.blobs[key] = data
            root.append(key)
        else:
            root.append(_put(seeded, json_blob(entry)))
    for turn in turns:
        user = agent.UserMessage(
            text=turn.user_text, message_id=_stable_id(turn.user_text), mode=AGENT_MODE
        )
        for index, image in enumerate(turn.images):
            user.selected_context.selected_images.append(
                agent.SelectedImage(
                    data=image.data,
                    mime_type=image.mime_type,
                    uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, blob_id(image.data).hex())),
                    path=f"image-{index + 1}",
                )
            )
        structure = agent.ConversationTurnStructure(
            agent_conversation_turn=agent.AgentConversationTurnStructure(
                user_message=_put(seeded, user.SerializeToString()),
                steps=[_put(seeded, step_message(s).SerializeToString()) for s in turn.steps],
            )
        )
        seeded.state.turns.append(_put(seeded, structure.SerializeToString()))
    return seeded


def step_message(step: HistoryStep) -> agent.ConversationStep:
    if isinstance(step, AssistantStep):
        return agent.ConversationStep(assistant_message=agent.AssistantMessage(text=step.text))
    if isinstance(step, ThinkingStep):
        return agent.ConversationStep(thinking_message=agent.ThinkingMessage(text=step.text))
    args = agent.McpArgs(
        name=step.name,
        tool_call_id=step.call_id,
        provider_identifier=step.provider,
        tool_name=step.name,
    )
    for key, value in step.arguments.items():
        args.args[key] = json_to_value_bytes(value)
    result = agent.McpResult()
    result.success.is_error = step.is_error
    result.success.content.append(
        agent.McpToolResultContentItem(text=agent.McpTextContent(text=step.result))
    )
    call = agent.ToolCall(mcp_tool_call=agent.McpToolCall(args=args, result=result))
    return agent.ConversationStep(tool_call=call)


def json_blob(entry: dict[str, Any]) -> bytes:
    """Compact JSON as JavaScript's JSON.stringify writes it: no spaces, keys in the order
    given, non-ASCII kept as UTF-8 (the blob id is the sha256 of exactly these bytes)."""
    return json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode()


def root_prompt_entries(
    system: str, rules: str, turns: Sequence[HistoryTurn]
) -> list[dict[str, Any]]:
    """The root prompt messages of a seeded Run, oldest first.

    Shape decision (current-client.md §2.2): we follow P (pi-cursor `stream/root-prompt.ts`),
    the only client that says it verified its entries against captured server checkpoints:
    a `system` entry, then the rules again as a user `<rules>` message (P: "the server drops
    {"role":"system"} entries"), user turns as text parts wrapped in `<user_query>`, assistant
    turns as text parts plus AI-SDK `tool-call` parts named `mcp_<provider>_<tool>`, tool
    results as `tool` messages with `tool-result` parts capped at 20 000 characters, reasoning
    dropped (the server re-derives it). E's shape has no `<rules>` entry or `<user_query>`
    wrapper, no tool-call parts, and writes tool results as user "[Tool Result]" text; by P's
    account the server ignores E's system entry. Both keep the trailing live user message out
    of the list. Changing the shape means changing this function only (the emulator renders
    whatever JSON chat messages it finds).
    """
    entries: list[dict[str, Any]] = []
    if system:
        entries.append({"role": "system", "content": system})
    if rules:
        entries.append(_user_text(f"<rules>\n{rules}\n</rules>"))
    for turn in turns:
        entries.append(_user_text(f"<user_query>\n{turn.user_text}\n</user_query>"))
        parts: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        for step in turn.steps:
            if isinstance(step, AssistantStep):
                if results:  # text after tool results starts the next assistant message
                    entries.extend(_flush(parts, results))
                    parts, results = [], []
                parts.append({"type": "text", "text": step.text})
            elif isinstance(step, ToolStep):
                tool_name = f"mcp_{step.provider}_{step.name}" if step.provider else step.name
                parts.append(
                    {
                        "type": "tool-call",
                        "toolCallId": step.call_id,
                        "toolName": tool_name,
                        "args": step.arguments,
                    }
                )
                result: dict[str, Any] = {
                    "type": "tool-result",
                    "toolCallId": step.call_id,
                    "toolName": tool_name,
                    "result": step.result[:MAX_TOOL_RESULT_CHARS],
                }
                if step.is_error:
                    result["isError"] = True
                results.append(result)
        entries.extend(_flush(parts, results))
    return entries


def _user_text(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def _flush(parts: list[dict[str, Any]], results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if parts:
        out.append({"role": "assistant", "content": parts})
    if results:
        out.append({"role": "tool", "content": results})
    return out


# The leading root entries (the system prompt and the rules) are the same in every request a
# client sends, and often 10-30 KB: encoding and hashing a 15 KB one cost about 40 us, twice
# per fresh Run. The last few distinct ones keep their JSON and blob id. They are found by
# equality (a memory compare of equal strings), not by hashing: a lookup costs well under a
# microsecond, a miss (another client's prompt) about nothing.
_LEADING = 2
_REMEMBERED = 8
_MAX_REMEMBERED_BYTES = 1 << 20  # a larger entry is encoded each time, not kept


class _RememberedEntries:
    """`encoded(entry)`: (blob id, JSON bytes) of a root entry, the last few remembered.

    The entries are an immutable tuple, replaced whole (newest first, the oldest let go):
    threads that plan Runs at once may each encode an entry once more, never see a torn
    list, and need no lock (this package does no concurrency of its own)."""

    def __init__(self) -> None:
        self._items: tuple[tuple[dict[str, Any], bytes, bytes], ...] = ()

    def encoded(self, entry: dict[str, Any]) -> tuple[bytes, bytes]:
        for known, key, data in self._items:
            if known == entry:
                return key, data
        data = json_blob(entry)
        key = blob_id(data)
        if len(data) <= _MAX_REMEMBERED_BYTES:
            self._items = ((entry, key, data), *self._items[: _REMEMBERED - 1])
        return key, data


_leading = _RememberedEntries()


def _put(seeded: SeededConversation, data: bytes) -> bytes:
    key = blob_id(data)
    seeded.blobs[key] = data
    return key


def _stable_id(text: str) -> str:
    # Same history, same bytes, same blob ids: lets the backend's caches hit across requests.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "cursor-bridge:" + text))
