"""The scripted model follows tool and format rules deterministically (emulator/obey.py)."""

from __future__ import annotations

import json

import jsonschema

from cursor_bridge.emulator.obey import formatted_answer, instance, required_call
from cursor_bridge.emulator.script import parse_script
from cursor_bridge.protocol.messages import agent, json_to_value_bytes

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 12},
        "count": {"type": "integer", "minimum": 2},
        "ratio": {"type": "number", "exclusiveMinimum": 0},
        "tags": {"type": "array", "items": {"enum": ["x", "y"]}, "minItems": 2},
        "kind": {"anyOf": [{"const": "fixed"}, {"type": "null"}]},
        "ok": {"type": "boolean"},
        "nested": {"type": "object", "properties": {"deep": {"type": ["null", "string"]}}},
    },
    "required": ["name", "count"],
}


def tool(name: str, schema: dict[str, object]) -> agent.McpToolDefinition:
    return agent.McpToolDefinition(
        name=name, tool_name=name, input_schema=json_to_value_bytes(schema)
    )


def test_instances_satisfy_their_schema_and_are_stable() -> None:
    value = instance(SCHEMA)
    jsonschema.validate(value, SCHEMA)
    assert value == instance(SCHEMA)
    assert value["tags"] == ["x", "x"] and value["kind"] == "fixed"


def test_named_and_any_tool_rules() -> None:
    tools = [tool("first", {"type": "object"}), tool("second", SCHEMA)]
    named = required_call("You must call the tool `second` now, before anything else.", tools)
    assert named is not None and named.name == "second"
    jsonschema.validate(named.args, SCHEMA)
    assert isinstance(named.args["count"], int)  # protobuf's doubles come back as integers
    anyone = required_call("You must call at least one of the provided tools.", tools)
    assert anyone is not None and anyone.name == "first"
    assert required_call("Be nice.", tools) is None
    assert required_call("You must call the tool `missing` now.", tools) is None


def test_format_rules() -> None:
    rule = (
        "Respond with only a JSON value that matches this JSON schema (no prose):\n"
        + json.dumps(SCHEMA)
    )
    jsonschema.validate(json.loads(formatted_answer(rule, "plain") or ""), SCHEMA)
    assert (
        formatted_answer("Respond with only a JSON object: no prose.", "hi") == '{"answer": "hi"}'
    )
    assert formatted_answer("Answer in French.", "hi") is None


def test_disobey_directive() -> None:
    assert parse_script("/disobey\nhi").disobey == "once"
    assert parse_script("/disobey always").disobey == "always"
    assert parse_script("/disobey sometimes").error.startswith("usage: /disobey")
