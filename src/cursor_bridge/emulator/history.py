"""Conversation state and KV blobs: rebuild a checkpoint's history, build a new turn's blobs.

A `ConversationStateStructure` names its content by blob id: `root_prompt_messages_json`
entries are JSON chat messages (`{"role": ..., "content": str | [{"type": "text", "text"}]}`),
`turns` entries are `ConversationTurnStructure` blobs whose user message and steps are blob
ids again. Ids are 32-byte SHA-256 digests of the data; a shorter or longer root entry is
"content-as-id" (the client echoes it back as the data) and the server re-stores such content
under its digest, so checkpoints it writes only hold 32-byte ids.

Strict mode (the default, as the real backend per current-client.md §2): the model's prompt
is built from the root list only (what is only in `turns` is fetched but never shown); inline
bytes where a `turns` id belongs end the Run with `Blob not found: <bytes>`; an empty blob
answer is read as an empty message, which blanks that part of the history. Lenient mode shows
`turns` too and accepts content-as-id everywhere.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from ..protocol.blobs import BLOB_ID_SIZE, blob_id
from ..protocol.messages import agent, value_bytes_to_json
from ..protocol.seed import (
    AssistantStep,
    HistoryStep,
    HistoryTurn,
    ToolStep,
    json_blob,
    root_prompt_entries,
)
from .run import RunError
from .script import Script, ToolCallSpec, parse_script

EMULATOR_SYSTEM_PROMPT = (
    "You are Cursor's coding agent, emulated by cursor-bridge: every answer follows the "
    "script directives of the user's message."
)

FetchFn = Callable[[Sequence[bytes]], Awaitable[list[bytes]]]


def serialize(
    message: agent.ConversationStep | agent.UserMessage | agent.ConversationTurnStructure,
) -> bytes:
    """Blob bytes of a message (deterministic, so equal content gives equal ids)."""
    return message.SerializeToString(deterministic=True)


class KnownBlobs:
    """Ids of blobs this emulator stored itself, most recent kept (for cache-read accounting)."""

    def __init__(self, limit: int = 200_000) -> None:
        self._ids: OrderedDict[bytes, None] = OrderedDict()
        self._limit = limit

    def add(self, key: bytes) -> None:
        self._ids[key] = None
        self._ids.move_to_end(key)
        while len(self._ids) > self._limit:
            self._ids.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def __len__(self) -> int:
        return len(self._ids)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One piece of the rebuilt history; `cached` = it came from a blob this emulator stored.

    `tool`: for a tool result, (tool name, result text) (resume quotes them).
    """

    role: str
    text: str
    cached: bool
    tool: tuple[str, str] | None = None


@dataclass(slots=True)
class TurnRecord:
    turn_id: bytes
    user_message_id: bytes
    user_text: str
    step_ids: list[bytes]
    entries: list[HistoryEntry]
    # (tool name, quoted result) of the turn's answered MCP tool calls, in order.
    tool_results: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class Conversation:
    """The history a run_request's conversation_state names, with 32-byte ids throughout."""

    root_ids: list[bytes] = field(default_factory=list)
    turns: list[TurnRecord] = field(default_factory=list)
    root_entries: list[HistoryEntry] = field(default_factory=list)
    # Content that arrived as content-as-id, to store under its digest.
    restore: list[tuple[bytes, bytes]] = field(default_factory=list)
    strict: bool = True

    @property
    def entries(self) -> list[HistoryEntry]:
        """What the model sees: the root list (strict), or the root list and the turns."""
        out = list(self.root_entries)
        if not self.strict:
            for turn in self.turns:
                out.extend(turn.entries)
        return out


@functools.cache
def system_prompt_blob() -> tuple[bytes, bytes]:
    """The root prompt message the server writes for a conversation that has none (a
    constant: built once)."""
    data = json.dumps(
        {"role": "system", "content": EMULATOR_SYSTEM_PROMPT}, separators=(",", ":")
    ).encode()
    return blob_id(data), data


