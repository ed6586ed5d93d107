"""Planning a Run from a chat request: history split, seeding, context."""

from __future__ import annotations

import pytest

from cursor_bridge.engine.catalog import ModelChoice, ModelInfo
from cursor_bridge.engine.errors import InvalidChatRequest
from cursor_bridge.engine.planner import Workspace, plan_run, split_conversation
from cursor_bridge.engine.request import ChatMessage, ChatRequest, ImageInput, ToolCallRecord
from cursor_bridge.protocol.blobs import blob_id
from cursor_bridge.protocol.messages import agent


def msgs(*pairs: tuple[str, str]) -> tuple[ChatMessage, ...]:
    return tuple(ChatMessage(role, text) for role, text in pairs)  # type: ignore[arg-type]


def test_split_separates_system_turns_and_current() -> None:
    system, turns, current = split_conversation(
        msgs(
            ("system", "S1"), ("user", "u1"), ("assistant", "a1"), ("system", "S2"), ("user", "u2")
        )
    )
    assert system == "S1\n\nS2"
    assert [(t.user_text, list(t.assistant_texts)) for t in turns] == [("u1", ["a1"])]
    assert current.text == "u2"


def test_consecutive_user_messages_merge() -> None:
    _, turns, current = split_conversation(msgs(("user", "a"), ("user", "b")))
    assert turns == [] and current.text == "a\n\nb"


def test_tool_calls_and_results_are_kept_as_text() -> None:
    messages = (
        ChatMessage("user", "read it"),
        ChatMessage("assistant", "", tool_calls=(ToolCallRecord("c1", "read", '{"p":1}'),)),
        ChatMessage("tool", "file body", tool_call_id="c1"),
        ChatMessage("user", "thanks"),
    )
    _, turns, current = split_conversation(messages)
    assert "read" in turns[0].assistant_texts[0] and "c1" in turns[0].assistant_texts[0]
    # No assistant answered the tool result yet: it leads the current message.
    assert current.text.startswith("[Result of tool call c1]\nfile body")
    assert current.text.endswith("thanks")
    _, turns, current = split_conversation(messages[:3])
    assert "file body" in current.text


def test_no_user_message_is_a_client_error() -> None:
    with pytest.raises(InvalidChatRequest):
        split_conversation(msgs(("system", "only system")))
    with pytest.raises(InvalidChatRequest):
        split_conversation(msgs(("assistant", "hi")))


def test_plan_seeds_blobs_and_puts_the_system_prompt_in_cloud_rule() -> None:
    request = ChatRequest(
        "m",
        (
            ChatMessage("system", "be kind"),
            ChatMessage("user", "q1"),
            ChatMessage("assistant", "a1"),
            ChatMessage("user", "q2", images=(ImageInput("image/png", b"PNG"),)),
        ),
    )
    choice = ModelChoice(ModelInfo("m", "M"), "m", parameters=(("effort", "high"),))
    plan = plan_run(request, choice, Workspace("/work"))
    assert plan.request_context.cloud_rule == "be kind"
    assert plan.request_context.env.workspace_paths == ["/work"]
    run = plan.run_request
    action = run.action.user_message_action
    assert action.user_message.text == "q2"
    assert action.request_context.cloud_rule == "be kind"
    assert action.user_message.selected_context.selected_images[0].data == b"PNG"
    assert run.requested_model.model_id == "m"
    assert [(p.id, p.value) for p in run.requested_model.parameters] == [("effort", "high")]
    # Every id in the state resolves to a blob whose content hashes to it.
    (turn_id,) = run.conversation_state.turns
    for key, data in plan.blobs.items():
        assert blob_id(data) == key
    turn = agent.ConversationTurnStructure.FromString(plan.blobs[turn_id])
    user = agent.UserMessage.FromString(plan.blobs[turn.agent_conversation_turn.user_message])
    assert user.text == "q1"
    (step_id,) = turn.agent_conversation_turn.steps
    assert agent.ConversationStep.FromString(plan.blobs[step_id]).assistant_message.text == "a1"


def test_same_history_gives_same_blob_ids() -> None:
    request = ChatRequest("m", msgs(("user", "q1"), ("assistant", "a1"), ("user", "q2")))
    choice = ModelChoice(ModelInfo("m", "M"), "m")
    first = plan_run(request, choice, Workspace("/w"))
    second = plan_run(request, choice, Workspace("/w"))
    assert list(first.run_request.conversation_state.turns) == list(
        second.run_request.conversation_state.turns
    )
