"""Planning a Run from a chat request: history split, seeding, context."""

from __future__ import annotations

import pytest

from cursor_bridge.engine.catalog import ModelChoice, ModelInfo
from cursor_bridge.engine.errors import InvalidChatRequest
from cursor_bridge.engine.planner import MISSING_RESULT, Workspace, plan_run, split_conversation
from cursor_bridge.engine.request import (
    ChatMessage,
    ChatRequest,
    ImageInput,
    ToolCallRecord,
    ToolSpec,
)
from cursor_bridge.engine.toolset import PROVIDER_IDENTIFIER
from cursor_bridge.protocol.blobs import blob_id
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.seed import AssistantStep, ThinkingStep, ToolStep


def msgs(*pairs: tuple[str, str]) -> tuple[ChatMessage, ...]:
    return tuple(ChatMessage(role, text) for role, text in pairs)  # type: ignore[arg-type]


def test_split_separates_system_turns_and_current() -> None:
    conversation = split_conversation(
        msgs(
            ("system", "S1"), ("user", "u1"), ("assistant", "a1"), ("system", "S2"), ("user", "u2")
        )
    )
    assert conversation.system == "S1\n\nS2"
    (turn,) = conversation.turns
    assert (turn.user_text, list(turn.steps)) == ("u1", [AssistantStep("a1")])
    assert conversation.current is not None and conversation.current.text == "u2"


def test_consecutive_user_messages_merge() -> None:
    conversation = split_conversation(msgs(("user", "a"), ("user", "b")))
    assert conversation.turns == []
    assert conversation.current is not None and conversation.current.text == "a\n\nb"


def test_tool_calls_and_results_become_paired_tool_steps() -> None:
    messages = (
        ChatMessage("user", "read it"),
        ChatMessage(
            "assistant",
            "let me look",
            tool_calls=(
                ToolCallRecord("c1", "read", '{"p":1}'),
                ToolCallRecord("c2", "grep", "not json"),
            ),
            reasoning="thinking",
        ),
        ChatMessage("tool", "grep out", tool_call_id="c2", is_error=True),
        ChatMessage("tool", "file body", tool_call_id="c1"),
        ChatMessage("user", "thanks"),
    )
    conversation = split_conversation(messages)
    (turn,) = conversation.turns
    assert turn.user_text == "read it"
    assert list(turn.steps) == [
        ThinkingStep("thinking"),
        AssistantStep("let me look"),
        ToolStep("c1", "read", {"p": 1}, "file body", False, PROVIDER_IDENTIFIER),
        ToolStep("c2", "grep", {"input": "not json"}, "grep out", True, PROVIDER_IDENTIFIER),
    ]
    assert conversation.current is not None and conversation.current.text == "thanks"


def test_trailing_tool_results_resume_the_last_turn() -> None:
    messages = (
        ChatMessage("user", "read it"),
        ChatMessage("assistant", "", tool_calls=(ToolCallRecord("c1", "read", "{}"),)),
        ChatMessage("tool", "file body", tool_call_id="c1"),
    )
    conversation = split_conversation(messages)
    assert conversation.current is None
    (turn,) = conversation.turns
    assert turn.steps == [ToolStep("c1", "read", {}, "file body", False, PROVIDER_IDENTIFIER)]
    # An unanswered call is kept, marked as an error, so the history stays well-formed.
    conversation = split_conversation(messages[:2])
    (step,) = conversation.turns[0].steps
    assert isinstance(step, ToolStep) and step.is_error and step.result == MISSING_RESULT


def test_plan_resumes_with_tool_steps_and_declares_tools_twice() -> None:
    request = ChatRequest(
        "m",
        (
            ChatMessage("user", "go"),
            ChatMessage("assistant", "", tool_calls=(ToolCallRecord("c1", "my.tool", "{}"),)),
            ChatMessage("tool", "done", tool_call_id="c1"),
        ),
        tools=(ToolSpec("my.tool", "does it", {"type": "object"}),),
    )
    plan = plan_run(request, ModelChoice(ModelInfo("m", "M"), "m"), Workspace("/w"))
    run = plan.run_request
    assert run.action.WhichOneof("action") == "resume_action"
    # `<server>-<tool>` names, as the current client declares them (current-client.md §3).
    assert [t.name for t in run.mcp_tools.mcp_tools] == ["cursor-bridge-my_tool"]
    assert [t.tool_name for t in plan.request_context.tools] == ["my_tool"]
    (turn_id,) = run.conversation_state.turns
    turn = agent.ConversationTurnStructure.FromString(plan.blobs[turn_id])
    (step_id,) = turn.agent_conversation_turn.steps
    step = agent.ConversationStep.FromString(plan.blobs[step_id])
    call = step.tool_call.mcp_tool_call
    assert call.args.tool_name == "my_tool" and call.args.tool_call_id == "c1"
    assert call.result.success.content[0].text.text == "done"


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


@pytest.mark.parametrize(
    "message",
    [
        ChatMessage("user", "hi"),
        ChatMessage("user", ""),
        ChatMessage("user", "  spaced\n", name="alice", reasoning="ignored"),
        ChatMessage("user", "look", images=(ImageInput("image/png", b"\x89PNG"),)),
    ],
)
def test_a_one_message_conversation_splits_as_the_general_walk_does(message: ChatMessage) -> None:
    """The one-message shortcut gives what walking the messages gives."""
    from cursor_bridge.engine.planner import _split

    assert split_conversation((message,)) == _split((message,), lambda name: name)


def test_a_lone_message_from_anyone_but_the_user_is_still_refused() -> None:
    for role in ("assistant", "tool", "system"):
        with pytest.raises(InvalidChatRequest):
            split_conversation(msgs((role, "alone")))