def turn_blobs(
    user_message_id: bytes, step_blobs: Sequence[bytes], earlier_steps: Sequence[bytes] = ()
) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The step blobs and the ConversationTurnStructure blob of a turn: (turn id, blobs)."""
    blobs = [(blob_id(data), data) for data in step_blobs]
    turn = agent.ConversationTurnStructure(
        agent_conversation_turn=agent.AgentConversationTurnStructure(
            user_message=user_message_id,
            steps=[*earlier_steps, *(key for key, _ in blobs)],
        )
    )
    data = serialize(turn)
    blobs.append((blob_id(data), data))
    return blob_id(data), blobs


async def load_conversation(
    state: agent.ConversationStateStructure,
    fetch: FetchFn,
    known: KnownBlobs,
    *,
    strict: bool = True,
) -> Conversation:
    """Fetch every blob the state names (two pipelined rounds) and rebuild the history."""
    conversation = Conversation(strict=strict)
    roots = list(state.root_prompt_messages_json)
    turn_refs = list(state.turns)
    if strict:
        for ref in turn_refs:
            if len(ref) != BLOB_ID_SIZE:
                raise RunError("internal", f"Blob not found: {ref!r}")
    first = await fetch([*roots, *turn_refs]) if roots or turn_refs else []
    for ref, data in zip(roots, first[: len(roots)], strict=True):
        key = _canonical(ref, data, conversation)
        conversation.root_ids.append(key)
        if strict and not data:
            continue  # an empty answer reads as an empty message: that history is blank
        for entry in chat_entries(data):
            conversation.root_entries.append(dataclasses.replace(entry, cached=key in known))

    turns: list[tuple[bytes, bytes, agent.AgentConversationTurnStructure | None]] = []
    nested: list[bytes] = []
    for ref, data in zip(turn_refs, first[len(roots) :], strict=True):
        structure = agent.ConversationTurnStructure()
        try:
            structure.ParseFromString(data)
        except DecodeError:
            raise RunError("internal", "conversation turn blob is not a turn") from None
        if structure.WhichOneof("turn") != "agent_conversation_turn":
            turns.append((ref, data, None))
            continue
        agent_turn = structure.agent_conversation_turn
        turns.append((ref, data, agent_turn))
        nested.append(agent_turn.user_message)
        nested.extend(agent_turn.steps)

    second = await fetch(nested) if nested else []
    cursor = 0
    for ref, data, maybe_turn in turns:
        if maybe_turn is None:
            conversation.turns.append(
                TurnRecord(_canonical(ref, data, conversation), b"", "", [], [])
            )
            continue
        count = 1 + len(maybe_turn.steps)
        parts = list(
            zip(
                [maybe_turn.user_message, *maybe_turn.steps],
                second[cursor : cursor + count],
                strict=True,
            )
        )
        cursor += count
        conversation.turns.append(_turn_record(ref, data, parts, conversation, known))
    return conversation


def _turn_record(
    ref: bytes,
    data: bytes,
    parts: list[tuple[bytes, bytes]],
    conversation: Conversation,
    known: KnownBlobs,
) -> TurnRecord:
    (user_ref, user_data), step_parts = parts[0], parts[1:]
    user = agent.UserMessage()
    try:
        user.ParseFromString(user_data)
    except DecodeError:
        raise RunError("internal", "user message blob is not a UserMessage") from None
    user_id = _canonical(user_ref, user_data, conversation)
    entries = [HistoryEntry("user", user.text, user_id in known)]
    step_ids = []
    tool_results: list[tuple[str, str]] = []
    for step_ref, step_data in step_parts:
        step = agent.ConversationStep()
        try:
            step.ParseFromString(step_data)
        except DecodeError:
            raise RunError("internal", "step blob is not a ConversationStep") from None
        step_id = _canonical(step_ref, step_data, conversation)
        step_ids.append(step_id)
        entry = _step_entry(step, step_id in known)
        if entry is not None:
            entries.append(entry)
        if step.WhichOneof("message") == "tool_call":
            call = step.tool_call
            if call.WhichOneof("tool") == "mcp_tool_call":
                args = call.mcp_tool_call.args
                label = args.tool_name or args.name
                tool_results.append((label, describe_mcp_result(call.mcp_tool_call.result)))
    nested_rewritten = user_id != user_ref or any(
        new != old for new, (old, _) in zip(step_ids, step_parts, strict=True)
    )
    if nested_rewritten:
        turn_id, blobs = turn_blobs(user_id, [], step_ids)
        conversation.restore.extend(blobs)
    else:
        turn_id = _canonical(ref, data, conversation)
    return TurnRecord(turn_id, user_id, user.text, step_ids, entries, tool_results)


def _canonical(ref: bytes, data: bytes, conversation: Conversation) -> bytes:
    """The 32-byte id for *data*: *ref* itself, or the digest of content-as-id content."""
    if len(ref) == BLOB_ID_SIZE:
        return ref
    key = blob_id(data)
    conversation.restore.append((key, data))
    return key


_WRAPPERS = (("<user_query>\n", "\n</user_query>", "user"), ("<rules>\n", "\n</rules>", "rules"))


def chat_entries(data: bytes) -> list[HistoryEntry]:
    """The history entries of one root prompt message (JSON chat message, string or AI-SDK
    parts content): text, `<rules>` / `<user_query>` wrappers unwrapped for display,
    `tool-call` parts as `tool_call` entries, `tool-result` parts as `tool` entries."""
    try:
        message = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RunError("internal", "root prompt message is not JSON") from None
    if not isinstance(message, dict):
        raise RunError("internal", "root prompt message is not a JSON object")
    raw_role = message.get("role")
    role = raw_role if isinstance(raw_role, str) else "unknown"
    content = message.get("content")
    entries: list[HistoryEntry] = []
    text = content_text(content)
    if role == "user":
        for head, tail, label in _WRAPPERS:
            if text.startswith(head) and text.endswith(tail):
                text, role = text[len(head) : len(text) - len(tail)], label
                break
    if text or not isinstance(content, list):
        entries.append(HistoryEntry(role, text, False))
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, dict):
            continue
        name = str(part.get("toolName", ""))
        if part.get("type") == "tool-call":
            args = json.dumps(part.get("args", {}), separators=(",", ":"), sort_keys=True)
            entries.append(HistoryEntry("tool_call", f"{name} {args}", False))
        elif part.get("type") == "tool-result":
            result = part.get("result", "")
            result_text = result if isinstance(result, str) else json.dumps(result)
            if part.get("isError"):
                result_text = f"error: {result_text}"
            entries.append(
                HistoryEntry("tool", f"{name} -> {result_text}", False, (name, result_text))
            )
    return entries


def content_text(content: object) -> str:
    """Text of a chat message content: a string, or the text parts of a content list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def describe_mcp_result(result: agent.McpResult) -> str:
    """A one-line quote of an MCP tool result (what the scripted model "read")."""
    case = result.WhichOneof("result")
    if case == "success":
        texts = []
        for item in result.success.content:
            kind = item.WhichOneof("content")
            texts.append(item.text.text if kind == "text" else f"[{kind}]")
        text = "".join(texts)
        return f"error: {text}" if result.success.is_error else text
    if case is None:
        return "(empty result)"
    detail = json_format.MessageToDict(getattr(result, case))
    return f"{case} {json.dumps(detail, separators=(',', ':'), sort_keys=True)}"


