"""What starting a Run builds once per process instead of once per request: the same
messages as building them afresh, never shared where they could be changed, and rebuilt
when what they are made of changes."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cursor_bridge.engine import toolset as toolset_module
from cursor_bridge.engine.catalog import ModelChoice, ModelInfo
from cursor_bridge.engine.context import Workspace, request_context
from cursor_bridge.engine.planner import plan_run
from cursor_bridge.engine.request import ChatMessage, ChatRequest, ImageInput, ToolSpec
from cursor_bridge.engine.toolset import Toolset
from cursor_bridge.protocol import seed
from cursor_bridge.protocol.blobs import blob_id
from cursor_bridge.protocol.ids import new_uuid
from cursor_bridge.protocol.messages import agent, json_to_value_bytes
from cursor_bridge.protocol.seed import AGENT_MODE

READ = ToolSpec("read", "Read a file", {"type": "object", "properties": {"path": {}}})
WRITE = ToolSpec("write", "Write a file", {"type": "object"})
CHOICE = ModelChoice(ModelInfo("m", "M"), "m", parameters=(("effort", "high"),))


def _reference(plan_request: agent.AgentRunRequest, context: agent.RequestContext,
               request: ChatRequest, choice: ModelChoice, toolset: Toolset,
               ) -> agent.AgentRunRequest:  # fmt: skip
    """The run_request built the plain way (every sub-message made, then passed in)."""
    run_id = plan_request.run_id
    last = request.messages[-1]
    if last.role == "user":
        user = agent.UserMessage(text=last.text, message_id=run_id, mode=AGENT_MODE)
        for index, image in enumerate(last.images):
            sent = plan_request.action.user_message_action.user_message
            user.selected_context.selected_images.append(
                agent.SelectedImage(
                    data=image.data,
                    mime_type=image.mime_type,
                    uuid=sent.selected_context.selected_images[index].uuid,
                    path=f"image-{index + 1}",
                )
            )
        action = agent.ConversationAction(
            user_message_action=agent.UserMessageAction(user_message=user, request_context=context)
        )
    else:
        action = agent.ConversationAction(resume_action=agent.ResumeAction(request_context=context))
    return agent.AgentRunRequest(
        conversation_state=plan_request.conversation_state,
        action=action,
        model_details=agent.ModelDetails(model_id=choice.model_id),
        requested_model=choice.requested_model(),
        mcp_tools=agent.McpTools(mcp_tools=toolset.definitions()),
        conversation_id=plan_request.conversation_id,
        conversation_group_id=plan_request.conversation_id,
        run_id=run_id,
        field_10=0,
        field_12=0,
    )


@pytest.mark.parametrize(
    ("messages", "tools", "model_id"),
    [
        ((ChatMessage("user", "hi"),), (), "m"),
        ((ChatMessage("system", "be brief"), ChatMessage("user", "hi")), (READ, WRITE), "m"),
        ((ChatMessage("user", "look", images=(ImageInput("image/png", b"\x89PNG"),)),), (), ""),
        ((ChatMessage("user", "hi"), ChatMessage("assistant", "hello")), (READ,), "m"),
    ],
)
def test_the_run_request_is_the_one_built_the_plain_way(
    messages: tuple[ChatMessage, ...], tools: tuple[ToolSpec, ...], model_id: str
) -> None:
    request = ChatRequest("m", messages, tools=tools)
    toolset = Toolset.build(tools)
    choice = ModelChoice(CHOICE.model, model_id, parameters=CHOICE.parameters)
    plan = plan_run(request, choice, Workspace(), toolset)
    expected = _reference(plan.run_request, plan.request_context, request, choice, toolset)
    assert plan.run_request.SerializeToString(deterministic=True) == expected.SerializeToString(
        deterministic=True
    )
    assert plan.run_request.HasField("model_details") and plan.run_request.HasField("mcp_tools")


def test_tool_definitions_are_converted_once_per_distinct_tool() -> None:
    toolset_module.definition.cache_clear()
    first = Toolset.build((READ, WRITE)).definitions()
    again = Toolset.build((READ, WRITE)).definitions()
    changed = Toolset.build((READ, ToolSpec("write", "Write a file", {"type": "string"})))
    assert toolset_module.definition.cache_info().misses == 2
    assert [d.SerializeToString() for d in first] == [d.SerializeToString() for d in again]
    (_, write) = changed.definitions()
    assert write.input_schema == json_to_value_bytes({"type": "string"})
    assert toolset_module.definition.cache_info().misses == 3


def test_each_request_gets_its_own_context_to_change() -> None:
    tools = Toolset.build((READ,))
    first = request_context("rules", tools, Workspace())
    first.tools.add(name="added by a hosted tool server")
    first.cloud_rule = "changed"
    second = request_context("rules", tools, Workspace())
    assert [t.name for t in second.tools] == ["cursor-bridge-read"]
    assert second.cloud_rule == "rules"
    other = request_context("other rules", Toolset.build((WRITE,)), Workspace())
    assert other.cloud_rule == "other rules"
    assert [t.name for t in other.tools] == ["cursor-bridge-write"]


def test_the_project_layout_is_read_on_every_request(tmp_path: Path) -> None:
    workspace = Workspace(path=str(tmp_path))
    (tmp_path / "a.txt").write_text("a")
    before = request_context("", Toolset.build(()), workspace)
    (tmp_path / "b.txt").write_text("b")
    after = request_context("", Toolset.build(()), workspace)
    assert [f.name for f in before.project_layouts[0].children_files] == ["a.txt"]
    assert [f.name for f in after.project_layouts[0].children_files] == ["a.txt", "b.txt"]
    assert after.env.workspace_paths == [str(tmp_path)]


def test_new_uuids_are_random_version_4_uuids() -> None:
    ids = {new_uuid() for _ in range(1000)}
    assert len(ids) == 1000
    for text in list(ids)[:50]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_the_model_and_tools_part_is_shared_only_as_a_copy() -> None:
    """The fields made of the model and the tools come from one cached message: what one
    Run changes in its own request (hosted tools add definitions) never reaches the next,
    and another model or tool set gets its own."""
    request = ChatRequest("m", (ChatMessage("user", "hi"),), tools=(READ,))
    toolset = Toolset.build(request.tools)
    first = plan_run(request, CHOICE, Workspace(), toolset).run_request
    first.mcp_tools.mcp_tools.add(name="added by a hosted tool server")
    first.requested_model.parameters.add(id="changed", value="yes")
    again = plan_run(request, CHOICE, Workspace(), toolset).run_request
    assert [t.name for t in again.mcp_tools.mcp_tools] == ["cursor-bridge-read"]
    assert [(p.id, p.value) for p in again.requested_model.parameters] == [("effort", "high")]
    other_choice = ModelChoice(CHOICE.model, "m", max_mode=True, parameters=(("effort", "low"),))
    other = plan_run(
        ChatRequest("m", request.messages, tools=(WRITE,)),
        other_choice,
        Workspace(),
        Toolset.build((WRITE,)),
    ).run_request
    assert other.requested_model.max_mode
    assert [(p.id, p.value) for p in other.requested_model.parameters] == [("effort", "low")]
    assert [t.name for t in other.mcp_tools.mcp_tools] == ["cursor-bridge-write"]
    assert again.run_id != first.run_id and again.conversation_id != first.conversation_id


def test_run_headers_come_from_the_last_list_only_while_they_would_be_the_same() -> None:
    """`RunHeaders.now` is `run_headers` at that moment (with the request id it drew), across
    checksum periods, tokens and identities; every Run gets its own request id."""
    from cursor_bridge.engine.run_handle import RunHeaders
    from cursor_bridge.protocol.headers import ClientIdentity, run_headers

    now = [1_700_000_000.0]
    headers = RunHeaders(clock=lambda: now[0])
    plain, device = ClientIdentity(), ClientIdentity(machine_id="m" * 64, mac_machine_id="x")
    seen: set[str] = set()
    steps = [
        (None, plain, 0.0),
        (None, plain, 1.0),
        ("t1", plain, 0.0),
        ("t1", device, 0.0),
        ("t1", device, 999.0),  # crosses into the next checksum period
        ("t1", device, 0.5),
        ("t2", device, 0.0),
        ("t2", ClientIdentity(machine_id="m" * 64, mac_machine_id="x"), 0.0),  # an equal one
        ("t2", ClientIdentity(machine_id="n" * 64), 0.0),
        (None, device, 5000.0),
    ]
    for token, identity, step in steps:
        now[0] += step
        made = headers.now(token, identity)
        request_id = dict(made)["x-request-id"]
        assert request_id not in seen
        seen.add(request_id)
        now_ms = int(now[0] * 1000)
        assert made == run_headers(token, identity, now_ms=now_ms, request_id=request_id)


# -- the leading root entries (system prompt, rules): encoded once per distinct text ------


class _Forgetful:
    """Encodes every leading entry afresh: the seed as it was before any was remembered."""

    def encoded(self, entry: dict[str, object]) -> tuple[bytes, bytes]:
        data = seed.json_blob(entry)
        return blob_id(data), data


def test_a_remembered_system_prompt_seeds_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    system = 'You are "a coding agent".\n' * 600  # 15 KB, quotes and newlines to escape
    turns = [seed.HistoryTurn("earlier", [seed.AssistantStep("answer")])]
    monkeypatch.setattr(seed, "_leading", _Forgetful())
    expected = seed.seed_conversation(turns, system, system + "\nrules é")
    monkeypatch.setattr(seed, "_leading", seed._RememberedEntries())
    for _ in range(2):  # the second time from what the first remembered
        seeded = seed.seed_conversation(turns, system, system + "\nrules é")
        assert seeded.state == expected.state
        assert seeded.blobs == expected.blobs
    assert len(expected.state.root_prompt_messages_json) == 4  # system, rules, user, answer


def test_the_leading_entries_are_encoded_once_per_distinct_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(seed, "_leading", seed._RememberedEntries())
    encoded: list[str] = []
    real = seed.json_blob

    def counting(entry: dict[str, object]) -> bytes:
        encoded.append(str(entry["role"]))
        return real(entry)

    monkeypatch.setattr(seed, "json_blob", counting)
    turns = [seed.HistoryTurn("earlier")]
    seed.seed_conversation(turns, "system A", "rules A")
    assert encoded == ["system", "user", "user"]  # system, <rules>, the history turn
    encoded.clear()
    # Equal text in new string objects (as each request parses them): not encoded again.
    seed.seed_conversation(turns, "".join(["system ", "A"]), "".join(["rules ", "A"]))
    assert encoded == ["user"]  # the history is encoded every time
    encoded.clear()
    seed.seed_conversation(turns, "system B", "rules A")  # a changed prompt is a new entry
    assert encoded == ["system", "user"]


def test_the_remembered_entries_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    leading = seed._RememberedEntries()
    monkeypatch.setattr(seed, "_leading", leading)
    for index in range(seed._REMEMBERED * 3):
        seed.seed_conversation([], f"system {index}", "")
    assert len(leading._items) == seed._REMEMBERED
    # Newest first: the oldest were let go.
    newest = leading._items[0][0]
    assert newest["content"] == f"system {seed._REMEMBERED * 3 - 1}"
    huge = "x" * (seed._MAX_REMEMBERED_BYTES + 1)
    seed.seed_conversation([], huge, "")
    assert all(entry["content"] != huge for entry, _, _ in leading._items)
