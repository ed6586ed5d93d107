"""Seeding a fresh Run from a client-held history (OpenAI-style messages).

The backend keeps conversations as content-addressed blobs: the Run request carries a
`ConversationStateStructure` whose `turns` are ids of `ConversationTurnStructure` blobs, which
in turn reference a `UserMessage` blob and `ConversationStep` blobs. We build those blobs
here and the RunMachine serves them when the backend asks (`get_blob`).

(inferred) The system prompt is not put into `root_prompt_messages_json`: that list holds the
backend's own agent prompt in live checkpoints. It travels in `RequestContext.cloud_rule`,
the channel peers report the agent honours. `seed_conversation` is the one place to change
if that turns out differently.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from .blobs import blob_id
from .messages import agent

AGENT_MODE = 1


@dataclass(frozen=True, slots=True)
class HistoryTurn:
    """One earlier exchange: what the user said and what the assistant answered."""

    user_text: str
    assistant_texts: Sequence[str] = ()
    thinking_texts: Sequence[str] = ()


@dataclass(slots=True)
class SeededConversation:
    state: agent.ConversationStateStructure
    blobs: dict[bytes, bytes] = field(default_factory=dict)


def seed_conversation(turns: Sequence[HistoryTurn]) -> SeededConversation:
    """Build the conversation state (and its blobs) for the turns before the current one."""
    seeded = SeededConversation(agent.ConversationStateStructure())
    for turn in turns:
        user = agent.UserMessage(
            text=turn.user_text, message_id=_stable_id(turn.user_text), mode=AGENT_MODE
        )
        steps = [
            agent.ConversationStep(thinking_message=agent.ThinkingMessage(text=text))
            for text in turn.thinking_texts
        ]
        steps += [
            agent.ConversationStep(assistant_message=agent.AssistantMessage(text=text))
            for text in turn.assistant_texts
        ]
        structure = agent.ConversationTurnStructure(
            agent_conversation_turn=agent.AgentConversationTurnStructure(
                user_message=_put(seeded, user.SerializeToString()),
                steps=[_put(seeded, step.SerializeToString()) for step in steps],
            )
        )
        seeded.state.turns.append(_put(seeded, structure.SerializeToString()))
    return seeded


def _put(seeded: SeededConversation, data: bytes) -> bytes:
    key = blob_id(data)
    seeded.blobs[key] = data
    return key


def _stable_id(text: str) -> str:
    # Same history, same bytes, same blob ids: lets the backend's caches hit across requests.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "cursor-bridge:" + text))
