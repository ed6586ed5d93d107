"""Connect envelope framing: `[flags:1][length:4 big-endian][payload]`, both directions.

Pure functions and an incremental decoder: feed it any byte chunks, get whole envelopes back.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import math
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from google.protobuf import duration_pb2
from google.protobuf.message import DecodeError

from .errors import CONNECT_CODES, ConnectError, UpstreamProtocolError

FLAG_COMPRESSED = 0x01
FLAG_END_STREAM = 0x02
HEADER_SIZE = 5
DEFAULT_MAX_FRAME_SIZE = 32 * 1024 * 1024
_KNOWN_FLAGS = FLAG_COMPRESSED | FLAG_END_STREAM

SKIM_MAX_PAYLOAD = 127
"""The largest payload a skimmer (see `EnvelopeDecoder.frames`) may consume."""

Skimmer = Callable[[bytes, int, int], int]
"""`skim(data, pos, end)`: consumes the whole, plain frames it recognises from `data[pos:end]`
(flags 0, payload at most SKIM_MAX_PAYLOAD bytes) and returns the position after them."""


class Envelope(NamedTuple):
    """One decoded frame; `payload` is already decompressed. (A tuple: one is made per
    received message, so it must be cheap to build.)"""

    flags: int
    payload: bytes

    @property
    def end_stream(self) -> bool:
        return bool(self.flags & FLAG_END_STREAM)


@dataclass(frozen=True, slots=True)
class EndStream:
    """The parsed end-of-stream JSON: `error` is None for a clean end."""

    error: ConnectError | None
    metadata: dict[str, list[str]]


def encode_envelope(payload: bytes, *, end_stream: bool = False, compress: bool = False) -> bytes:
    """Frame *payload*; `compress` gzips it and sets the compressed flag."""
    flags = FLAG_END_STREAM if end_stream else 0
    if compress:
        payload = gzip.compress(payload, mtime=0)
        flags |= FLAG_COMPRESSED
    return bytes((flags,)) + len(payload).to_bytes(4, "big") + payload


def encode_end_stream(error: ConnectError | None = None) -> bytes:
    """Frame an end-of-stream JSON object (what a Connect server sends last)."""
    body: dict[str, Any] = {}
    if error is not None:
        err: dict[str, Any] = {"code": error.code, "message": error.message}
        if error.retry_after is not None:
            err["details"] = [retry_info_detail(error.retry_after)]
        body["error"] = err
    return encode_envelope(json.dumps(body, separators=(",", ":")).encode(), end_stream=True)


def retry_info_detail(seconds: float) -> dict[str, Any]:
    """A Connect error detail holding `google.rpc.RetryInfo{retry_delay = seconds}`."""
    delay = duration_pb2.Duration(seconds=int(seconds), nanos=round((seconds % 1) * 1e9))
    inner = delay.SerializeToString()
    value = base64.b64encode(bytes((0x0A, len(inner))) + inner).decode().rstrip("=")
    return {"type": "google.rpc.RetryInfo", "value": value, "debug": {"retryDelay": f"{seconds}s"}}


class EnvelopeDecoder:
    """Incremental decoder over arbitrary chunks.

    `feed()` returns every envelope completed by the new bytes. It raises
    UpstreamProtocolError for unknown flags, a frame over `max_frame_size`, a payload that
    will not decompress, or data after the end-stream frame. After an error the decoder is
    poisoned: every later `feed()` raises again.
    """

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        self.max_frame_size = max_frame_size
        self._buffer = bytearray()
        self._ended = False
        self._error: UpstreamProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a whole frame."""
        return len(self._buffer)

    @property
    def ended(self) -> bool:
        return self._ended

    def feed(self, data: bytes) -> list[Envelope]:
        return list(self.frames(data))

    def skim_whole(self, data: bytes, skim: Skimmer) -> int:
        """How much of *data* `skim` consumed, offered all of it as `frames` would offer it
        (0 when `frames` would not: part of a frame is buffered, the stream ended or
        failed, or frames may not be as large as a skimmer takes). Feed the rest to
        `frames`; a chunk of nothing but skimmed frames then costs no generator."""
        if self._buffer or self._ended or self._error is not None:
            return 0
        if self.max_frame_size < SKIM_MAX_PAYLOAD:
            return 0
        return skim(data, 0, len(data))

    def frames(self, data: bytes, skim: Skimmer | None = None) -> Iterator[Envelope]:
        """The envelopes completed by *data*, lazily. `skim`, if given, is offered every
        frame boundary first and may consume small plain frames itself (the per-word
        messages, without an Envelope or a payload copy each); since this is lazy, what it
        consumed before an envelope is exactly what preceded that envelope on the wire.
        Stopping early drops the rest of *data* (the caller is failing the stream)."""
        if self._error is not None:
            raise self._error
        if data and self._ended:
            self._fail("data after the end-stream frame")
        buffer = self._buffer
        if buffer:
            # Part of a frame is waiting: complete it in the buffer first, so a large frame
            # arriving in many chunks is copied once, not once per chunk.
            buffer += data
            if len(buffer) < HEADER_SIZE:
                return
            if len(buffer) < HEADER_SIZE + self._check_header(buffer[0], buffer[1:5]):
                return
            data = bytes(buffer)
            buffer.clear()
        if skim is not None and self.max_frame_size < SKIM_MAX_PAYLOAD:
            skim = None
        pos, size = 0, len(data)
        while True:
            if skim is not None:
                pos = skim(data, pos, size)
            if size - pos < HEADER_SIZE:
                break
            flags = data[pos]
            length = self._check_header(flags, data[pos + 1 : pos + HEADER_SIZE])
            end = pos + HEADER_SIZE + length
            if end > size:
                break
            payload = data[pos + HEADER_SIZE : end]
            pos = end
            if flags & FLAG_COMPRESSED:
                payload = self._decompress(payload)
            if flags & FLAG_END_STREAM:
                self._ended = True
                if pos < size:
                    self._fail("data after the end-stream frame")
                yield Envelope(flags, payload)
                return
            yield Envelope(flags, payload)
        if pos < size:
            buffer += memoryview(data)[pos:]

    def _check_header(self, flags: int, length_bytes: bytes | bytearray) -> int:
        """The payload length, once flags and length are known to be acceptable."""
        length = int.from_bytes(length_bytes, "big")
        if flags & ~_KNOWN_FLAGS:
            self._fail(f"unknown envelope flags 0x{flags:02x}")
        if length > self.max_frame_size:
            self._fail(f"frame of {length} bytes exceeds the {self.max_frame_size}-byte limit")
        return length

    def _decompress(self, payload: bytes) -> bytes:
        # The decompressed size is bounded by the frame limit as well. A gzip stream may hold
        # several members (as gzip.decompress accepts); each must be complete.
        out = bytearray()
        rest = payload
        while rest:
            try:
                inflater = zlib.decompressobj(wbits=31)
                out += inflater.decompress(rest, self.max_frame_size + 1 - len(out))
            except zlib.error as exc:
                self._fail(f"compressed frame does not inflate: {exc}")
            if len(out) > self.max_frame_size or inflater.unconsumed_tail:
                self._fail("compressed frame inflates past the frame size limit")
            if not inflater.eof:
                self._fail("compressed frame is truncated")
            rest = inflater.unused_data
        return bytes(out)

    def _fail(self, reason: str) -> None:
        self._error = UpstreamProtocolError(reason)
        raise self._error


