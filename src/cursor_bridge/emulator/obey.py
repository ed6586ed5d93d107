"""The scripted model following the instructions it is given in the RequestContext rules.

A real model told "you must call the tool X" or "respond with only JSON matching this
schema" does so; the scripted model does too, deterministically, whenever the user message
leaves it free (see script.py: an explicit /tool or answer directive wins, and `/disobey`
makes it ignore such rules). It understands these rule sentences:

- ``You must call the tool `NAME` ...``: call NAME;
- ``You must call at least one of the provided tools ...``: call the first tool offered;
- ``Respond with only a JSON value that matches this JSON schema ...:`` followed by the
  schema on the next line: answer with a value built from that schema;
- ``Respond with only a JSON object ...``: answer ``{"answer": "<the usual answer>"}``.

Arguments and answers are built from the JSON schema by `instance()`: the first choice of
every `enum`/`anyOf`, `const` values, minimal numbers and array lengths, every property.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..protocol.messages import agent, value_bytes_to_json
from .script import Script, ToolCallSpec, parse_script

_NAMED = re.compile(r"You must call the tool `([^`]+)`")
_ANY = "You must call at least one of the provided tools"
_SCHEMA = re.compile(r"Respond with only a JSON value that matches this JSON schema[^\n]*:\n(.+)")
_OBJECT = "Respond with only a JSON object"
_MAX_DEPTH = 8


def disobeys(script: Script, earlier_user_texts: Sequence[str]) -> bool:
    """`/disobey` here, or `/disobey always` in an earlier user message of the conversation
    (a script error is answered as such, never obeyed around)."""
    if script.disobey or script.error:
        return True
    return any(parse_script(text).disobey == "always" for text in earlier_user_texts)


def obeying(script: Script, rule: str, tools: Sequence[agent.McpToolDefinition]) -> Script:
    """The script with the tool call the rules demand, when the message leaves it free."""
    if script.tool_groups:
        return script
    call = required_call(rule, tools)
    if call is None:
        return script
    return replace(script, tool_groups=((call,),))


def required_call(rule: str, tools: Sequence[agent.McpToolDefinition]) -> ToolCallSpec | None:
    """The call the rules demand, with arguments built from the tool's schema."""
    named = _NAMED.search(rule)
    tool: agent.McpToolDefinition | None = None
    if named is not None:
        tool = next((t for t in tools if named.group(1) in (t.name, t.tool_name)), None)
    elif _ANY in rule and tools:
        tool = tools[0]
    if tool is None:
        return None
    schema = _schema_of(tool)
    args = instance(schema)
    return ToolCallSpec("mcp", tool.tool_name or tool.name, args if isinstance(args, dict) else {})


def formatted_answer(rule: str, plain: str) -> str | None:
    """The answer in the format the rules demand (None when they demand none)."""
    match = _SCHEMA.search(rule)
    if match is not None:
        try:
            schema = json.loads(match.group(1).strip())
        except ValueError:
            return None
        return json.dumps(instance(schema))
    if _OBJECT in rule:
        return json.dumps({"answer": plain})
    return None


def _schema_of(tool: agent.McpToolDefinition) -> dict[str, Any]:
    try:
        schema = value_bytes_to_json(tool.input_schema) if tool.input_schema else {}
    except Exception:  # an undecodable schema: call with no arguments
        return {}
    return schema if isinstance(schema, dict) else {}


def instance(schema: Any, depth: int = 0) -> Any:
    """A deterministic value that satisfies simple JSON schemas (module docstring)."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        choices = schema.get(key)
        if isinstance(choices, list) and choices:
            return instance(choices[0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return {}
        return {name: instance(sub, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        count = schema.get("minItems", 1)
        item = instance(schema.get("items", {"type": "string"}), depth + 1)
        wanted = int(count) if isinstance(count, int | float) and 0 <= count <= 16 else 1
        return [item] * wanted
    if kind == "string":
        length = schema.get("minLength", 0)
        text = "emulated"
        return (
            text + "x" * max(0, int(length) - len(text))
            if isinstance(length, int | float)
            else text
        )
    if kind == "integer":
        return int(_number(schema, 0))
    if kind == "number":
        return _number(schema, 0)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "emulated"


def _number(schema: dict[str, Any], default: int) -> Any:
    for key in ("minimum", "exclusiveMinimum"):
        bound = schema.get(key)
        if isinstance(bound, int | float) and not isinstance(bound, bool):
            return bound + 1 if key == "exclusiveMinimum" else bound
    maximum = schema.get("maximum")
    if isinstance(maximum, int | float) and not isinstance(maximum, bool) and maximum < default:
        return maximum
    return default
