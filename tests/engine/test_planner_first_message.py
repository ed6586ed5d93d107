"""A new conversation's one user message is planned from a prebuilt request
(`planner._plan_first_message`): the same run_request, context and blobs, byte for byte,
as planning any request builds (`planner._plan_any`), whatever the model, tools, rules,
workspace, images and ids."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from cursor_bridge.engine import planner
from cursor_bridge.engine.catalog import ModelChoice, ModelInfo
from cursor_bridge.engine.planner import PlannedRun, Workspace, plan_run
from cursor_bridge.engine.request import (
    ChatMessage,
    ChatRequest,
    ImageInput,
    OutputFormat,
    ToolSpec,
)
from cursor_bridge.engine.toolset import Toolset

TOOLS = (ToolSpec("read", "Read a file", {"type": "object"}), ToolSpec("my.tool", "", {}))


def _ids(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = itertools.count()
    monkeypatch.setattr(planner, "new_uuid", lambda: f"id-{next(counter)}")


def _same(one: PlannedRun, two: PlannedRun) -> None:
    assert one.run_request.SerializeToString() == two.run_request.SerializeToString()
    assert one.run_request == two.run_request
    assert one.request_context.SerializeToString() == two.request_context.SerializeToString()
    assert one.blobs == two.blobs
    assert one.raw_state == two.raw_state


def _cases(tmp_path: Path) -> list[tuple[ChatRequest, ModelChoice, Workspace, str | None]]:
    (tmp_path / "a.txt").write_text("a")
    model = ModelInfo("m", "M")
    plain = ModelChoice(model, "m")
    tuned = ModelChoice(model, "m-max", max_mode=True, parameters=(("effort", "high"),))
    one = (ChatMessage("user", "hello"),)
    images = (
        ChatMessage(
            "user", "look", images=(ImageInput("image/png", b"P"), ImageInput("image/jpeg", b"J"))
        ),
    )
    return [
        (ChatRequest("m", one), plain, Workspace(), None),
        (ChatRequest("m", one), tuned, Workspace(), "conversation-given"),
        (ChatRequest("m", one, tools=TOOLS), plain, Workspace(), None),
        (ChatRequest("m", one, tools=TOOLS, tool_choice="required"), tuned, Workspace(), None),
        (
            ChatRequest("m", one, output_format=OutputFormat("json_object")),
            plain,
            Workspace(),
            None,
        ),
        (  # both rules: a tool_choice instruction and an output format's
            ChatRequest(
                "m",
                one,
                tools=TOOLS,
                tool_choice="required",
                output_format=OutputFormat("json_schema", {"type": "object"}),
            ),
            plain,
            Workspace(),
            None,
        ),
        (ChatRequest("m", images, tools=TOOLS), plain, Workspace(str(tmp_path)), None),
        (ChatRequest("m", one), plain, Workspace(str(tmp_path), shell="/bin/zsh"), None),
        (ChatRequest("m", (ChatMessage("user", ""),)), plain, Workspace("/nowhere"), None),
    ]


def test_the_first_message_plan_is_the_general_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for request, choice, workspace, conversation_id in _cases(tmp_path):
        toolset = Toolset.build(request.tools, request.tool_choice)
        plans = []
        for plan in (planner._plan_first_message, None):
            _ids(monkeypatch)
            if plan is None:
                plans.append(
                    planner._plan_any(request, choice, workspace, toolset, None, conversation_id)
                )
            else:
                plans.append(plan(request, choice, workspace, toolset, conversation_id))
        _same(*plans)
        # and twice in a row (the second from the remembered template)
        _ids(monkeypatch)
        _same(
            plan_run(request, choice, workspace, toolset, conversation_id=conversation_id), plans[1]
        )


def test_plans_share_nothing_they_may_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each plan is its own: changing one (as hosted tools and actions do) leaves the next."""
    request = ChatRequest("m", (ChatMessage("user", "hi"),), tools=TOOLS)
    choice = ModelChoice(ModelInfo("m", "M"), "m")
    first = plan_run(request, choice, Workspace())
    first.run_request.mcp_tools.mcp_tools.add(name="extra")
    first.request_context.cloud_rule = "changed"
    first.run_request.action.user_message_action.request_context.cloud_rule = "changed"
    first.blobs[b"k" * 32] = b"changed"
    _ids(monkeypatch)
    second = plan_run(request, choice, Workspace())
    _ids(monkeypatch)
    reference = planner._plan_any(
        request, choice, Workspace(), Toolset.build(request.tools, "auto"), None, None
    )
    _same(second, reference)


def test_only_a_lone_user_message_without_checkpoint_takes_the_template(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    taken: list[ChatRequest] = []
    real = planner._plan_first_message
    monkeypatch.setattr(
        planner,
        "_plan_first_message",
        lambda request, *a: taken.append(request) or real(request, *a),
    )
    choice = ModelChoice(ModelInfo("m", "M"), "m")
    lone = ChatRequest("m", (ChatMessage("user", "hi"),))
    plan_run(lone, choice, Workspace())
    plan_run(lone, choice, Workspace(), checkpoint=b"state")
    plan_run(
        ChatRequest("m", (ChatMessage("system", "s"), ChatMessage("user", "hi"))),
        choice,
        Workspace(),
    )
    plan_run(
        ChatRequest("m", (ChatMessage("user", "a"), ChatMessage("user", "b"))), choice, Workspace()
    )
    assert taken == [lone]
