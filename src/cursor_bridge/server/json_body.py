"""Reading a request body as JSON, with limits that keep hostile bodies cheap to refuse.

`parse_off_loop()` decodes the body and checks, in one pass (a second names the place, only
for a body that breaks a limit), that it is nested at most
MAX_DEPTH levels, that every string is valid Unicode (no lone surrogates, which cannot be
encoded later) and at most MAX_STRING characters (object keys MAX_KEY), that message lists
hold at most MAX_MESSAGES entries, and that tool schemas and tool-call arguments, which
travel to the backend as `google.protobuf.Value` (at most 100 levels, two per JSON level),
are nested at most MAX_VALUE_DEPTH levels. A violation raises InvalidBody, which each route
renders in its dialect as a 400.

Large bodies are decoded, checked and parsed in a worker thread (`parse_off_loop`), so a
huge history does not stall every other request on the event loop. A body too small and
plain to break any of these limits (`_cannot_break_limits`) skips the walk.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request

from .. import access
from ..engine import resent_body

T = TypeVar("T")

MAX_DEPTH = 64
MAX_VALUE_DEPTH = 32
MAX_STRING = 16 * 1024 * 1024
MAX_KEY = 1024
# Identifiers and names (model, ids, roles, user): echoed in answers and logs, never long.
MAX_SHORT = 4096
MAX_MESSAGES = 10_000
# Bodies at least this large are decoded and parsed in a worker thread.
OFF_LOOP_BYTES = 256 * 1024

# Keys whose lists are the conversation (chat and Anthropic `messages`, Responses `input`).
_MESSAGE_LISTS = frozenset({"messages", "input"})
# Keys whose values become protobuf Values: tool schemas and tool-call arguments.
_VALUE_KEYS = frozenset({"parameters", "input_schema", "input", "arguments"})
_SHORT_KEYS = frozenset(
    {"model", "user", "id", "name", "role", "type", "tool_call_id", "tool_use_id", "call_id"}
    | {"previous_response_id"}
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTAINERS = (dict, list)


class InvalidBody(Exception):
    """The body is not JSON, or breaks a limit; `message` says which, for the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def parse_off_loop(request: Request, parse: Callable[[Any], T]) -> T:
    """Decode and check the body, then `parse(body)`: in a worker thread when the body is
    large. Exceptions from `parse` reach the caller unchanged."""
    raw = await request.body()
    if len(raw) >= OFF_LOOP_BYTES:
        return await asyncio.to_thread(_decode_and_parse, raw, parse)
    return _decode_and_parse(raw, parse)


def _decode_and_parse(raw: bytes, parse: Callable[[Any], T]) -> T:
    try:
        body = decode(raw)
        access.note_body_model(body)  # the access log names the model even when parsing fails
        return parse(body)
    finally:
        resent_body.forget()


def decode(raw: bytes) -> Any:
    """The body decoded and checked; a tool loop's resent history is neither decoded nor
    checked again (engine/resent_body.py: only what is new is)."""
    reading = resent_body.read(raw)
    if reading is None:
        return _decode_whole(raw)
    try:
        if reading.messages > MAX_MESSAGES:  # the new part alone may be under the limit
            raise InvalidBody("too many messages")
        check(reading.unchecked)
    except InvalidBody:
        check(reading.body)  # the error the whole body gives (the first one found)
        raise
    reading.remember()
    return reading.body


def _decode_whole(raw: bytes) -> Any:
    try:
        body = _loads(raw)
    except RecursionError:
        raise InvalidBody(
            f"The request body is nested more than {MAX_DEPTH} levels deep."
        ) from None
    except UnicodeDecodeError:
        raise InvalidBody("The request body is not valid UTF-8 (invalid Unicode).") from None
    except ValueError:
        raise InvalidBody("The request body is not valid JSON.") from None
    if not _cannot_break_limits(raw):
        check(body)
    return body


# What json.loads ends in: the C scanner of a default decoder, (value, end) = scan(text, at)
# (a JSONDecoder sets it in its __init__).
_DECODER: Any = json.JSONDecoder()
_scan_once: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once
_JSON_SPACE = " \t\n\r"


def _loads(raw: bytes) -> Any:
    """`json.loads(raw)`, the same value and errors, with fewer steps for what every client
    sends: an object in UTF-8. json.loads guesses the encoding from the first four bytes
    (UTF-8 when none is NUL and there is no byte-order mark, which cannot start with `{`),
    decodes, skips leading space, scans, and refuses anything but space after the value;
    any other body goes its way."""
    if raw[:1] != b"{" or b"\x00" in raw[:4]:
        return json.loads(raw)
    text = raw.decode("utf-8", "surrogatepass")
    try:
        value, end = _scan_once(text, 0)
    except StopIteration as missing:  # a value missing inside (what raw_decode says)
        raise json.JSONDecodeError("Expecting value", text, missing.value) from None
    if end != len(text):
        rest = text[end:]
        if rest.strip(_JSON_SPACE):
            at = end + len(rest) - len(rest.lstrip(_JSON_SPACE))
            raise json.JSONDecodeError("Extra data", text, at)
    return value


