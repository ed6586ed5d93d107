"""The common non-delta server messages of a Run read straight from their bytes, and the KV
replies written straight to bytes.

Every new conversation brings half a dozen `kv_server_message.set_blob_args` (the backend
stores the turn's blobs and waits for each answer), a `step_started`, a `step_completed`
and a `turn_ended`. Decoding each into protobuf objects, walking them for surprises and
building the reply as objects cost more than the rest of receiving the Run. `read_hot`
recognises the exact wire shape of these messages (each field of our schema at most once,
in field-number order, with its declared wire type, and varints under 2**28) and returns
their values; anything else (another kind, an unknown field, a repeated field, a long
varint) is None and goes to the full decoder. A message this reads holds nothing but
fields of our schema, so the surprise walk (protocol/surprises.py) has nothing to find in
it: skipping the walk for it loses no report. Pure functions over bytes, no I/O.
"""

from __future__ import annotations

from typing import Any

from .framing import encode_envelope
from .wire import encode_varint, len_field, short_varint

# What `read_hot` found: (kind, *values).
KV_SET = 0  # (KV_SET, kv id, blob id, blob data)
KV_GET = 1  # (KV_GET, kv id, blob id)
STEP_STARTED = 2  # (STEP_STARTED, step id)
STEP_COMPLETED = 3  # (STEP_COMPLETED, step id)
TURN_ENDED = 4  # (TURN_ENDED, (input, output, cache read, cache write, reasoning))

Hot = tuple[Any, ...]

# Tags (field number << 3 | wire type), as single bytes or byte pairs (fields 16+).
_KV = 0x22  # AgentServerMessage.kv_server_message (4, LEN)
_UPDATE = 0x0A  # AgentServerMessage.interaction_update (1, LEN)
# The first byte of every payload `read_hot` reads: a caller may skip the call for others.
HOT_FIRST_BYTES = frozenset({_KV, _UPDATE})
_KV_ID = 0x08  # KvServerMessage.id (1, varint uint32)
_GET_ARGS = 0x12  # KvServerMessage.get_blob_args (2, LEN)
_SET_ARGS = 0x1A  # KvServerMessage.set_blob_args (3, LEN)
_BLOB_ID = 0x0A  # SetBlobArgs/GetBlobArgs.blob_id (1, LEN bytes)
_BLOB_DATA = 0x12  # SetBlobArgs.blob_data (2, LEN bytes)
_TURN_ENDED = 0x72  # InteractionUpdate.turn_ended (14, LEN)
_STEP_STARTED = b"\x82\x01"  # InteractionUpdate.step_started (16, LEN)
_STEP_COMPLETED = b"\x8a\x01"  # InteractionUpdate.step_completed (17, LEN)
# Fields of the flat messages read here: all varints, numbered 1..n.
_STEP_STARTED_FIELDS = 1  # step_id (uint64)
_STEP_COMPLETED_FIELDS = 2  # step_id (uint64), step_duration_ms (int64)
_TURN_ENDED_FIELDS = 5  # input, output, cache_read, cache_write, reasoning (uint32 each)

# AgentClientMessage.kv_client_message (3) -> KvClientMessage {id (1), get_blob_result (2) |
# set_blob_result (3)}; GetBlobResult.blob_data (1, optional: written even when empty).
_REPLY_FIELD = 3
_SET_RESULT = b"\x1a\x00"
_GET_RESULT_FIELD = 2
_GET_DATA_FIELD = 1


def read_hot(payload: bytes) -> Hot | None:
    """The values of a set/get blob request, step start/end or turn end, or None."""
    return read_hot_at(payload, 0, len(payload))


def read_hot_at(data: bytes, start: int, end: int) -> Hot | None:
    """`read_hot(data[start:end])`, read where it lies: the RunMachine reads a frame's
    payload inside the received chunk, so a blob is copied once (as its value), not twice.
    Nothing outside `data[start:end]` is read into the result: whatever follows `end` (the
    next frame) only ever makes a varint run past `end`, which is refused as a varint
    truncated at `end` is."""
    if end - start < 3:
        return None
    top = data[start]
    if top != _KV and top != _UPDATE:
        return None
    length = data[start + 1]  # (inlined `_enter`: this runs for every such message)
    if length < 0x80:
        pos = start + 2
    elif data[start + 2] < 0x80:  # two bytes: a blob under 16 KiB
        length = length & 0x7F | data[start + 2] << 7
        pos = start + 3
    else:
        length, pos = short_varint(data, start + 1)
    if length <= 0 or pos + length != end:
        return None
    if top == _KV:
        return _read_kv(data, pos, end)
    tag = data[pos]
    if tag == _TURN_ENDED:
        kind, fields = TURN_ENDED, _TURN_ENDED_FIELDS
        pos += 1
    elif (tag != 0x82 and tag != 0x8A) or end - pos < 2:
        return None
    else:
        pair = data[pos : pos + 2]
        if pair == _STEP_STARTED:
            kind, fields = STEP_STARTED, _STEP_STARTED_FIELDS
        elif pair == _STEP_COMPLETED:
            kind, fields = STEP_COMPLETED, _STEP_COMPLETED_FIELDS
        else:
            return None
        pos += 2
    # (`_enter`, inlined for the one-byte length of these small messages)
    if pos < end and data[pos] < 0x80 and pos + 1 + data[pos] == end:
        pos += 1
    else:
        pos = _enter(data, pos, end)
    values = _flat_varints(data, pos, end, fields) if pos >= 0 else None
    if kind == TURN_ENDED:
        return None if values is None else (TURN_ENDED, values)
    return None if values is None else (kind, values[0])


