"""OpenAI Responses API (`POST /v1/responses`): request parsing (pure, no I/O).

`parse_request()` turns a decoded JSON body into a `ResponsesRequest`: this request's own
input as internal ChatMessages plus what the route needs to finish the job
(`previous_response_id`, `store`, the parameters echoed in the response object). The route
resolves `previous_response_id` and calls `ResponsesRequest.chat_request(history)`.

Decisions (documented in the README too):
- Only `function` tools reach the model. Hosted tools (`web_search`, `file_search`,
  `code_interpreter`, `custom`, ...) cannot run behind this bridge; they are dropped and
  named in `ResponsesRequest.notes` for the route to log, because clients such as Codex
  always send some of them.
- Input items that carry hosted-tool traffic (`web_search_call`, `local_shell_call`, ...)
  are dropped the same way; `item_reference` is rejected (nothing to resolve it against).
- `instructions` become the system prompt of this request only: as at OpenAI they are not
  carried over by `previous_response_id`.
- Input images must be base64 `data:` URLs; the bridge never fetches remote content.

Rendering lives in `openai_responses_render.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, Field, StrictBool, ValidationError

from ..engine.request import (
    ChatMessage,
    ChatRequest,
    ImageInput,
    NamedToolChoice,
    ToolCallRecord,
    ToolChoice,
    ToolSpec,
)
from .common import InvalidRequest as InvalidRequest
from .common import Lenient, data_url_image, invalid_from

M = TypeVar("M", bound=BaseModel)


# -- request schema -----------------------------------------------------------------------


class InputText(Lenient):
    type: Literal["input_text"]
    text: str


class OutputText(Lenient):
    type: Literal["output_text"]
    text: str


class RefusalPart(Lenient):
    type: Literal["refusal"]
    refusal: str


class InputImage(Lenient):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None


class InputFile(Lenient):
    type: Literal["input_file"]


ContentPart = Annotated[
    InputText | OutputText | RefusalPart | InputImage | InputFile, Field(discriminator="type")
]


class MessageItem(Lenient):
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ContentPart]


class FunctionCallItem(Lenient):
    type: Literal["function_call"]
    call_id: Annotated[str, Field(min_length=1)]
    name: Annotated[str, Field(min_length=1)]
    arguments: str = ""


class FunctionCallOutputItem(Lenient):
    type: Literal["function_call_output", "custom_tool_call_output"]
    call_id: Annotated[str, Field(min_length=1)]
    output: str | list[ContentPart]


class CustomToolCallItem(Lenient):
    type: Literal["custom_tool_call"]
    call_id: Annotated[str, Field(min_length=1)]
    name: Annotated[str, Field(min_length=1)]
    input: str = ""


class SummaryText(Lenient):
    type: Literal["summary_text"] = "summary_text"
    text: str


class ReasoningText(Lenient):
    type: Literal["reasoning_text"] = "reasoning_text"
    text: str


class ReasoningItem(Lenient):
    type: Literal["reasoning"]
    summary: list[SummaryText] = Field(default_factory=list)
    content: list[ReasoningText] | None = None


_ITEM_MODELS: dict[str, type[BaseModel]] = {
    "message": MessageItem,
    "function_call": FunctionCallItem,
    "function_call_output": FunctionCallOutputItem,
    "custom_tool_call": CustomToolCallItem,
    "custom_tool_call_output": FunctionCallOutputItem,
    "reasoning": ReasoningItem,
}


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


class NamedFunctionChoice(Lenient):
    type: Literal["function"]
    name: str


class AllowedToolsChoice(Lenient):
    type: Literal["allowed_tools"]
    mode: Literal["auto", "required"]
    tools: list[dict[str, Any]]


class ReasoningIn(Lenient):
    effort: str | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: Literal["auto", "concise", "detailed"] | None = None


class ResponsesBody(Lenient):
    model: Annotated[str, Field(min_length=1)]
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    previous_response_id: str | None = None
    store: StrictBool | None = None
    stream: StrictBool | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: (
        Literal["none", "auto", "required"] | NamedFunctionChoice | AllowedToolsChoice | None
    ) = None
    parallel_tool_calls: StrictBool | None = None
    reasoning: ReasoningIn | None = None
    max_output_tokens: Annotated[int, Field(gt=0)] | None = None
    include: list[str] | None = None
    text: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    truncation: Literal["auto", "disabled"] | None = None
    background: StrictBool | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class ResponsesRequest:
    """A parsed request: this request's own conversation items plus routing facts."""

    model: str
    input: tuple[ChatMessage, ...]
    instructions: str | None = None
    previous_response_id: str | None = None
    store: bool = True
    stream: bool = False
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = "auto"
    parallel_tool_calls: bool = True
    reasoning_effort: str | None = None
    # Whether the client asked for reasoning summaries (`reasoning.summary`): only then is
    # the model's thinking rendered as summary text, as OpenAI does.
    reasoning_summary: str | None = None
    max_output_tokens: int | None = None
    # Function name -> namespace, for calls of functions offered inside `namespace` tools.
    namespaces: dict[str, str] = field(default_factory=dict)
    # Request parameters echoed in the response object.
    echo: dict[str, Any] = field(default_factory=dict)
    # What was dropped (hosted tools, hosted-tool items): for the route to log.
    notes: tuple[str, ...] = ()

    def chat_request(self, history: tuple[ChatMessage, ...] = ()) -> ChatRequest:
        """The engine request: instructions, then the resolved earlier conversation, then input."""
        system = (ChatMessage("system", self.instructions),) if self.instructions else ()
        return ChatRequest(
            model=self.model,
            messages=(*system, *history, *self.input),
            stream=self.stream,
            include_usage=True,
            reasoning_effort=self.reasoning_effort,
            tools=self.tools,
            max_tokens=self.max_output_tokens,
            tool_choice=self.tool_choice,
            parallel_tool_calls=self.parallel_tool_calls,
        )


