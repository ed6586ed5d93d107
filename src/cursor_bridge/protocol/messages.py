"""The generated message classes, re-exported under short names, and Value helpers.

`agent` is Cursor's `agent.v1` package and `aiserver` its `aiserver.v1` package, as declared in
proto/. Tool schemas and MCP arguments travel as serialized `google.protobuf.Value` bytes.
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import json_format, struct_pb2
from google.protobuf.message import DecodeError

from .errors import UpstreamProtocolError
from .gen.agent.v1 import agent_pb2 as agent
from .gen.aiserver.v1 import aiserver_pb2 as aiserver

__all__ = [
    "agent",
    "aiserver",
    "json_text_to_value_bytes",
    "json_to_value_bytes",
    "value_bytes_to_json",
]


def json_to_value_bytes(obj: Any) -> bytes:
    """Serialize a JSON-compatible object as a `google.protobuf.Value`."""
    return json_text_to_value_bytes(json.dumps(obj))


def json_text_to_value_bytes(text: str) -> bytes:
    """Serialize a JSON document (text) as a `google.protobuf.Value`."""
    value = struct_pb2.Value()
    json_format.Parse(text, value)
    return value.SerializeToString()


def value_bytes_to_json(data: bytes) -> Any:
    """Decode serialized `google.protobuf.Value` bytes back into a JSON-compatible object.

    Raises UpstreamProtocolError when *data* is not a Value (the backend sent garbage).
    """
    value = struct_pb2.Value()
    try:
        value.ParseFromString(data)
    except DecodeError as exc:
        raise UpstreamProtocolError(f"an argument is not a google.protobuf.Value: {exc}") from None
    return json_format.MessageToDict(value)
