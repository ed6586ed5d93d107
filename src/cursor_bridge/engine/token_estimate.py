"""A local estimate of a request's input tokens, for token-counting endpoints.

No model's tokenizer can be fetched here (and Cursor's models use several), so the count is a
documented approximation, not an exact figure:

- text is cut into ASCII letter runs, digit runs and single other characters (punctuation,
  symbols, non-Latin script), the pieces a BPE tokenizer rarely merges across; a letter run
  counts one token per started 4 letters, a digit run one per started 3 digits, every other
  piece one token;
- every message adds 3 tokens of framing, every image a flat 1,600 (Anthropic documents about
  width * height / 750 per image, which tops out near 1,600 for the largest images it keeps);
- every tool adds its name, description and JSON schema counted as text.

It tends to overestimate prose slightly and is within a few tens of percent for code.
"""

from __future__ import annotations

import re

from .identity_memo import remembered
from .request import ChatMessage, ChatRequest, ToolSpec
from .toolset import schema_json

MESSAGE_OVERHEAD = 3
IMAGE_TOKENS = 1600
_PIECES = re.compile(r"[A-Za-z]+|[0-9]+|[^\sA-Za-z0-9]")


def text_tokens(text: str) -> int:
    count = 0
    for piece in _PIECES.findall(text):
        first = piece[0]
        if first.isascii() and first.isalpha():
            count += -(-len(piece) // 4)
        elif first.isascii() and first.isdigit():
            count += -(-len(piece) // 3)
        else:
            count += 1
    return count


def message_tokens(message: ChatMessage) -> int:
    count = MESSAGE_OVERHEAD + text_tokens(message.text) + text_tokens(message.reasoning)
    count += IMAGE_TOKENS * len(message.images)
    for call in message.tool_calls:
        count += text_tokens(call.name) + text_tokens(call.arguments)
    return count


def tool_tokens(tool: ToolSpec) -> int:
    schema = schema_json(tool)
    return text_tokens(tool.name) + text_tokens(tool.description) + text_tokens(schema)


def estimate_input_tokens(request: ChatRequest) -> int:
    """Estimated input tokens of the whole request (system, messages, tools)."""
    return sum(message_tokens(m) for m in request.messages) + sum(
        tool_tokens(t) for t in request.tools
    )


def input_token_bound(request: ChatRequest) -> int:
    """An upper bound of `estimate_input_tokens` that only measures lengths (the estimate
    counts at most one token per character): where the estimate is only compared with a
    limit, a bound under the limit spares tokenising the whole history."""
    count = 0
    for m in request.messages:
        count += MESSAGE_OVERHEAD + len(m.text) + len(m.reasoning)
        if m.images:
            count += IMAGE_TOKENS * len(m.images)
        if m.tool_calls:
            count += sum(len(call.name) + len(call.arguments) for call in m.tool_calls)
    return count + _tool_bound(request.tools)


def _tool_bound(tools: tuple[ToolSpec, ...]) -> int:
    """`input_token_bound`'s characters of *tools* (names, descriptions, schemas as JSON),
    remembered by the identity of the tuple as `_tool_chars` remembers its figure: every
    request of a client offering tools would otherwise write each schema out again."""
    if not tools:
        return 0
    return remembered(_TOOL_BOUNDS, tools, _count_bound, 128)


def _count_bound(tools: tuple[ToolSpec, ...]) -> int:
    return sum(len(t.name) + len(t.description) + len(schema_json(t)) for t in tools)


_TOOL_BOUNDS: dict[int, tuple[tuple[ToolSpec, ...], int]] = {}


def rough_input_tokens(request: ChatRequest) -> int:
    """A cheaper, coarser figure (4 characters a token) for hot paths such as a stream's
    first event, where the backend's real count replaces it at the end."""
    chars = images = 0
    for message in request.messages:
        chars += len(message.text) + len(message.reasoning)
        if message.tool_calls:
            chars += sum(len(call.arguments) for call in message.tool_calls)
        if message.images:
            images += len(message.images)
    chars += _tool_chars(request.tools)
    return chars // 4 + IMAGE_TOKENS * images + MESSAGE_OVERHEAD * len(request.messages)


def _tool_chars(tools: tuple[ToolSpec, ...]) -> int:
    """The characters of *tools* (descriptions and schemas), remembered by the identity
    of the tuple: a tool loop's rounds share one (engine/resent_body.py)."""
    return remembered(_TOOL_CHARS, tools, _count_chars, 128)


def _count_chars(tools: tuple[ToolSpec, ...]) -> int:
    return sum(len(t.description) + len(schema_json(t)) for t in tools)


_TOOL_CHARS: dict[int, tuple[tuple[ToolSpec, ...], int]] = {}
