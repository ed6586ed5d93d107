"""A tool loop's rounds share one Toolset: built once for the very same tools tuple, so its
digest and its schema conversion are paid once per conversation, never shared across
different tools or choices."""

from __future__ import annotations

import pytest

from cursor_bridge.engine import toolset as toolset_module
from cursor_bridge.engine.request import NamedToolChoice, ToolSpec
from cursor_bridge.engine.toolset import Toolset


def _tools(description: str = "Read a file") -> tuple[ToolSpec, ...]:
    return (ToolSpec("read", description, {"type": "object"}), ToolSpec("ls", "List"))


def test_the_same_tools_tuple_gets_the_same_toolset_and_others_their_own() -> None:
    tools = _tools()
    first = Toolset.build(tools)
    assert Toolset.build(tools) is first
    equal = Toolset.build(_tools())  # equal tools, another tuple: built afresh, same digest
    assert equal is not first and equal.digest == first.digest
    assert equal.definitions() == first.definitions()
    named = Toolset.build(tools, NamedToolChoice("ls"))
    assert named is not first and [d.tool_name for d in named.definitions()] == ["ls"]
    changed = Toolset.build(_tools("Read one file"))
    assert changed.digest != first.digest


def test_kept_toolsets_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toolset_module, "_BUILT", type(toolset_module._BUILT)())
    monkeypatch.setattr(toolset_module, "_BUILT_MAX", 5)
    kept = [_tools(str(i)) for i in range(20)]
    for tools in kept:
        Toolset.build(tools)
    assert len(toolset_module._BUILT) == 5
    assert Toolset.build(kept[-1]) is Toolset.build(kept[-1])


@pytest.mark.parametrize("tools", [(), []])
def test_no_tools_with_auto_choice_is_one_toolset_as_built_afresh(
    tools: tuple[ToolSpec, ...],
) -> None:
    shared = Toolset.build(tools)
    assert shared is Toolset.build(()) and shared is Toolset.build((), "auto")
    fresh = Toolset((), "auto", {})
    assert shared == fresh and shared.digest == fresh.digest
    assert shared.definitions() == fresh.definitions() == [] and shared.offered == ()
    assert shared.definitions_key == fresh.definitions_key
    assert shared.instruction() == fresh.instruction() == ""
    # Any other choice is its own toolset, with its own rules.
    for choice in ("none", "required", NamedToolChoice("x")):
        other = Toolset.build((), choice)
        assert other is not shared and other.choice == choice


def test_a_request_writes_each_schema_as_json_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The token figures and the definitions of one request read one JSON text per tool."""
    import json

    from cursor_bridge.engine import token_estimate
    from cursor_bridge.engine.request import ChatMessage, ChatRequest

    written: list[object] = []
    real_dumps = json.dumps

    def counting(value: object, **options: object) -> str:
        written.append(value)
        return real_dumps(value, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(json, "dumps", counting)  # every module's json.dumps
    schema = {"type": "object", "properties": {"path": {"type": "string", "description": "é"}}}
    tools = (ToolSpec("read", "Read", schema), ToolSpec("ls", "List"), ToolSpec("w", "W", schema))
    request = ChatRequest("m", (ChatMessage("user", "hi"),), tools=tools)
    bound = token_estimate.input_token_bound(request)
    token_estimate.rough_input_tokens(request)
    token_estimate.estimate_input_tokens(request)
    definitions = Toolset.build(tools).definitions()
    assert len(written) == 3  # once per tool, though two schemas are equal
    compact = real_dumps(schema, separators=(",", ":"))
    assert bound >= len(compact) * 2 + len("{}")
    assert [d.tool_name for d in definitions] == ["read", "ls", "w"]
    # The definitions carry the schema itself; a tool without one takes no arguments.
    plain = [Toolset.build((ToolSpec("x", "X", schema), ToolSpec("y")))]
    assert plain[0].definitions()[0].input_schema == definitions[0].input_schema
    empty = plain[0].definitions_key[1][2]
    assert json.loads(empty) == {"type": "object", "properties": {}}
