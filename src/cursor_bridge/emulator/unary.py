"""Connect unary calls of the emulator: collecting a body, decoding it by content-type,
answering with a status and body, and the Connect error forms (unary JSON and end-stream)."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from ..protocol.errors import ConnectError
from ..protocol.framing import encode_envelope
from .connection import ServerStream
from .http1 import PlainRequest, PlainResponse, split_target

MAX_UNARY_BODY = 4 * 1024 * 1024
# Connect's HTTP status for each error code (unary calls).
_HTTP_STATUS = {
    "canceled": 499,
    "unknown": 500,
    "invalid_argument": 400,
    "deadline_exceeded": 504,
    "not_found": 404,
    "already_exists": 409,
    "permission_denied": 403,
    "resource_exhausted": 429,
    "failed_precondition": 400,
    "aborted": 409,
    "out_of_range": 400,
    "unimplemented": 404,
    "internal": 500,
    "unavailable": 503,
    "data_loss": 500,
    "unauthenticated": 401,
}


class Discard:
    """Handler of a stream already answered: request bytes are dropped."""

    def data_received(self, data: bytes) -> None:
        pass

    def end_received(self) -> None:
        pass

    def stream_lost(self) -> None:
        pass


UnaryResult = PlainResponse
UnaryFn = Callable[[PlainRequest], UnaryResult]


class UnaryCall:
    """Collects an HTTP/2 request body, then answers it in one go."""

    def __init__(self, stream: ServerStream, handle: UnaryFn) -> None:
        self._stream = stream
        self._handle = handle
        self._body = bytearray()
        self._done = False

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        self._body += data
        if len(self._body) > MAX_UNARY_BODY:
            self._done = True
            respond(
                self._stream, *unary_error(ConnectError("resource_exhausted", "body too large"))
            )

    def end_received(self) -> None:
        if self._done:
            return
        self._done = True
        body = bytes(self._body)
        if self._stream.headers.get("content-encoding", "identity") == "gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error):
                respond(
                    self._stream, *unary_error(ConnectError("invalid_argument", "bad gzip body"))
                )
                return
        path, query = split_target(self._stream.path)
        request = PlainRequest(
            method=self._stream.method,
            path=path,
            query=query,
            headers=self._stream.headers,
            body=body,
            authority=self._stream.authority,
            tls=self._stream.conn.tls,
        )
        respond(self._stream, *self._handle(request))

    def stream_lost(self) -> None:
        self._done = True


def respond(stream: ServerStream, status: int, content_type: str, body: bytes) -> None:
    if stream.closed:
        return
    headers = [("content-type", content_type), ("content-length", str(len(body)))]
    if not body:
        stream.respond(status, headers, end_stream=True)
        return
    stream.respond(status, headers)
    stream.write_nowait(body)
    stream.finish()


def unary_error(error: ConnectError, details: tuple[dict[str, Any], ...] = ()) -> UnaryResult:
    """A Connect unary error: HTTP status by code, JSON `{code, message, details?}`."""
    payload: dict[str, Any] = {"code": error.code, "message": error.message}
    if details:
        payload["details"] = list(details)
    return _HTTP_STATUS.get(error.code, 500), "application/json", json.dumps(payload).encode()


def end_stream_frame(error: ConnectError, details: tuple[dict[str, Any], ...] = ()) -> bytes:
    """A Connect end-stream frame carrying *error* (and its details)."""
    payload: dict[str, Any] = {"code": error.code, "message": error.message}
    if details:
        payload["details"] = list(details)
    body = json.dumps({"error": payload}, separators=(",", ":")).encode()
    return encode_envelope(body, end_stream=True)


def parse_unary(message: Message, content_type: str, body: bytes) -> UnaryResult | None:
    """Decode a unary request with the codec its content-type names (None on success)."""
    try:
        if content_type == "application/proto":
            message.ParseFromString(body)
        elif content_type == "application/json":
            json_format.Parse(body or b"{}", message, ignore_unknown_fields=True)
        else:
            return 415, "application/json", b""
    except (DecodeError, json_format.ParseError) as exc:
        return unary_error(ConnectError("invalid_argument", f"cannot decode request: {exc}"))
    return None


def encode_unary(message: Message, content_type: str) -> UnaryResult:
    if content_type == "application/proto":
        return 200, "application/proto", message.SerializeToString()
    return 200, "application/json", json_format.MessageToJson(message, indent=None).encode()
