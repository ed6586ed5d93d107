"""Raw protobuf wire helpers, for the few places where bytes must not be re-encoded.

A checkpoint is echoed byte for byte (re-encoding reorders its fields, current-client.md §8),
and a query kind newer than our schema is found by its field number. Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterator

from .errors import UpstreamProtocolError

WIRE_VARINT, WIRE_I64, WIRE_LEN, WIRE_I32 = 0, 1, 2, 5


def varint(data: bytes, pos: int) -> tuple[int, int]:
    """Decode the varint at *pos*: (value, position after it)."""
    result = shift = 0
    while True:
        if pos >= len(data):
            raise UpstreamProtocolError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise UpstreamProtocolError("varint too long")


def short_varint(data: bytes, pos: int) -> tuple[int, int]:
    """A varint of at most 4 bytes (below 2**28) at *pos*: (value, next pos), or (-1, pos)
    when it is longer, negative or truncated. The per-word decode path (protocol/deltas.py)
    uses it: no exceptions, and anything unusual is left to the full decoder."""
    value = shift = 0
    end = min(len(data), pos + 4)
    while pos < end:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    return -1, pos


_ONE_BYTE = tuple(bytes((n,)) for n in range(128))


def encode_varint(value: int) -> bytes:
    if 0 <= value < 128:  # most tags and lengths: one byte, no loop
        return _ONE_BYTE[value]
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def top_level_fields(payload: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(field number, wire type, raw value) of each top-level field; LEN values unwrapped."""
    pos, end = 0, len(payload)
    while pos < end:
        tag, pos = varint(payload, pos)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == WIRE_VARINT:
            start = pos
            _, pos = varint(payload, pos)
            yield number, wire_type, payload[start:pos]
        elif wire_type == WIRE_I64:
            yield number, wire_type, payload[pos : pos + 8]
            pos += 8
        elif wire_type == WIRE_LEN:
            length, pos = varint(payload, pos)
            if pos + length > end:
                raise UpstreamProtocolError("truncated length-delimited field")
            yield number, wire_type, payload[pos : pos + length]
            pos += length
        elif wire_type == WIRE_I32:
            yield number, wire_type, payload[pos : pos + 4]
            pos += 4
        else:
            raise UpstreamProtocolError(f"unsupported wire type {wire_type}")


def field_bytes(payload: bytes, field_number: int) -> bytes:
    """The raw bytes of the last length-delimited top-level field `field_number` (or b"")."""
    found = b""
    for number, wire_type, value in top_level_fields(payload):
        if number == field_number and wire_type == WIRE_LEN:
            found = value
    return found


def only_field(payload: bytes, tag: int) -> bytes | None:
    """The value of the LEN field with one-byte `tag` when *payload* is that one field and
    nothing else (a checkpoint message, usually), else None (read it with `field_bytes`)."""
    if len(payload) < 2 or payload[0] != tag:
        return None
    length, start = short_varint(payload, 1)
    return payload[start:] if length >= 0 and start + length == len(payload) else None


def len_field(field_number: int, value: bytes) -> bytes:
    """One length-delimited field, encoded."""
    return encode_varint(field_number << 3 | WIRE_LEN) + encode_varint(len(value)) + value
