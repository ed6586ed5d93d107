"""Seeding a fresh Run from a client-held history (OpenAI-style messages).

The backend keeps conversations as content-addressed blobs: the Run request carries a
`ConversationStateStructure` whose `turns` are ids of `ConversationTurnStructure` blobs, which
in turn reference a `UserMessage` blob and `ConversationStep` blobs. We build those blobs
here and the RunMachine serves them when the backend asks (`get_blob`).

Tool calls and their results become `ConversationStep.tool_call` steps holding an
`McpToolCall{args, result}`, the shape the backend itself stores for a client tool call, so
a fresh Run sees the earlier tool rounds as tool rounds, not as prose.

(inferred) The system prompt is not put into `root_prompt_messages_json`: that list holds the
backend's own agent prompt in live checkpoints. It travels in `RequestContext.cloud_rule`,
the channel peers report the agent honours. `seed_conversation` is the one place to change
if that turns out differently.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .blobs import blob_id
from .messages import agent, json_to_value_bytes

AGENT_MODE = 1


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


def seed_conversation(turns: Sequence[HistoryTurn]) -> SeededConversation:
    """Build the conversation state (and its blobs) for the given turns."""
    seeded = SeededConversation(agent.ConversationStateStructure())
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


def _put(seeded: SeededConversation, data: bytes) -> bytes:
    key = blob_id(data)
    seeded.blobs[key] = data
    return key


def _stable_id(text: str) -> str:
    # Same history, same bytes, same blob ids: lets the backend's caches hit across requests.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "cursor-bridge:" + text))