def _cannot_break_limits(raw: bytes) -> bool:
    """True when *raw*, if it decodes, passes check() whatever it holds: each decoded string
    is shorter than the body (every limit on strings and keys is above its size, and a list
    of more than MAX_MESSAGES entries needs two bytes an entry); the nesting is at most its
    brackets, fewer than either depth limit (tool-call arguments in a string included: their
    brackets are in the body too, as no \\u escape is); only ASCII without NUL bytes (UTF-8,
    not UTF-16 or 32) and without \\u escapes holds no surrogate."""
    if len(raw) > min(MAX_KEY, MAX_SHORT, MAX_STRING, 2 * MAX_MESSAGES):
        return False
    if not raw.isascii() or b"\\u" in raw or b"\x00" in raw:
        return False
    return raw.count(b"[") + raw.count(b"{") < min(MAX_DEPTH, MAX_VALUE_DEPTH)


def check(body: Any) -> None:
    """Raise InvalidBody if *body* breaks a limit. The walk that keeps every limit skips
    naming where it is (`_fits`); a body that breaks one is walked again by `_refuse`, which
    says where."""
    if not (isinstance(body, _CONTAINERS) and _fits(body, 1, -1)):
        _refuse(body)


def _fits(node: Any, depth: int, value_start: int) -> bool:
    """True when the container *node* (at *depth*; inside a protobuf Value that began at
    *value_start*, or -1) keeps every limit `_refuse` enforces. Without building a path per
    key, about twice as fast: a coding agent's tool schemas are hundreds of nodes in every
    request. Recursive, but never deeper than MAX_DEPTH: a deeper container is refused
    before its children are looked at."""
    if depth > MAX_DEPTH or (value_start >= 0 and depth - value_start >= MAX_VALUE_DEPTH):
        return False
    if isinstance(node, list):
        for item in node:
            if isinstance(item, str):
                if len(item) > MAX_STRING or (not item.isascii() and _SURROGATE.search(item)):
                    return False
            elif isinstance(item, _CONTAINERS) and not _fits(item, depth + 1, value_start):
                return False
        return True
    for key, value in node.items():
        if len(key) > MAX_KEY or (not key.isascii() and _SURROGATE.search(key)):
            return False
        start = value_start
        if start < 0 and depth > 1 and key in _VALUE_KEYS:
            start = depth + 1
            if key == "arguments" and isinstance(value, str):
                try:
                    _check_json_text(value, key)
                except InvalidBody:
                    return False
        if isinstance(value, str):
            if len(value) > MAX_STRING or (not value.isascii() and _SURROGATE.search(value)):
                return False
            if len(value) > MAX_SHORT and key in _SHORT_KEYS:
                return False
        elif isinstance(value, _CONTAINERS):
            if key in _MESSAGE_LISTS and isinstance(value, list) and len(value) > MAX_MESSAGES:
                return False
            if not _fits(value, depth + 1, start):
                return False
    return True


def _refuse(body: Any) -> None:
    """Raise InvalidBody naming the first limit *body* breaks, and where (iterative: depth
    cannot overflow)."""
    # (node, depth, depth at which the enclosing protobuf Value began or -1, path)
    stack: list[tuple[Any, int, int, str]] = [(body, 1, -1, "")]
    while stack:
        node, depth, value_start, path = stack.pop()
        if isinstance(node, str):
            _check_string(node, path, MAX_STRING)
            continue
        if not isinstance(node, _CONTAINERS):
            continue
        if depth > MAX_DEPTH:
            raise InvalidBody(f"The request body is nested more than {MAX_DEPTH} levels deep.")
        if value_start >= 0 and depth - value_start >= MAX_VALUE_DEPTH:
            raise InvalidBody(
                f"'{path}' is nested more than {MAX_VALUE_DEPTH} levels deep (the limit for "
                "tool schemas and tool-call arguments)."
            )
        if isinstance(node, list):
            stack.extend((item, depth + 1, value_start, path) for item in node)
            continue
        for key, value in node.items():
            _check_string(key, path, MAX_KEY)
            where = f"{path}.{key}" if path else key
            if key in _MESSAGE_LISTS and isinstance(value, list) and len(value) > MAX_MESSAGES:
                raise InvalidBody(
                    f"'{where}' holds {len(value)} messages; at most {MAX_MESSAGES} are accepted."
                )
            if key in _SHORT_KEYS and isinstance(value, str):
                _check_string(value, where, MAX_SHORT)
            start = value_start
            if start < 0 and key in _VALUE_KEYS and depth > 1:
                start = depth + 1
                if isinstance(value, str) and key == "arguments":
                    _check_json_text(value, where)
            stack.append((value, depth + 1, start, where))


def _check_string(text: str, path: str, limit: int) -> None:
    if len(text) > limit:
        raise InvalidBody(
            f"A string in '{path or 'the body'}' is too long (over {limit} characters)."
        )
    if not text.isascii() and _SURROGATE.search(text):
        raise InvalidBody(
            f"A string in '{path or 'the body'}' is not valid Unicode (a lone surrogate)."
        )


def _check_json_text(text: str, where: str) -> None:
    """Tool-call arguments sent as a JSON string are decoded later: same depth limit."""
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):
        return
    try:
        value = json.loads(stripped)
    except RecursionError:
        value = None
        too_deep = True
    except ValueError:
        return
    else:
        too_deep = _depth(value) > MAX_VALUE_DEPTH
    if too_deep:
        raise InvalidBody(
            f"'{where}' is nested more than {MAX_VALUE_DEPTH} levels deep (the limit for tool "
            "schemas and tool-call arguments)."
        )


def _depth(value: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, depth)
            if depth <= MAX_VALUE_DEPTH:
                stack.extend((item, depth + 1) for item in node)
    return deepest