def _step_entry(step: agent.ConversationStep, cached: bool) -> HistoryEntry | None:
    which = step.WhichOneof("message")
    if which == "assistant_message":
        return HistoryEntry("assistant", step.assistant_message.text, cached)
    if which == "thinking_message":
        return HistoryEntry("thinking", step.thinking_message.text, cached)
    if which == "tool_call" and step.tool_call.WhichOneof("tool") == "mcp_tool_call":
        call = step.tool_call.mcp_tool_call
        args = {key: value_bytes_to_json(raw) for key, raw in sorted(call.args.args.items())}
        result = json_format.MessageToDict(call.result)
        text = f"{call.args.tool_name or call.args.name} {json.dumps(args)} -> {json.dumps(result)}"
        return HistoryEntry("tool", text, cached)
    return None


def remaining_calls(script: Script, done: int) -> Script:
    """The script without its first `done` tool calls (already answered in the history)."""
    remaining: list[tuple[ToolCallSpec, ...]] = []
    for specs in script.tool_groups:
        if done >= len(specs):
            done -= len(specs)
        else:
            remaining.append(specs[done:])
            done = 0
    return dataclasses.replace(script, tool_groups=tuple(remaining))


def resume_from_root(
    entries: list[HistoryEntry], tools: list[agent.McpToolDefinition]
) -> tuple[Script, list[tuple[str, str]]]:
    """Resume (strict): the script of the last user entry of the root list, and the tool
    results that follow it, labelled by the client's tool name."""
    last = max((i for i, e in enumerate(entries) if e.role == "user"), default=-1)
    if last < 0:
        raise RunError("invalid_argument", "nothing to resume")
    names = {f"mcp_{t.provider_identifier}_{t.tool_name}": t.tool_name or t.name for t in tools}
    results = [
        (names.get(e.tool[0], e.tool[0]), e.tool[1])
        for e in entries[last + 1 :]
        if e.tool is not None
    ]
    return parse_script(entries[last].text), results


def turn_root_blobs(user_text: str | None, steps: list[bytes]) -> list[bytes]:
    """A finished turn as root prompt message blobs (the seed's shape, protocol/seed.py);
    without the user entry when the turn was resumed."""
    history: list[HistoryStep] = []
    for data in steps:
        step = agent.ConversationStep.FromString(data)
        which = step.WhichOneof("message")
        if which == "assistant_message":
            history.append(AssistantStep(step.assistant_message.text))
        elif which == "tool_call" and step.tool_call.WhichOneof("tool") == "mcp_tool_call":
            call = step.tool_call.mcp_tool_call
            args = {key: value_bytes_to_json(raw) for key, raw in call.args.args.items()}
            history.append(
                ToolStep(
                    call.args.tool_call_id,
                    call.args.tool_name or call.args.name,
                    args,
                    describe_mcp_result(call.result),
                    provider=call.args.provider_identifier,
                )
            )
    entries = root_prompt_entries("", "", [HistoryTurn(user_text or "", history)])
    if user_text is None:
        entries = entries[1:]
    return [json_blob(entry) for entry in entries]