def set_blob_reply(kv_id: int) -> bytes:
    """The framed answer to a set_blob request (as RunMachine's protobuf path writes it)."""
    if 0 <= kv_id < SET_REPLIES_KEPT:
        return SET_REPLIES[kv_id]
    return _set_blob_reply(kv_id)


def _set_blob_reply(kv_id: int) -> bytes:
    return encode_envelope(len_field(_REPLY_FIELD, _kv_id(kv_id) + _SET_RESULT))


def get_blob_reply(kv_id: int, data: bytes) -> bytes:
    """The framed answer to a get_blob request that found `data`."""
    result = len_field(_GET_RESULT_FIELD, len_field(_GET_DATA_FIELD, data))
    return encode_envelope(len_field(_REPLY_FIELD, _kv_id(kv_id) + result))


def _kv_id(kv_id: int) -> bytes:
    # proto3: a zero id is not written.
    return b"\x08" + encode_varint(kv_id) if kv_id else b""


# A Run's KV ids count up from 1: the answers to the first ones, made once (RunMachine's
# KV-set path indexes them directly: `SET_REPLIES[kv_id]` when `kv_id < SET_REPLIES_KEPT`).
SET_REPLIES_KEPT = 128
SET_REPLIES = tuple(_set_blob_reply(kv_id) for kv_id in range(SET_REPLIES_KEPT))


def _read_kv(payload: bytes, pos: int, end: int) -> Hot | None:
    """A KvServerMessage {id?, get_blob_args | set_blob_args} filling `payload[pos:end]`."""
    kv_id = 0
    if payload[pos] == _KV_ID:
        if pos + 1 == end:
            return None
        kv_id = payload[pos + 1]
        if kv_id < 0x80:
            pos += 2
        else:
            kv_id, pos = short_varint(payload, pos + 1)
            if kv_id < 0:
                return None
        if pos >= end:
            return None
    tag = payload[pos]
    if tag != _SET_ARGS and tag != _GET_ARGS:
        return None
    # (`_enter`, inlined for the one- or two-byte length of the args: once per KV message)
    pos += 1
    length = payload[pos] if pos < end else 0x80
    if length < 0x80:
        pos += 1
    elif pos + 1 < end and payload[pos + 1] < 0x80:
        length = length & 0x7F | payload[pos + 1] << 7
        pos += 2
    else:
        pos = _enter(payload, pos, end)
        if pos < 0:
            return None
        length = end - pos
    if pos + length != end:
        return None
    blob_id = data = b""
    if pos < end and payload[pos] == _BLOB_ID:
        # (`_bytes_field`, inlined for the usual one-byte length of a 32-byte id)
        length = payload[pos + 1] if pos + 1 < end else 0x80
        if length < 0x80:
            start = pos + 2
            pos = start + length
        else:
            start, pos = _bytes_field(payload, pos + 1, end)
        if start < 0 or pos > end:
            return None
        blob_id = payload[start:pos]
    if tag == _GET_ARGS:
        return (KV_GET, kv_id, blob_id) if pos == end else None
    if pos < end and payload[pos] == _BLOB_DATA:
        # (`_bytes_field`, inlined for the one- or two-byte length of a blob under 16 KiB)
        length = payload[pos + 1] if pos + 1 < end else 0x80
        if length < 0x80:
            start = pos + 2
        elif pos + 2 < end and payload[pos + 2] < 0x80:
            length = length & 0x7F | payload[pos + 2] << 7
            start = pos + 3
        else:
            start, stop = _bytes_field(payload, pos + 1, end)
            if start < 0:
                return None
            length = stop - start
        pos = start + length
        data = payload[start:pos]
    return (KV_SET, kv_id, blob_id, data) if pos == end else None


def _enter(payload: bytes, pos: int, end: int) -> int:
    """Where the sub-message whose length is at `pos` starts, if it ends exactly at `end`
    (the readers here accept nothing after the message they enter); else -1."""
    start, stop = _bytes_field(payload, pos, end)
    return start if stop == end else -1


def _bytes_field(payload: bytes, pos: int, end: int) -> tuple[int, int]:
    """(start, stop) of the length-delimited value whose length is at `pos`, or (-1, -1)
    when the length is unreadable or the value runs past `end`."""
    if pos >= end:
        return -1, -1
    length = payload[pos]
    if length < 0x80:
        start = pos + 1
    elif pos + 1 < end and payload[pos + 1] < 0x80:  # two bytes (as `short_varint` reads)
        length = length & 0x7F | payload[pos + 1] << 7
        start = pos + 2
    else:
        length, start = short_varint(payload, pos)
        if length < 0:
            return -1, -1
    stop = start + length
    return (start, stop) if stop <= end else (-1, -1)


def _flat_varints(payload: bytes, pos: int, end: int, fields: int) -> tuple[int, ...] | None:
    """The values of a message made only of varint fields 1..`fields`, each at most once
    and in order (absent ones 0), or None for anything else."""
    values = [0] * fields
    last = 0
    while pos < end:
        tag = payload[pos]
        number = tag >> 3
        if tag & 7 or number <= last or number > fields or pos + 1 >= end:
            return None
        value = payload[pos + 1]
        if value < 0x80:
            pos += 2
        else:
            value, pos = short_varint(payload, pos + 1)
            if value < 0 or pos > end:
                return None
        values[number - 1] = value
        last = number
    return tuple(values)
