"""Turning a ChatRequest into the first frame of a fresh Run: request, context, seeded blobs.

History is sent as content-addressed blobs (protocol/seed.py): the system prompt and every
earlier turn, tool rounds included, in `root_prompt_messages_json` (what the model sees) and
`turns` (conversation state); the rules also travel in `RequestContext.cloud_rule`
(engine/context.py); the current user message is the action. Every fresh Run goes through
`plan_run`: a first turn with history, the fallback after a parked Run cannot continue,
`Blob not found` recovery and a restart between rounds.
When the conversation ends with tool results or an assistant message instead of a user
message, every turn is seeded and the action is `resume_action` (the CLI sends it to carry
on a turn without new user input; using it after seeded tool results is inferred).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..protocol.ids import new_uuid
from ..protocol.messages import agent
from ..protocol.seed import (
    AGENT_MODE,
    AssistantStep,
    HistoryImage,
    HistoryStep,
    HistoryTurn,
    SeededConversation,
    ThinkingStep,
    ToolStep,
    seed_conversation,
)
from .catalog import ModelChoice
from .context import (
    Workspace,
    context_from,
    context_template,
    default_workspace,
    request_context,
)
from .errors import InvalidChatRequest
from .request import ChatMessage, ChatRequest, ImageInput
from .structured import format_rule
from .toolset import PROVIDER_IDENTIFIER, Toolset, definition

__all__ = ["PlannedRun", "Workspace", "default_workspace", "plan_run", "split_conversation"]

MISSING_RESULT = "(the client returned no result for this call)"


@dataclass(slots=True)
class PlannedRun:
    """`raw_state`: a checkpoint to send byte for byte as `conversation_state` (then
    `run_request.conversation_state` is empty); `blobs`: what must be stored first."""

    run_request: agent.AgentRunRequest
    request_context: agent.RequestContext
    blobs: dict[bytes, bytes]
    raw_state: bytes | None = None


@dataclass(slots=True)
class Conversation:
    """A request's messages regrouped the way the backend stores them."""

    system: str
    turns: list[HistoryTurn] = field(default_factory=list)
    # The user message that starts this turn; None when the turn is resumed.
    current: ChatMessage | None = None


def plan_run(
    request: ChatRequest,
    choice: ModelChoice,
    workspace: Workspace,
    toolset: Toolset | None = None,
    *,
    checkpoint: bytes | None = None,
    conversation_id: str | None = None,
) -> PlannedRun:
    """The first frame of a fresh Run.

    With a `checkpoint` (the backend's own state after the previous turn, byte-for-byte),
    the history is not seeded: the checkpoint names it, and only the new user message goes.
    """
    toolset = toolset or Toolset.build(request.tools, request.tool_choice)
    messages = request.messages
    if checkpoint is None and len(messages) == 1 and messages[0].role == "user":
        return _plan_first_message(request, choice, workspace, toolset, conversation_id)
    return _plan_any(request, choice, workspace, toolset, checkpoint, conversation_id)


def _plan_any(
    request: ChatRequest,
    choice: ModelChoice,
    workspace: Workspace,
    toolset: Toolset,
    checkpoint: bytes | None,
    conversation_id: str | None,
) -> PlannedRun:
    """`plan_run` for any request."""
    conversation = split_conversation(request.messages, toolset.wire_name)
    output_rule = format_rule(request.output_format)
    rules = "\n\n".join(
        part for part in (conversation.system, toolset.instruction(), output_rule) if part
    )
    if checkpoint is not None:
        if conversation.current is None:
            raise ValueError("a checkpoint continues a conversation with a new user message")
        seeded = SeededConversation(agent.ConversationStateStructure())
    else:
        seeded = seed_conversation(conversation.turns, conversation.system, rules)
        if workspace.path:
            # P seeds the workspace it works in (current-client.md §2.2).
            seeded.state.previous_workspace_uris.append(Path(workspace.path).as_uri())
    context = request_context(rules, toolset, workspace)
    run_id = new_uuid()
    conversation_id = conversation_id or new_uuid()
    # Filled in place: building sub-messages first and passing them in copies each again.
    # What depends only on the model and the tools comes from one copy of `_model_and_tools`.
    run_request = agent.AgentRunRequest()
    model = (choice.model_id, choice.max_mode, choice.parameters)
    run_request.CopyFrom(_model_and_tools(*model, toolset.definitions_key))
    run_request.conversation_id = conversation_id
    run_request.conversation_group_id = conversation_id
    run_request.run_id = run_id
    run_request.conversation_state.CopyFrom(seeded.state)
    # Every sub-message below is present on the wire even when empty, as before.
    run_request.conversation_state.SetInParent()
    if conversation.current is not None:
        current = conversation.current
        action = run_request.action.user_message_action
        user = action.user_message
        user.SetInParent()
        user.text = current.text
        user.message_id = run_id
        user.mode = AGENT_MODE
        _attach_images(user, current.images)
        action.request_context.CopyFrom(context)
        action.request_context.SetInParent()
    else:
        resume = run_request.action.resume_action
        resume.request_context.CopyFrom(context)
        resume.request_context.SetInParent()
    return PlannedRun(run_request, context, seeded.blobs, checkpoint)


