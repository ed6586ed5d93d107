"""What every dialect's request parsing shares: its 400 error, a lenient schema base,
inline image decoding and random response ids. Dialects import this, never each other."""

from __future__ import annotations

import base64
import binascii
import os
from collections import deque
from collections.abc import Sequence, Set
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ..engine.request import ImageInput, OutputFormat
from ..engine.structured import schema_problem

_ID_BYTES = 16
_ID_BATCH = 256
_ids: deque[str] = deque()
os.register_at_fork(after_in_child=_ids.clear)


def random_hex() -> str:
    """32 hex digits from os.urandom that no other caller gets (what `uuid4().hex` is for
    in a response id, without its syscall per id): read `_ID_BATCH` at a time, handed out
    by an atomic `popleft`, and a forked child starts afresh (protocol/ids.py does the
    same for the backend's ids; dialects do not import it)."""
    try:
        return _ids.popleft()
    except IndexError:
        text = os.urandom(_ID_BYTES * _ID_BATCH).hex()
        step = 2 * _ID_BYTES
        _ids.extend(text[i : i + step] for i in range(step, len(text), step))
        return text[:step]


class InvalidRequest(Exception):
    """A 400: the body does not describe a valid request; `param` names the offending field."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class Lenient(BaseModel):
    """Schemas accept fields they do not know: clients send many we do not use."""

    model_config = ConfigDict(extra="allow")


def data_url_image(url: str, param: str) -> ImageInput:
    """An image from an inline `data:` URL: the bridge never fetches remote content."""
    if not url.startswith("data:") or ";base64," not in url:
        raise InvalidRequest("Only base64 data: URLs are supported for images.", param)
    header, _, payload = url.partition(";base64,")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest("The image data is not valid base64.", param) from exc
    return ImageInput(header.removeprefix("data:") or "image/png", data)


# -- validation errors in the user's terms --------------------------------------------------

_SCALAR_LABELS = frozenset({"str", "int", "float", "bool", "dict", "list", "none"})


def is_branch_label(part: str) -> bool:
    """pydantic's union-branch labels in an error location (`str`, `list[...]`, a class
    name, `function-after[...]`): schema internals, not fields the user wrote."""
    return (
        part in _SCALAR_LABELS
        or part.startswith(("list[", "dict[", "function-", "literal[", "tagged-union["))
        or part[:1].isupper()
    )


def field_path(loc: Sequence[int | str], prefix: str = "", tags: Set[str] = frozenset()) -> str:
    """`messages[0].content[1].type`: list indexes in brackets, branch labels dropped, and
    a discriminator value pydantic puts after an index (one of *tags*) skipped."""
    out = prefix
    after_index = False
    for raw in loc:
        if isinstance(raw, int):
            out += f"[{raw}]"
            after_index = True
            continue
        part = str(raw)
        if is_branch_label(part) or (after_index and part in tags):
            continue
        out += f".{part}" if out else part
        after_index = False
    return out


def invalid_from(
    exc: ValidationError, prefix: str = "", tags: Set[str] = frozenset()
) -> InvalidRequest:
    """OpenAI's wording: `Invalid value for 'messages[0].content': ...` (see describe_invalid)."""
    param, message = describe_invalid(exc, prefix, tags)
    return InvalidRequest(f"Invalid value for '{param}': {message}", param)


def describe_invalid(
    exc: ValidationError, prefix: str = "", tags: Set[str] = frozenset()
) -> tuple[str, str]:
    """(param, message) for a failed validation, naming the most specific offending field.

    The deepest location wins (a union reports each branch it tried); branches that fail
    at that same field are joined (`a valid string or a valid list`). A wrong or missing
    tag of a tagged union is reported at the tag field itself (`...content[1].type`).
    """
    errors = exc.errors()
    deepest = max(len(e["loc"]) for e in errors)
    best = [e for e in errors if len(e["loc"]) == deepest]
    if len(best) == 1:
        # Same depth as a sibling branch's error once labels are dropped: join them.
        target = field_path(best[0]["loc"], prefix, tags)
        best = [e for e in errors if field_path(e["loc"], prefix, tags) == target] or best
    first = best[0]
    param = field_path(first["loc"], prefix, tags) or "body"
    if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
        tag = str((first.get("ctx") or {}).get("discriminator", "'type'")).strip("'")
        param = f"{param}.{tag}"
    messages = []
    for error in best:
        text = "Field required" if error["type"] == "missing" else error["msg"]
        if text not in messages:
            messages.append(text)
    message = " or ".join(
        [messages[0], *(m.removeprefix("Input should be ") for m in messages[1:])]
    )
    return param, message


def output_format(kind: Any, schema: Any, name: Any, param: str) -> OutputFormat | None:
    """A structured-output request (`text`: none), its schema checked; `param` names the
    format object in the client's terms."""
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return OutputFormat("json_object")
    if kind != "json_schema":
        raise InvalidRequest(f"Unsupported format type {kind!r}.", f"{param}.type")
    if not isinstance(schema, dict):
        raise InvalidRequest("A json_schema format needs a `schema` object.", f"{param}.schema")
    problem = schema_problem(schema)
    if problem is not None:
        raise InvalidRequest(f"Invalid JSON schema: {problem}", f"{param}.schema")
    return OutputFormat("json_schema", schema, name if isinstance(name, str) else "")


def stop_list(stop: Any, param: str = "stop", limit: int = 4) -> tuple[str, ...]:
    """Stop sequences: a string or a list of at most `limit` strings."""
    if stop is None:
        return ()
    items = [stop] if isinstance(stop, str) else stop
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise InvalidRequest("`stop` must be a string or a list of strings.", param)
    if len(items) > limit:
        raise InvalidRequest(f"At most {limit} stop sequences are supported.", param)
    return tuple(s for s in items if s)


M = TypeVar("M", bound=BaseModel)


def validate_model(model: type[M], data: Any, prefix: str, tags: Set[str] = frozenset()) -> M:
    """`model.model_validate(data)`, a failure raised as InvalidRequest naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_from(exc, prefix, tags) from exc
