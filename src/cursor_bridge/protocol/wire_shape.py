"""The shape of a protobuf payload without its content, and a payload rebuilt from a shape.

A wire trace must be safe to attach to a bug report and still let the emulator replay what
the backend sent. So a payload is recorded as its wire structure: for every field, its number
and wire type; numbers (varints and fixed-width values: ids, counts, enums, flags) as they
are; sub-messages (known from the schema) as nested shapes; strings and bytes as a length.
Kept verbatim as well, because they are identifiers rather than content: string fields named
`id`, `*_id` (model ids too), `tool_name`, `provider_identifier`, the `name` of MCP tool
messages (not of files), the argument names of a tool call, and 32-byte `bytes` values
(SHA-256 blob ids) of fields whose name does not say data. Tool-call arguments and tool
schemas (`google.protobuf.Value` bytes) are described as Values, so their numbers survive
and their strings are redacted like any other. With `content=True` everything is kept (text
as text, bytes as base64).

`rebuild()` turns a shape back into bytes: same field numbers, wire types, numbers and
lengths; redacted strings become `x` repeated to the recorded length. Pure, no I/O.
"""

from __future__ import annotations

import base64
from typing import Any

from google.protobuf import struct_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor, OneofDescriptor

from .errors import UpstreamProtocolError
from .wire import encode_varint, varint

Shape = list[dict[str, Any]]

_KEPT_NAMES = frozenset({"id", "tool_name", "provider_identifier"})
# Argument names of a tool call: they come from the client's tool schema, not from a prompt.
_KEPT_FULL_NAMES = frozenset({"agent.v1.McpArgs.ArgsEntry.key"})
_DATA_WORDS = ("data", "bytes", "content", "text", "json_value")
_ID_SIZE = 32
# `bytes` fields that carry a serialized message: described (and rebuilt) as that message.
_EMBEDDED: dict[str, Any] = {
    "agent.v1.McpArgs.ArgsEntry.value": struct_pb2.Value.DESCRIPTOR,
    "agent.v1.McpToolDefinition.input_schema": struct_pb2.Value.DESCRIPTOR,
}
_MESSAGE = FieldDescriptor.TYPE_MESSAGE
_STRING = FieldDescriptor.TYPE_STRING
_BYTES = FieldDescriptor.TYPE_BYTES


class ShapeError(ValueError):
    """The payload is not a well-formed protobuf message."""


def describe(payload: bytes, descriptor: Descriptor | None, *, content: bool = False) -> Shape:
    """The shape of *payload* read as *descriptor* (None: every field is unknown).

    Raises ShapeError when *payload* is not a protobuf message."""
    try:
        return _describe(payload, descriptor, content)
    except UpstreamProtocolError as exc:
        raise ShapeError(str(exc)) from None


def is_real_oneof(oneof: OneofDescriptor | Any) -> bool:
    """A declared oneof, not the synthetic one proto3 makes for an `optional` field."""
    if oneof is None:
        return False
    fields = oneof.fields
    return not (len(fields) == 1 and oneof.name == "_" + fields[0].name)


def message_path(shape: Shape, descriptor: Descriptor) -> str:
    """The chain of set oneof members from the top: `interaction_update.text_delta`."""
    names: list[str] = []
    current: Descriptor | None = descriptor
    fields = shape
    while current is not None and any(is_real_oneof(o) for o in current.oneofs):
        member = None
        for item in fields:
            field = current.fields_by_number.get(item["n"])
            if field is not None and is_real_oneof(field.containing_oneof):
                member = (field, item)
                break
        if member is None:
            unknown = next((item["n"] for item in fields if "u" in item), None)
            if unknown is not None:
                names.append(f"#{unknown}")
            break
        field, item = member
        names.append(field.name)
        if field.type != _MESSAGE or "m" not in item:
            break
        current, fields = field.message_type, item["m"]
    return ".".join(names)


def rebuild(shape: Shape) -> bytes:
    """Bytes with the recorded structure; redacted strings and bytes are filled with `x`."""
    out = bytearray()
    for item in shape:
        number, wire = item["n"], item["w"]
        out += encode_varint(number << 3 | wire)
        if wire == 0:
            out += encode_varint(item["v"])
        elif wire == 1:
            out += int(item["v"]).to_bytes(8, "little")
        elif wire == 5:
            out += int(item["v"]).to_bytes(4, "little")
        elif wire == 2:
            value = _rebuild_value(item)
            out += encode_varint(len(value)) + value
        else:
            raise ShapeError(f"wire type {wire} cannot be rebuilt")
    return bytes(out)


def _rebuild_value(item: dict[str, Any]) -> bytes:
    if "m" in item:
        return rebuild(item["m"])
    if "text" in item:
        return str(item["text"]).encode()
    if "hex" in item:
        return bytes.fromhex(item["hex"])
    if "b64" in item:
        return base64.b64decode(item["b64"])
    return b"x" * int(item["len"])


def _describe(data: bytes, descriptor: Descriptor | None, content: bool) -> Shape:
    out: Shape = []
    pos, end = 0, len(data)
    while pos < end:
        tag, pos = varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise ShapeError("field number 0")
        field = descriptor.fields_by_number.get(number) if descriptor is not None else None
        item: dict[str, Any] = {"n": number, "w": wire}
        if field is None:
            item["u"] = 1  # not in our schema
        if wire == 0:
            item["v"], pos = varint(data, pos)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if pos + size > end:
                raise ShapeError("truncated fixed-width field")
            item["v"] = int.from_bytes(data[pos : pos + size], "little")
            pos += size
        elif wire == 2:
            length, pos = varint(data, pos)
            if pos + length > end:
                raise ShapeError("truncated length-delimited field")
            _describe_value(item, data[pos : pos + length], field, content)
            pos += length
        else:
            raise ShapeError(f"unsupported wire type {wire}")
        out.append(item)
    return out


def _describe_value(
    item: dict[str, Any], value: bytes, field: FieldDescriptor | None, content: bool
) -> None:
    if field is not None and (field.type == _MESSAGE or field.full_name in _EMBEDDED):
        inner = field.message_type if field.type == _MESSAGE else _EMBEDDED[field.full_name]
        try:
            item["m"] = _describe(value, inner, content)
            return
        except (ShapeError, UpstreamProtocolError):
            pass  # not the message the schema says: keep its size only
    if field is not None and field.type not in (_STRING, _BYTES, _MESSAGE):
        item["hex"] = value.hex()  # packed numbers: not content
    elif content:
        raw = bytes(value)
        if field is not None and field.type == _STRING:
            item["text"] = raw.decode("utf-8", "replace")
        else:
            item["b64"] = base64.b64encode(raw).decode()
    elif field is not None and _is_identifier(field, len(value)):
        raw = bytes(value)
        if field.type == _STRING:
            item["text"] = raw.decode("utf-8", "replace")
        else:
            item["hex"] = raw.hex()
    else:
        item["len"] = len(value)


def _is_identifier(field: FieldDescriptor, size: int) -> bool:
    name = field.name
    if field.type == _STRING:
        if name == "name":  # a tool's name (Mcp* messages), not a file's (ls results)
            owner = field.containing_type
            return owner is not None and owner.name.startswith("Mcp")
        return name in _KEPT_NAMES or name.endswith("_id") or field.full_name in _KEPT_FULL_NAMES
    if field.type == _BYTES and size == _ID_SIZE:
        return name != "blob" and not any(word in name for word in _DATA_WORDS)
    return False
