"""The client's tools as the backend sees them (MCP tool definitions) and back again.

Cursor's agent calls client tools through its MCP channel: each tool is an
`McpToolDefinition` listed in both `AgentRunRequest.mcp_tools` and `RequestContext.tools`,
and a call arrives as exec `mcp_args` naming it. Names are sanitised for the wire (the models
behind Cursor accept `[A-Za-z0-9_-]{1,64}`) and mapped back exactly.

`tool_choice` is honoured by shaping what is offered (none: nothing; a named tool: only that
one) plus an instruction in the rules, and by refusing a call the choice does not allow; an
answer without the required call is caught in engine/enforce.py.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Container, Sequence
from dataclasses import dataclass, field

from ..protocol.messages import agent, json_text_to_value_bytes
from .identity_memo import remembered
from .request import NamedToolChoice, ToolChoice, ToolSpec

PROVIDER_IDENTIFIER = "cursor-bridge"
MAX_NAME = 64
_INVALID = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Toolset:
    declared: tuple[ToolSpec, ...]
    choice: ToolChoice = "auto"
    _wire_names: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, tools: Sequence[ToolSpec], choice: ToolChoice = "auto") -> Toolset:
        """The toolset of *tools*; the same one again for the very same tools tuple (a
        tool loop's rounds share it: engine/resent_body.py), so its digest and schema
        conversion happen once per conversation, not once per round."""
        if not tools and choice == "auto":
            return _NO_TOOLS  # most requests: the one toolset of no tools, kept for good
        declared = tuple(tools)
        key = (id(declared), choice)
        with _BUILT_LOCK:
            kept = _BUILT.get(key)
            if kept is not None and kept.declared is declared:
                _BUILT.move_to_end(key)
                return kept
        wire: dict[str, str] = {}
        for spec in declared:
            wire[_unique_wire_name(spec.name, wire)] = spec.name
        built = cls(declared, choice, wire)
        with _BUILT_LOCK:
            _BUILT[key] = built  # holds `declared`, so its id is not reused meanwhile
            while len(_BUILT) > _BUILT_MAX:
                _BUILT.popitem(last=False)
        return built

    @property
    def offered(self) -> tuple[ToolSpec, ...]:
        """The tools the model is told about, after tool_choice shaping."""
        if self.choice == "none":
            return ()
        if isinstance(self.choice, NamedToolChoice):
            return tuple(t for t in self.declared if t.name == self.choice.name)
        return self.declared

    def definitions(self) -> list[agent.McpToolDefinition]:
        """The offered tools as MCP definitions (schemas converted once per request)."""
        return list(self._definitions)

    @functools.cached_property
    def _definitions(self) -> tuple[agent.McpToolDefinition, ...]:
        return tuple(definition(*key) for key in self.definitions_key)

    @functools.cached_property
    def definitions_key(self) -> tuple[tuple[str, str, str], ...]:
        """What the offered tools' definitions are made from: (wire name, description,
        schema as JSON text) each; equal keys mean equal definitions."""
        offered: dict[str, ToolSpec] = {}
        for spec in self.offered:
            offered.setdefault(spec.name, spec)  # the first of a name, as `spec()` finds
        out = []
        for wire, name in self._wire_names.items():
            found = offered.get(name)
            if found is None:
                continue
            schema = schema_json(found) if found.parameters else _EMPTY_SCHEMA
            out.append((wire, found.description, schema))
        return tuple(out)

    def spec(self, client_name: str) -> ToolSpec | None:
        return next((t for t in self.declared if t.name == client_name), None)

    def client_name(self, *wire_names: str) -> str | None:
        """The client's name for a tool the backend named (tool_name, then name)."""
        for wire in wire_names:
            if not wire:
                continue
            for candidate in (wire, wire.removeprefix(PROVIDER_IDENTIFIER + "-")):
                if candidate in self._wire_names:
                    return self._wire_names[candidate]
        return None

    def wire_name(self, client_name: str) -> str:
        """The wire name of a declared tool (a name we never declared passes unchanged)."""
        for wire, name in self._wire_names.items():
            if name == client_name:
                return wire
        return client_name

    def allows(self, client_name: str) -> bool:
        return any(spec.name == client_name for spec in self.offered)

    def instruction(self) -> str:
        """A rule for the model when tool_choice constrains it ("" when it does not)."""
        if isinstance(self.choice, NamedToolChoice):
            # The model knows the tool by its wire name.
            name = self.wire_name(self.choice.name)
            return f"You must call the tool `{name}` now, before anything else."
        if self.choice == "required" and self.declared:
            return "You must call at least one of the provided tools before answering."
        return ""

    def refusal_reason(self, requested: str) -> str:
        if self.choice == "none":
            return "Tools are disabled for this request; answer in text."
        if isinstance(self.choice, NamedToolChoice):
            return f"The tool `{requested}` is not allowed now: call `{self.choice.name}`."
        names = ", ".join(t.name for t in self.offered) or "none"
        return f"The tool `{requested}` is not available now. Available tools: {names}."

    @functools.cached_property
    def digest(self) -> str:
        """Identifies the tool catalog and choice: a held Run continues only if unchanged."""
        body = json.dumps(
            [
                [[t.name, t.description, t.parameters] for t in self.declared],
                self.choice if isinstance(self.choice, str) else ["named", self.choice.name],
            ],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(body.encode()).hexdigest()


# Toolsets built lately, by the identity of their tools tuple and the choice.
_NO_TOOLS = Toolset((), "auto", {})
_BUILT: OrderedDict[tuple[int, ToolChoice], Toolset] = OrderedDict()
_BUILT_MAX = 128
_BUILT_LOCK = threading.Lock()


def schema_json(tool: ToolSpec) -> str:
    """*tool*'s schema as compact JSON text, written once per ToolSpec: a request's token
    figures and its tool definitions all read it, and a coding agent offers 10-40 tools of
    a kilobyte or more each (writing them out three times was a tenth of such a request's
    CPU). Remembered by the identity of the spec (engine/identity_memo.py)."""
    return remembered(_SCHEMA_JSON, tool, _write_schema, _SCHEMA_JSON_MAX)


def _write_schema(tool: ToolSpec) -> str:
    return json.dumps(tool.parameters, separators=(",", ":"))


_SCHEMA_JSON: dict[int, tuple[ToolSpec, str]] = {}
_SCHEMA_JSON_MAX = 4096
# A tool offered without a schema takes no arguments.
_EMPTY_SCHEMA = '{"type":"object","properties":{}}'


@functools.lru_cache(maxsize=1024)
def definition(wire: str, description: str, schema: str) -> agent.McpToolDefinition:
    """One tool's definition, built once per process: clients send the same tools with
    every request, and converting a schema to a protobuf Value is the costly part. The
    messages are shared, so nothing may modify them (they are copied where they are used)."""
    return agent.McpToolDefinition(
        name=qualified_name(wire),
        description=description,
        input_schema=json_text_to_value_bytes(schema),
        provider_identifier=PROVIDER_IDENTIFIER,
        tool_name=wire,
    )


def qualified_name(wire: str) -> str:
    """`<server>-<tool>`, the name the current client gives an MCP tool definition
    (current-client.md §3, "opencode-get_weather"); the bare name if that would be too long."""
    name = f"{PROVIDER_IDENTIFIER}-{wire}"
    return name if len(name) <= MAX_NAME else wire


def _unique_wire_name(name: str, taken: dict[str, str]) -> str:
    return unique_name(_INVALID.sub("_", name)[:MAX_NAME] or "tool", taken)


def unique_name(base: str, taken: Container[str]) -> str:
    """*base*, or *base* with `_2`, `_3`, ... when taken (cut to stay within MAX_NAME)."""
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        suffix = f"_{n}"
        candidate = base[: MAX_NAME - len(suffix)] + suffix
    return candidate
