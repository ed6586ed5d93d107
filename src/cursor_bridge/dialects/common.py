"""What every dialect's request parsing shares: its 400 error, a lenient schema base and
inline image decoding. Dialects import this, never each other."""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ..engine.request import ImageInput, OutputFormat
from ..engine.structured import schema_problem


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


def validate_model(model: type[M], data: Any, prefix: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # The deepest error names the offending field best (unions report every branch).
        error = max(exc.errors(), key=lambda e: len(e["loc"]))
        # Drop pydantic's union-branch labels (`str`, `list[...]`, class names) and the
        # discriminator tag it puts after a list index (`content.0.input_text.text`).
        parts: list[str] = []
        for raw in error["loc"]:
            part = str(raw)
            if _is_branch_label(part) or (parts and parts[-1].isdigit() and part in _PART_TAGS):
                continue
            parts.append(part)
        param = ".".join(filter(None, [prefix, *parts]))
        raise InvalidRequest(f"Invalid value for '{param}': {error['msg']}", param) from exc


_PART_TAGS = frozenset({"input_text", "output_text", "refusal", "input_image", "input_file"})


def _is_branch_label(part: str) -> bool:
    return (
        part in ("str", "int", "float", "bool")
        or part.startswith(("list[", "function-", "literal["))
        or part[:1].isupper()
    )