def _attach_images(user: agent.UserMessage, images: Iterable[ImageInput]) -> None:
    """The message's images as the user's selected context, named in order."""
    for index, image in enumerate(images):
        user.selected_context.selected_images.append(
            agent.SelectedImage(
                data=image.data,
                mime_type=image.mime_type,
                uuid=new_uuid(),
                path=f"image-{index + 1}",
            )
        )


@functools.lru_cache(maxsize=64)
def _model_and_tools(
    model_id: str,
    max_mode: bool,
    parameters: tuple[tuple[str, str], ...],
    tools: tuple[tuple[str, str, str], ...],
) -> agent.AgentRunRequest:
    """The fields of a run_request made of the model choice (what `ModelChoice` holds) and
    the offered tools (the definitions `Toolset.definitions_key` names), every one present
    even when empty. Shared: only ever copied from."""
    run_request = agent.AgentRunRequest(
        # Always sent as 0 by the current client (current-client.md §1 #12).
        field_10=0,
        field_12=0,
    )
    run_request.model_details.model_id = model_id
    run_request.model_details.SetInParent()
    requested = run_request.requested_model  # what ModelChoice.requested_model() holds
    requested.model_id = model_id
    requested.max_mode = max_mode
    for key, value in parameters:
        requested.parameters.add(id=key, value=value)
    requested.SetInParent()
    run_request.mcp_tools.mcp_tools.extend(definition(*key) for key in tools)
    run_request.mcp_tools.SetInParent()
    return run_request


def _plan_first_message(
    request: ChatRequest,
    choice: ModelChoice,
    workspace: Workspace,
    toolset: Toolset,
    conversation_id: str | None,
) -> PlannedRun:
    """`plan_run` for a new conversation's one user message (most fresh Runs): everything
    but the ids, the message and the project layout is the same for every such request of
    one model, tool set, rules and workspace, so it is copied from one prebuilt request
    (`_first_message_template`) instead of assembled again (the same message: compared in
    tests/engine/test_planner_first_message.py)."""
    only = request.messages[0]
    instruction, output_rule = toolset.instruction(), format_rule(request.output_format)
    # The two parts joined by a blank line, as `_plan_any` joins its parts (none: "").
    rules = (
        f"{instruction}\n\n{output_rule}"
        if instruction and output_rule
        else instruction or output_rule
    )
    key = toolset.definitions_key
    template, blobs = _first_message_template(
        choice.model_id, choice.max_mode, choice.parameters, key, rules, workspace
    )
    run_id = new_uuid()
    conversation_id = conversation_id or new_uuid()
    run_request = agent.AgentRunRequest()
    run_request.CopyFrom(template)
    run_request.conversation_id = conversation_id
    run_request.conversation_group_id = conversation_id
    run_request.run_id = run_id
    action = run_request.action.user_message_action
    # The template's context is `context_template`'s for these rules, tools and workspace.
    context = context_from(action.request_context, workspace)
    user = action.user_message
    user.text = only.text
    user.message_id = run_id
    if only.images:
        _attach_images(user, only.images)
    if workspace.path:
        action.request_context.CopyFrom(context)  # with the project layout as it is now
    return PlannedRun(run_request, context, dict(blobs), None)