def parse_end_stream(payload: bytes) -> EndStream:
    """Parse the JSON of an end-stream frame into a typed result.

    An empty payload or `{}` is a clean end. Malformed JSON is itself an upstream protocol
    error, reported as a ConnectError with code `internal` so callers handle one type.
    """
    if payload == b"{}" or not payload.strip():  # the usual clean end
        return EndStream(None, {})
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return EndStream(ConnectError("internal", "malformed end-stream frame"), {})
    if not isinstance(body, dict):
        return EndStream(ConnectError("internal", "malformed end-stream frame"), {})
    metadata = _parse_metadata(body.get("metadata"))
    raw_error = body.get("error")
    if raw_error is None:
        return EndStream(None, metadata)
    if not isinstance(raw_error, dict):
        return EndStream(ConnectError("unknown", str(raw_error)), metadata)
    code = raw_error.get("code")
    if not isinstance(code, str) or code not in CONNECT_CODES:
        code = "unknown"
    message = raw_error.get("message")
    details = raw_error.get("details")
    detail_types = (
        tuple(str(d.get("type", "")) for d in details if isinstance(d, dict))
        if isinstance(details, list)
        else ()
    )
    retry_after = _retry_after(raw_error, details)
    return EndStream(
        ConnectError(
            code,
            message if isinstance(message, str) else "",
            retry_after=retry_after,
            details=detail_types,
        ),
        metadata,
    )


def _parse_metadata(raw: object) -> dict[str, list[str]]:
    if not isinstance(raw, dict):
        return {}
    out: dict[str, list[str]] = {}
    for key, value in raw.items():
        if isinstance(value, list):
            out[str(key)] = [str(v) for v in value]
        else:
            out[str(key)] = [str(value)]
    return out


def _retry_after(raw_error: dict[str, Any], details: object) -> float | None:
    for key in ("retryAfter", "retry_after"):
        value = raw_error.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _seconds(float(value))
    if isinstance(details, list):
        for detail in details:
            if not isinstance(detail, dict) or "RetryInfo" not in str(detail.get("type", "")):
                continue
            debug = detail.get("debug")
            delay = debug.get("retryDelay") if isinstance(debug, dict) else None
            if isinstance(delay, str) and delay.endswith("s"):
                try:
                    return _seconds(float(delay[:-1]))
                except ValueError:
                    return None
            # `debug` is optional in Connect; `value` is the (unpadded) base64 of the message.
            return _retry_info_seconds(detail.get("value"))
    return None


def _seconds(value: float) -> float | None:
    """A usable back-off only: finite and not negative."""
    return value if math.isfinite(value) and value >= 0 else None


def _retry_info_seconds(value: object) -> float | None:
    """Decode a serialized `google.rpc.RetryInfo {Duration retry_delay = 1}`."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4))
        # A Duration is at most 22 bytes, so the length prefix is a single byte.
        if len(raw) < 2 or raw[0] != 0x0A or raw[1] != len(raw) - 2:
            return None
        delay = duration_pb2.Duration.FromString(raw[2:])
    except (binascii.Error, ValueError, DecodeError):
        return None
    return _seconds(delay.seconds + delay.nanos / 1e9)