def parse_request(body: Any) -> ResponsesRequest:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    parsed = _validate(ResponsesBody, body, "")
    if parsed.background:
        raise InvalidRequest("Background responses are not supported.", "background")
    for unsupported in ("conversation", "prompt"):
        if body.get(unsupported) is not None:
            raise InvalidRequest(f"'{unsupported}' is not supported.", unsupported)
    notes: list[str] = []
    items: list[dict[str, Any]] | str = parsed.input
    messages = (
        (ChatMessage("user", items),) if isinstance(items, str) else items_to_messages(items, notes)
    )
    toolset = _tools(parsed.tools or [], notes)
    reasoning = parsed.reasoning or ReasoningIn()
    summary = reasoning.summary or reasoning.generate_summary
    choice, offered = _tool_choice(parsed.tool_choice, tuple(toolset.specs))
    echo: dict[str, Any] = {
        "instructions": parsed.instructions,
        "max_output_tokens": parsed.max_output_tokens,
        "metadata": parsed.metadata or {},
        "parallel_tool_calls": parsed.parallel_tool_calls is not False,
        "previous_response_id": parsed.previous_response_id,
        "reasoning": {"effort": reasoning.effort, "summary": summary},
        "store": parsed.store is not False,
        "temperature": parsed.temperature if parsed.temperature is not None else 1.0,
        "text": parsed.text or {"format": {"type": "text"}},
        "tool_choice": _tool_choice_echo(parsed.tool_choice),
        "tools": toolset.echo,
        "top_p": parsed.top_p if parsed.top_p is not None else 1.0,
        "truncation": parsed.truncation or "disabled",
        "user": parsed.user,
    }
    return ResponsesRequest(
        model=parsed.model,
        input=messages,
        instructions=parsed.instructions or None,
        previous_response_id=parsed.previous_response_id or None,
        store=parsed.store is not False,
        stream=bool(parsed.stream),
        tools=offered,
        tool_choice=choice,
        parallel_tool_calls=parsed.parallel_tool_calls is not False,
        reasoning_effort=reasoning.effort,
        reasoning_summary=summary,
        max_output_tokens=parsed.max_output_tokens,
        namespaces=toolset.namespaces,
        echo=echo,
        notes=tuple(notes),
    )


