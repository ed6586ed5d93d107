"""Turning a ChatRequest into the first frame of a Run: request, context and seeded blobs.

History is sent as content-addressed blobs (protocol/seed.py); the system prompt travels in
`RequestContext.cloud_rule`; the current user message is the action.
"""

from __future__ import annotations

import os
import platform
import uuid
from dataclasses import dataclass

from ..protocol.messages import agent
from ..protocol.seed import AGENT_MODE, HistoryTurn, seed_conversation
from .catalog import ModelChoice
from .errors import InvalidChatRequest
from .request import ChatMessage, ChatRequest


@dataclass(frozen=True, slots=True)
class Workspace:
    """What the model is told about the machine it works on (RequestContextEnv)."""

    path: str
    shell: str = "/bin/bash"
    timezone: str = "UTC"
    os_version: str = f"{platform.system().lower()} {platform.release()}"


@dataclass(slots=True)
class PlannedRun:
    run_request: agent.AgentRunRequest
    request_context: agent.RequestContext
    blobs: dict[bytes, bytes]


def plan_run(request: ChatRequest, choice: ModelChoice, workspace: Workspace) -> PlannedRun:
    system, turns, current = split_conversation(request.messages)
    seeded = seed_conversation(turns)
    context = agent.RequestContext(
        env=agent.RequestContextEnv(
            os_version=workspace.os_version,
            workspace_paths=[workspace.path],
            shell=workspace.shell,
            time_zone=workspace.timezone,
            project_folder=workspace.path,
        ),
        web_search_enabled=False,
        web_fetch_enabled=False,
    )
    if system:
        context.cloud_rule = system
    user = agent.UserMessage(text=current.text, message_id=str(uuid.uuid4()), mode=AGENT_MODE)
    for index, image in enumerate(current.images):
        user.selected_context.selected_images.append(
            agent.SelectedImage(
                data=image.data,
                mime_type=image.mime_type,
                uuid=str(uuid.uuid4()),
                path=f"image-{index + 1}",
            )
        )
    conversation_id = str(uuid.uuid4())
    run_request = agent.AgentRunRequest(
        conversation_state=seeded.state,
        action=agent.ConversationAction(
            user_message_action=agent.UserMessageAction(user_message=user, request_context=context)
        ),
        model_details=agent.ModelDetails(model_id=choice.model_id),
        requested_model=choice.requested_model(),
        mcp_tools=agent.McpTools(),
        conversation_id=conversation_id,
        conversation_group_id=conversation_id,
        run_id=user.message_id,
    )
    return PlannedRun(run_request, context, seeded.blobs)


def split_conversation(
    messages: tuple[ChatMessage, ...],
) -> tuple[str, list[HistoryTurn], ChatMessage]:
    """Split into (system prompt, earlier turns, current user message).

    Tool calls and results are rendered as text here, so nothing the client sent is lost.
    """
    system_parts = [m.text for m in messages if m.role == "system" and m.text]
    dialogue = [m for m in messages if m.role != "system"]
    if not dialogue:
        raise InvalidChatRequest("messages must contain at least one user message")
    last_user = max((i for i, m in enumerate(dialogue) if m.role == "user"), default=-1)
    if last_user < 0:
        raise InvalidChatRequest("messages must contain at least one user message")
    trailing = dialogue[last_user + 1 :]
    current = dialogue[last_user]
    if trailing:
        # Assistant or tool messages after the last user message: fold them into the prompt.
        extra = "\n\n".join(_as_text(m) for m in trailing)
        current = ChatMessage("user", f"{current.text}\n\n{extra}".strip(), current.images)
    turns: list[HistoryTurn] = []
    user_parts: list[str] = []
    assistant_parts: list[str] = []
    thinking_parts: list[str] = []
    for message in dialogue[:last_user]:
        if message.role in ("user", "tool"):
            if assistant_parts:
                turns.append(HistoryTurn("\n\n".join(user_parts), assistant_parts, thinking_parts))
                user_parts, assistant_parts, thinking_parts = [], [], []
            user_parts.append(_as_text(message))
        else:
            assistant_parts.append(_as_text(message))
            if message.reasoning:
                thinking_parts.append(message.reasoning)
    if user_parts or assistant_parts:
        if assistant_parts:
            turns.append(HistoryTurn("\n\n".join(user_parts), assistant_parts, thinking_parts))
        else:
            text = "\n\n".join(user_parts)
            current = ChatMessage("user", f"{text}\n\n{current.text}", current.images)
    return "\n\n".join(system_parts), turns, current


def _as_text(message: ChatMessage) -> str:
    parts = [message.text] if message.text else []
    if message.role == "tool":
        return f"[Result of tool call {message.tool_call_id or ''}]\n{message.text}".strip()
    for call in message.tool_calls:
        parts.append(f"[Called tool {call.name} (id {call.id}) with arguments {call.arguments}]")
    if message.images:
        parts.append(f"[{len(message.images)} image(s) attached]")
    return "\n".join(parts)


def default_workspace() -> Workspace:
    return Workspace(path=os.getcwd(), shell=os.environ.get("SHELL", "/bin/bash"))
