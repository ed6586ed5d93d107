"""Responses API tools and output options (pure): function, namespace and `custom` tools,
`tool_choice`, `text.format`. Parsing of the rest of the request is in `openai_responses`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from ..engine.request import NamedToolChoice, OutputFormat, ToolChoice, ToolSpec
from .common import InvalidRequest, Lenient, output_format
from .common import validate_model as _validate


class NamedFunctionChoice(Lenient):
    type: Literal["function"]
    name: str


class AllowedToolsChoice(Lenient):
    type: Literal["allowed_tools"]
    mode: Literal["auto", "required"]
    tools: list[dict[str, Any]]


class FunctionTool(Lenient):
    type: Literal["function"]
    name: Annotated[str, Field(min_length=1, max_length=128)]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class NamespaceTool(Lenient):
    type: Literal["namespace"]
    name: Annotated[str, Field(min_length=1)]
    tools: list[dict[str, Any]]


class CustomTool(Lenient):
    type: Literal["custom"]
    name: Annotated[str, Field(min_length=1, max_length=128)]
    description: str | None = None
    format: dict[str, Any] | None = None


def custom_input_schema(tool: dict[str, Any]) -> dict[str, Any]:
    """The one-string-input schema a `custom` tool is offered with; its grammar, when it has
    one, is quoted in the input's description so the model can follow it."""
    description = "The tool's whole input, as free-form text."
    fmt = tool.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "grammar":
        syntax = fmt.get("syntax", "")
        description += f" It must match this {syntax} grammar:\n{fmt.get('definition', '')}"
    return {
        "type": "object",
        "properties": {"input": {"type": "string", "description": description}},
        "required": ["input"],
        "additionalProperties": False,
    }


# -- tools --------------------------------------------------------------------------------


@dataclass(slots=True)
class _ToolSet:
    specs: list[ToolSpec] = field(default_factory=list)
    echo: list[dict[str, Any]] = field(default_factory=list)
    # Function name -> its namespace, for functions grouped in a `namespace` tool.
    namespaces: dict[str, str] = field(default_factory=dict)
    custom: set[str] = field(default_factory=set)

    def add_custom(self, tool: Any, param: str) -> None:
        """A free-form tool: offered to the model as a tool with one string input."""
        parsed = _validate(CustomTool, tool, param)
        if any(spec.name == parsed.name for spec in self.specs):
            raise InvalidRequest(f"Duplicate tool name '{parsed.name}'.", f"{param}.name")
        self.specs.append(
            ToolSpec(parsed.name, parsed.description or "", custom_input_schema(tool))
        )
        self.custom.add(parsed.name)
        self.echo.append(tool)

    def add(self, tool: Any, param: str, namespace: str | None = None) -> dict[str, Any]:
        """Add one function tool; returns it as the response object echoes it."""
        parsed = _validate(FunctionTool, tool, param)
        if any(spec.name == parsed.name for spec in self.specs):
            raise InvalidRequest(f"Duplicate tool name '{parsed.name}'.", f"{param}.name")
        self.specs.append(ToolSpec(parsed.name, parsed.description or "", parsed.parameters or {}))
        if namespace is not None:
            self.namespaces[parsed.name] = namespace
        return {
            "type": "function",
            "name": parsed.name,
            "description": parsed.description,
            "parameters": parsed.parameters,
            "strict": parsed.strict if parsed.strict is not None else True,
        }


def build_tools(raw: list[dict[str, Any]], notes: list[str]) -> _ToolSet:
    """Function tools, also those grouped in `namespace` tools (flattened: names must be
    unique); hosted tools are dropped with a note."""
    tools = _ToolSet()
    for index, tool in enumerate(raw):
        kind = tool.get("type")
        if not isinstance(kind, str):
            raise InvalidRequest("Every tool needs a type.", f"tools[{index}].type")
        if kind == "function":
            tools.echo.append(tools.add(tool, f"tools[{index}]"))
        elif kind == "custom":
            tools.add_custom(tool, f"tools[{index}]")
        elif kind == "namespace":
            namespace = _validate(NamespaceTool, tool, f"tools[{index}]")
            for inner, member in enumerate(namespace.tools):
                if member.get("type") == "function":
                    tools.add(member, f"tools[{index}].tools[{inner}]", namespace.name)
                else:
                    notes.append(f"dropped tool {index}.{inner} of type {member.get('type')}")
            tools.echo.append(tool)
        else:
            notes.append(f"dropped hosted tool {index} of type {kind}")
    return tools


def text_format(text: dict[str, Any] | None) -> OutputFormat | None:
    """`text.format`: text (none), json_object, or json_schema {name, schema, strict}."""
    fmt = (text or {}).get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise InvalidRequest("Invalid value for 'text.format': expected an object.", "text.format")
    return output_format(fmt.get("type"), fmt.get("schema"), fmt.get("name"), "text.format")


def tool_choice(
    choice: str | NamedFunctionChoice | AllowedToolsChoice | None, tools: tuple[ToolSpec, ...]
) -> tuple[ToolChoice, tuple[ToolSpec, ...]]:
    """The engine's tool choice, and the tools offered (`allowed_tools` narrows them)."""
    if choice is None or choice == "auto":
        return "auto", tools
    if choice == "none":
        return "none", tools
    if not tools:
        raise InvalidRequest("tool_choice needs function tools.", "tool_choice")
    if choice == "required":
        return "required", tools
    names = {t.name for t in tools}
    if isinstance(choice, NamedFunctionChoice):
        if choice.name not in names:
            raise InvalidRequest(
                f"tool_choice names '{choice.name}', which is not in tools.", "tool_choice.name"
            )
        return NamedToolChoice(choice.name), tools
    assert isinstance(choice, AllowedToolsChoice)
    allowed = {t.get("name") for t in choice.tools if t.get("type") == "function"}
    narrowed = tuple(t for t in tools if t.name in allowed)
    if not narrowed:
        raise InvalidRequest("tool_choice.tools names no function in tools.", "tool_choice.tools")
    return choice.mode, narrowed


def tool_choice_echo(choice: str | NamedFunctionChoice | AllowedToolsChoice | None) -> Any:
    if choice is None:
        return "auto"
    if isinstance(choice, BaseModel):
        return choice.model_dump(exclude_none=True)
    return choice