@functools.lru_cache(maxsize=64)
def _first_message_template(
    model_id: str,
    max_mode: bool,
    parameters: tuple[tuple[str, str], ...],
    tools: tuple[tuple[str, str, str], ...],
    rules: str,
    workspace: Workspace,
) -> tuple[agent.AgentRunRequest, dict[bytes, bytes]]:
    """What `plan_run` builds for a one-message conversation, without its ids, the message
    text and images, and the project layout; and the seeded blobs (the rules). Shared: only
    ever copied from."""
    seeded = seed_conversation([], "", rules)
    if workspace.path:
        seeded.state.previous_workspace_uris.append(Path(workspace.path).as_uri())
    run_request = agent.AgentRunRequest()
    run_request.CopyFrom(_model_and_tools(model_id, max_mode, parameters, tools))
    run_request.conversation_state.CopyFrom(seeded.state)
    run_request.conversation_state.SetInParent()
    action = run_request.action.user_message_action
    user = action.user_message
    user.SetInParent()
    user.mode = AGENT_MODE
    action.request_context.CopyFrom(context_template(rules, tools, workspace))
    action.request_context.SetInParent()
    return run_request, seeded.blobs


def split_conversation(
    messages: tuple[ChatMessage, ...], wire_name: Callable[[str], str] = lambda name: name
) -> Conversation:
    """Regroup messages into (system prompt, turns, current user message).

    A turn is a user message and everything the assistant did after it: thinking, text, and
    tool calls paired with the results the client sent back (by tool_call_id).
    """
    if len(messages) == 1 and messages[0].role == "user":
        # A new conversation's one message (what `_split` makes of it, without the walk).
        only = messages[0]
        return Conversation("", [], ChatMessage("user", only.text, tuple(only.images)))
    return _split(messages, wire_name)


def _split(messages: tuple[ChatMessage, ...], wire_name: Callable[[str], str]) -> Conversation:
    """`split_conversation` for any messages."""
    system = "\n\n".join(m.text for m in messages if m.role == "system" and m.text)
    dialogue = [m for m in messages if m.role != "system"]
    if not any(m.role == "user" for m in dialogue):
        raise InvalidChatRequest("messages must contain at least one user message", "messages")
    builders: list[_TurnBuilder] = []
    for message in dialogue:
        if message.role == "user":
            if builders and not builders[-1].steps:
                builders[-1].add_user(message)  # consecutive user messages merge
            else:
                builders.append(_TurnBuilder(message))
            continue
        if not builders:
            builders.append(_TurnBuilder(ChatMessage("user", "")))
        builders[-1].add(message, wire_name)
    conversation = Conversation(system)
    last = builders[-1]
    if not last.steps:
        conversation.current = last.user_message()
        builders.pop()
    conversation.turns = [builder.turn() for builder in builders]
    return conversation


class _TurnBuilder:
    def __init__(self, user: ChatMessage) -> None:
        self.user_texts = [user.text]
        self.images = list(user.images)
        self.steps: list[HistoryStep] = []
        self._calls: dict[str, int] = {}  # tool_call_id -> index in steps

    def add_user(self, user: ChatMessage) -> None:
        self.user_texts.append(user.text)
        self.images.extend(user.images)

    def user_message(self) -> ChatMessage:
        return ChatMessage("user", "\n\n".join(self.user_texts), tuple(self.images))

    def add(self, message: ChatMessage, wire_name: Callable[[str], str]) -> None:
        if message.role == "assistant":
            if message.reasoning:
                self.steps.append(ThinkingStep(message.reasoning))
            if message.text:
                self.steps.append(AssistantStep(message.text))
            for call in message.tool_calls:
                self._calls[call.id] = len(self.steps)
                self.steps.append(
                    ToolStep(
                        call.id,
                        wire_name(call.name),
                        _arguments(call.arguments),
                        MISSING_RESULT,
                        is_error=True,
                        provider=PROVIDER_IDENTIFIER,
                    )
                )
            return
        # A tool result: fill in its call; a result with no known call is kept as its own step.
        index = self._calls.pop(message.tool_call_id or "", None)
        if index is None:
            self.steps.append(
                ToolStep(
                    message.tool_call_id or "",
                    "unknown_tool",
                    {},
                    message.text,
                    message.is_error,
                    PROVIDER_IDENTIFIER,
                )
            )
            return
        step = self.steps[index]
        assert isinstance(step, ToolStep)
        self.steps[index] = ToolStep(
            step.call_id, step.name, step.arguments, message.text, message.is_error, step.provider
        )

    def turn(self) -> HistoryTurn:
        images = [HistoryImage(i.mime_type, i.data) for i in self.images]
        return HistoryTurn("\n\n".join(self.user_texts), list(self.steps), images)


def _arguments(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {"input": text}
    return value if isinstance(value, dict) else {"input": value}