def _validate(model: type[M], data: Any, prefix: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # A message part's type tag follows its list index in pydantic's location.
        raise invalid_from(exc, prefix, _PART_TAGS) from exc


_PART_TAGS = frozenset({"input_text", "output_text", "refusal", "input_image", "input_file"})


# -- items -> messages --------------------------------------------------------------------

# Items of hosted tools the bridge cannot express; dropped (with a note) rather than refused,
# because clients resend whole histories that may contain them.
_HOSTED_ITEMS = frozenset(
    {
        "file_search_call", "web_search_call", "computer_call", "computer_call_output",
        "code_interpreter_call", "image_generation_call", "local_shell_call",
        "local_shell_call_output", "shell_call", "shell_call_output", "apply_patch_call",
        "apply_patch_call_output", "mcp_list_tools", "mcp_approval_request",
        "mcp_approval_response", "mcp_call", "tool_search_call", "tool_search_output",
        "compaction", "compaction_trigger", "additional_tools", "program", "program_output",
        "configuration_update",
    }
)  # fmt: skip


def items_to_messages(
    items: list[dict[str, Any]], notes: list[str] | None = None
) -> tuple[ChatMessage, ...]:
    """Conversation items (input, or a response's output) as internal messages.

    Reasoning, assistant text and function calls that follow each other form one assistant
    message (one model step); a reasoning item after text or calls starts the next step.
    """
    out: list[ChatMessage] = []
    step: _Step | None = None
    for index, raw in enumerate(items):
        prefix = f"input[{index}]"
        if not isinstance(raw, dict):
            raise InvalidRequest(f"Invalid value for '{prefix}': expected an object.", prefix)
        kind = raw.get("type") or ("message" if "role" in raw else None)
        if kind == "item_reference":
            raise InvalidRequest(
                "item_reference inputs are not supported; send the item itself or use "
                "previous_response_id.",
                f"{prefix}.type",
            )
        if kind in _HOSTED_ITEMS:
            if notes is not None:
                notes.append(f"dropped input item {index} of type {kind}")
            continue
        model = _ITEM_MODELS.get(kind or "")
        if model is None:
            raise InvalidRequest(f"Unsupported input item type {kind!r}.", f"{prefix}.type")
        item = _validate(model, {**raw, "type": kind}, prefix)
        if isinstance(item, MessageItem) and item.role == "assistant":
            if step is None or step.calls:
                step = _Step()
                out.append(step.placeholder())
            step.text.append(_text_of(item.content, prefix, allow_images=False)[0])
        elif isinstance(item, ReasoningItem):
            if step is None or step.text or step.calls:
                step = _Step()
                out.append(step.placeholder())
            texts = [s.text for s in item.summary] or [c.text for c in item.content or ()]
            step.reasoning.append("\n\n".join(texts))
        elif isinstance(item, FunctionCallItem | CustomToolCallItem):
            if step is None:
                step = _Step()
                out.append(step.placeholder())
            if isinstance(item, FunctionCallItem):
                step.calls.append(ToolCallRecord(item.call_id, item.name, item.arguments))
            else:
                arguments = json.dumps({"input": item.input})
                step.calls.append(ToolCallRecord(item.call_id, item.name, arguments))
        else:
            step = None
            out.append(_plain_message(item, prefix))
        if step is not None:
            out[-1] = step.message()
    return tuple(out)


@dataclass(slots=True)
class _Step:
    """The assistant message being assembled from consecutive output-like items."""

    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: list[ToolCallRecord] = field(default_factory=list)

    def placeholder(self) -> ChatMessage:
        return ChatMessage("assistant")

    def message(self) -> ChatMessage:
        return ChatMessage(
            "assistant",
            "\n\n".join(self.text),
            tool_calls=tuple(self.calls),
            reasoning="\n\n".join(r for r in self.reasoning if r),
        )


def _plain_message(item: BaseModel, prefix: str) -> ChatMessage:
    if isinstance(item, FunctionCallOutputItem):
        text, images = _text_of(item.output, f"{prefix}.output", allow_images=True)
        return ChatMessage("tool", text, images, tool_call_id=item.call_id)
    assert isinstance(item, MessageItem)
    user = item.role == "user"
    text, images = _text_of(item.content, f"{prefix}.content", allow_images=user)
    return ChatMessage("user" if user else "system", text, images)


def _text_of(
    content: str | list[Any], param: str, *, allow_images: bool
) -> tuple[str, tuple[ImageInput, ...]]:
    if isinstance(content, str):
        return content, ()
    texts: list[str] = []
    images: list[ImageInput] = []
    for index, part in enumerate(content):
        where = f"{param}[{index}]"
        if isinstance(part, InputText | OutputText):
            texts.append(part.text)
        elif isinstance(part, RefusalPart):
            texts.append(part.refusal)
        elif isinstance(part, InputImage) and allow_images:
            if not part.image_url:
                raise InvalidRequest(
                    "Only base64 data: URLs are supported for images (no file_id).",
                    f"{where}.image_url",
                )
            images.append(data_url_image(part.image_url, f"{where}.image_url"))
        elif isinstance(part, InputImage):
            raise InvalidRequest("Images are only supported in user input.", where)
        else:
            raise InvalidRequest("input_file content is not supported.", f"{where}.type")
    return "\n".join(texts), tuple(images)


# -- tools --------------------------------------------------------------------------------


@dataclass(slots=True)
class _ToolSet:
    specs: list[ToolSpec] = field(default_factory=list)
    echo: list[dict[str, Any]] = field(default_factory=list)
    # Function name -> its namespace, for functions grouped in a `namespace` tool.
    namespaces: dict[str, str] = field(default_factory=dict)

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


def _tools(raw: list[dict[str, Any]], notes: list[str]) -> _ToolSet:
    """Function tools, also those grouped in `namespace` tools (flattened: names must be
    unique); hosted tools are dropped with a note."""
    tools = _ToolSet()
    for index, tool in enumerate(raw):
        kind = tool.get("type")
        if not isinstance(kind, str):
            raise InvalidRequest("Every tool needs a type.", f"tools[{index}].type")
        if kind == "function":
            tools.echo.append(tools.add(tool, f"tools[{index}]"))
        elif kind == "namespace":
            namespace = _validate(NamespaceTool, tool, f"tools[{index}]")
            for inner, member in enumerate(namespace.tools):
                if member.get("type") == "function":
                    tools.add(member, f"tools[{index}].tools[{inner}]", namespace.name)
                else:
                    notes.append(f"dropped tool {index}[{inner}] of type {member.get('type')}")
            tools.echo.append(tool)
        else:
            notes.append(f"dropped hosted tool {index} of type {kind}")
    return tools


def _tool_choice(
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


def _tool_choice_echo(choice: str | NamedFunctionChoice | AllowedToolsChoice | None) -> Any:
    if choice is None:
        return "auto"
    if isinstance(choice, BaseModel):
        return choice.model_dump(exclude_none=True)
    return choice
