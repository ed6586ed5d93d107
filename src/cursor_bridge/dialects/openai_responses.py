"""OpenAI Responses API (`POST /v1/responses`): request parsing (pure, no I/O).

`parse_request()` turns a decoded JSON body into a `ResponsesRequest`: this request's own
input as internal ChatMessages plus what the route needs to finish the job
(`previous_response_id`, `store`, the parameters echoed in the response object). The route
resolves `previous_response_id` and calls `ResponsesRequest.chat_request(history)`.

Decisions (documented in the README too):
- `function` tools reach the model as they are; `custom` (free-form grammar) tools, such as
  Codex's `apply_patch`, reach it as tools with a single string argument `input` (the
  grammar quoted in its description), and their calls come back as `custom_tool_call` items
  with that `input`. Hosted tools (`web_search`, `file_search`, `code_interpreter`, ...)
  cannot run behind this bridge; they are dropped and named in `ResponsesRequest.notes` for
  the route to log, because clients such as Codex always send some of them.
- `text.format` (json_object, json_schema) is given to the model and its answer validated
  (engine/enforce.py); `max_output_tokens` ends the answer at the limit (`incomplete`). The
  Responses API has no stop sequences.
- Input items that carry hosted-tool traffic (`web_search_call`, `local_shell_call`, ...)
  are dropped the same way; `item_reference` is rejected (nothing to resolve it against).
- `instructions` become the system prompt of this request only: as at OpenAI they are not
  carried over by `previous_response_id`.
- Input images must be base64 `data:` URLs; the bridge never fetches remote content.

Rendering lives in `openai_responses_render.py`.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, Field, StrictBool

from ..engine.request import (
    ChatMessage,
    ChatRequest,
    ImageInput,
    OutputFormat,
    ToolCallRecord,
    ToolChoice,
    ToolSpec,
)
from .common import InvalidRequest as InvalidRequest
from .common import Lenient, data_url_image, validate_model
from .responses_tools import (
    AllowedToolsChoice,
    NamedFunctionChoice,
    build_tools,
    text_format,
    tool_choice,
    tool_choice_echo,
)

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
    output_format: OutputFormat | None = None
    # Names of `custom` (free-form) tools: their calls render as custom_tool_call items.
    custom_tools: frozenset[str] = frozenset()
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
            output_format=self.output_format,
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
    if body.get("max_tool_calls") is not None:
        raise InvalidRequest(
            "'max_tool_calls' is not supported: the model's tool calls cannot be capped.",
            "max_tool_calls",
        )
    if body.get("top_logprobs"):
        raise InvalidRequest(
            "'top_logprobs' is not supported: the backend reports no logprobs.", "top_logprobs"
        )
    if "message.output_text.logprobs" in (parsed.include or ()):
        raise InvalidRequest(
            "'include' asks for message.output_text.logprobs, which the backend does not report.",
            "include",
        )
    output_format = text_format(parsed.text)
    notes: list[str] = []
    items: list[dict[str, Any]] | str = parsed.input
    messages = (
        (ChatMessage("user", items),) if isinstance(items, str) else items_to_messages(items, notes)
    )
    toolset = build_tools(parsed.tools or [], notes)
    reasoning = parsed.reasoning or ReasoningIn()
    summary = reasoning.summary or reasoning.generate_summary
    choice, offered = tool_choice(parsed.tool_choice, tuple(toolset.specs))
    echo: dict[str, Any] = {
        "frequency_penalty": 0.0,
        "instructions": parsed.instructions,
        "max_output_tokens": parsed.max_output_tokens,
        "max_tool_calls": None,
        "metadata": parsed.metadata or {},
        "parallel_tool_calls": parsed.parallel_tool_calls is not False,
        "presence_penalty": 0.0,
        "previous_response_id": parsed.previous_response_id,
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {"effort": reasoning.effort, "summary": summary},
        "safety_identifier": body.get("safety_identifier"),
        "service_tier": "default",
        "store": parsed.store is not False,
        "temperature": parsed.temperature if parsed.temperature is not None else 1.0,
        "text": parsed.text or {"format": {"type": "text"}},
        "tool_choice": tool_choice_echo(parsed.tool_choice),
        "tools": toolset.echo,
        "top_logprobs": 0,
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
        output_format=output_format,
        custom_tools=frozenset(toolset.custom),
        namespaces=toolset.namespaces,
        echo=echo,
        notes=tuple(notes),
    )


def _validate(model: type[M], data: Any, prefix: str) -> M:
    # A message part's type tag follows its list index in pydantic's location.
    return validate_model(model, data, prefix, _PART_TAGS)


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
        "compaction_trigger", "additional_tools", "program", "program_output",
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
        if kind is not None and not isinstance(kind, str):
            raise InvalidRequest(f"Invalid value for '{prefix}.type': expected a string.", prefix)
        if kind == "item_reference":
            raise InvalidRequest(
                "item_reference inputs are not supported; send the item itself or use "
                "previous_response_id.",
                f"{prefix}.type",
            )
        summary = compaction_summary(raw) if kind == "compaction" else None
        if kind in _HOSTED_ITEMS or (kind == "compaction" and summary is None):
            if notes is not None:
                notes.append(f"dropped input item {index} of type {kind}")
            continue
        if summary is not None:
            step = None
            out.append(ChatMessage("user", SUMMARY_PREFIX + summary))
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


# A compaction item made by /v1/responses/compact (server/compact.py): the summary, encoded.
_COMPACTION_TAG = "cb-summary."
SUMMARY_PREFIX = "Summary of the conversation so far:\n"


def compaction_content(summary: str) -> str:
    """The `encrypted_content` of a compaction item: the summary, base64-encoded (not secret:
    the client only has to hand it back)."""
    return _COMPACTION_TAG + base64.urlsafe_b64encode(summary.encode()).decode()


def compaction_summary(item: dict[str, Any]) -> str | None:
    """The summary a compaction item carries; None for items this bridge did not make (such as
    OpenAI's encrypted ones, which nothing here can read)."""
    content = item.get("encrypted_content")
    if not isinstance(content, str) or not content.startswith(_COMPACTION_TAG):
        return None
    try:
        return base64.urlsafe_b64decode(content[len(_COMPACTION_TAG) :]).decode()
    except (binascii.Error, ValueError):
        return None


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
