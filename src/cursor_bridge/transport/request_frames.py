"""The request side of a stream, written without h2's frame objects: header pairs, the
HEADERS frame that opens a stream and the empty DATA frame that ends our side.

Every Run opens a stream with the same ~18 headers and later ends it. h2's `send_headers`
re-encodes every name and value, builds and validates frame objects and serialises them
(~0.1 ms per stream); its `end_stream` builds a frame object for nine bytes. In the common
case (an open connection, a new client stream, no priority, no padding) both do nothing
more than advance the state machines and emit the bytes RFC 9113 §6.2 / §6.1 define, so
`open_stream` and `end_stream` do exactly that and hand anything else to h2. The header
block is the same encoder's output in both paths, so the bytes on the wire are the same
(tests/transport/test_request_frames.py compares them with h2's).

`open_request` goes one step further for the headers as the caller gives them (str pairs):
once the encoder's table holds them, each header's representation is looked up by that
pair (`RepeatEncoder.known`) instead of being normalised and encoded again; only the
never-indexed values (a request id, a token) are written out per stream.
"""

from __future__ import annotations

import functools

from h2.connection import AllowedStreamIDs, ConnectionInputs, ConnectionState, H2Connection
from h2.exceptions import TooManyStreamsError
from h2.stream import H2Stream, StreamClosedBy, StreamInputs, StreamState
from hpack.struct import HeaderTuple, NeverIndexedHeaderTuple

from .h2_settings import initial_window, stream_limit
from .header_encoder import LastRequest, RepeatEncoder

__all__ = ["end_stream", "header_pair", "open_request", "open_stream", "request_headers"]

# Header values kept out of every HPACK table: credentials, and per-request ids, which
# would only push the repeated headers out of the table.
_NEVER_INDEXED = frozenset({"authorization", "proxy-authorization", "x-request-id"})
# Frame types and flags (RFC 9113 §6).
_DATA, _HEADERS, _CONTINUATION = 0x0, 0x1, 0x9
_END_STREAM, _END_HEADERS = 0x1, 0x4
# An empty DATA frame with END_STREAM, up to its stream id (RFC 9113 §4.1).
_EMPTY_END_STREAM = bytes((0, 0, 0, _DATA, _END_STREAM))

Header = tuple[bytes, bytes] | HeaderTuple


@functools.lru_cache(maxsize=1024)
def header_pair(name: str, value: str) -> Header:
    """One request header as h2 sends it: name lower-cased, value trimmed (what h2's
    outbound normalisation would do; our connections turn it off), bytes; a credential or
    request id as never-indexed. Cached: the same pairs open every stream."""
    name = name.lower()
    pair = (name.encode(), value.strip(" \t").encode())
    return NeverIndexedHeaderTuple(*pair) if name in _NEVER_INDEXED else pair


def request_headers(
    pseudo: list[tuple[bytes, bytes]], headers: list[tuple[str, str]]
) -> list[Header]:
    """A request's header list as h2 sends it: *pseudo* (`:method`, ...; bytes) first, then
    *headers* as `header_pair` makes them (unique per-request values are not cached)."""
    out: list[Header] = list(pseudo)
    for name, value in headers:
        if name in _NEVER_INDEXED:
            out.append(NeverIndexedHeaderTuple(name.encode(), value.strip(" \t").encode()))
        else:
            out.append(header_pair(name, value))
    return out


def _frame_header(length: int, kind: int, flags: int, stream_id: int) -> bytes:
    return length.to_bytes(3, "big") + bytes((kind, flags)) + stream_id.to_bytes(4, "big")


def open_stream(h2: H2Connection, stream_id: int, headers: list[Header]) -> None:
    """`h2.send_headers(stream_id, headers)` for a new request stream whose body follows.

    *headers* are bytes pairs as `request_headers` makes them. Raises what h2 raises
    (TooManyStreamsError when the server's stream limit is reached)."""
    if not _opens_directly(h2, stream_id):
        h2.send_headers(stream_id, headers)
        return
    _begin(h2, stream_id, headers)
    _write_headers(h2, stream_id, h2.encoder.encode(headers))


def open_request(
    h2: H2Connection,
    stream_id: int,
    pseudo: list[tuple[bytes, bytes]],
    headers: list[tuple[str, str]],
) -> None:
    """`open_stream(h2, stream_id, request_headers(pseudo, headers))`, with the header
    block put together from the encoder's remembered representations when it can (the
    bytes are the same: tests/transport/test_request_frames.py)."""
    encoder = h2.encoder
    if not _opens_directly(h2, stream_id) or type(encoder) is not RepeatEncoder:
        open_stream(h2, stream_id, request_headers(pseudo, headers))
        return
    _begin(h2, stream_id, pseudo)
    _write_headers(h2, stream_id, _block(encoder, pseudo, headers))


def _block(
    encoder: RepeatEncoder, pseudo: list[tuple[bytes, bytes]], headers: list[tuple[str, str]]
) -> bytes:
    """`encoder.encode(request_headers(pseudo, headers))`."""
    known = encoder.known()
    if known is not None:
        repeat = _repeat(encoder, known, pseudo, headers)
        if repeat is not None:
            return repeat
        parts: list[bytes] = []
        for pair in pseudo:
            part = known.get(pair)
            if part is None:
                break
            parts.append(part)
        else:
            varying: list[int] = []
            for header in headers:
                part = known.get(header)
                if part is None:
                    name, value = header
                    if name not in _NEVER_INDEXED:
                        break
                    varying.append(len(parts) - len(pseudo))
                    part = encoder.never_indexed(name.encode(), value.strip(" \t").encode())
                parts.append(part)
            else:
                encoder.last_request = LastRequest(known, [*pseudo], [*headers], parts, varying)
                return b"".join(parts)
    return encoder.encode_remembering(request_headers(pseudo, headers), [*pseudo, *headers])


def _repeat(
    encoder: RepeatEncoder,
    known: dict[object, bytes],
    pseudo: list[tuple[bytes, bytes]],
    headers: list[tuple[str, str]],
) -> bytes | None:
    """The block of the request before (`encoder.last_request`) when *headers* are its
    headers again but for never-indexed values (a fresh request id): its remembered parts
    with those values written out anew; None when that does not hold. The parts stay right
    while the encoder's table is unchanged, which `known` being the same dict says
    (`RepeatEncoder.known` starts a new one on any change). Every header but the
    never-indexed ones is compared (C-level list comparisons), so a changed header can
    never reuse a part."""
    last = encoder.last_request
    if last is None or last.known is not known or last.pseudo != pseudo:
        return None
    before = last.headers
    if len(before) != len(headers):
        return None
    parts = last.parts.copy()
    start = 0
    for at in last.varying:
        if headers[start:at] != before[start:at]:
            return None
        name, value = headers[at]
        old_name, old_value = before[at]
        if name != old_name:
            return None
        if value != old_value:
            parts[len(pseudo) + at] = encoder.never_indexed(
                name.encode(), value.strip(" \t").encode()
            )
        start = at + 1
    if headers[start:] != before[start:]:
        return None
    return b"".join(parts)


def _opens_directly(h2: H2Connection, stream_id: int) -> bool:
    """Whether the common case holds: an open connection, a new stream, no header
    normalisation or validation asked for."""
    config = h2.config
    return not (
        h2.state_machine.state is not ConnectionState.CLIENT_OPEN
        or stream_id in h2.streams
        or config.normalize_outbound_headers
        or config.validate_outbound_headers
    )


def _begin(h2: H2Connection, stream_id: int, headers: list[Header]) -> None:
    """Open the stream in h2's state machines, as `send_headers` does before encoding
    (so a refused stream leaves the encoder's table untouched).

    On the open connection `_opens_directly` checked, h2's transitions for this are fixed:
    the connection stays CLIENT_OPEN, and a new client stream is created with the windows
    and frame size of the current settings and moves from IDLE to OPEN as a client stream
    whose headers are sent (`H2StreamStateMachine.request_sent`; its event is dropped, as
    `send_headers` drops it). That is done here without h2's per-stream dispatch (enum
    hashing, a debug log call per step); a stream id h2 would refuse goes through h2."""
    limit = stream_limit(h2.remote_settings)
    open_now = h2.open_outbound_streams
    if open_now + 1 > limit:
        raise TooManyStreamsError(f"Max outbound streams is {limit}, {open_now} open")
    if stream_id <= h2.highest_outbound_stream_id or not stream_id % 2 or not h2.config.client_side:
        h2.state_machine.process_input(ConnectionInputs.SEND_HEADERS)
        stream = h2._begin_new_stream(stream_id, AllowedStreamIDs.ODD)  # raises
        stream.state_machine.process_input(StreamInputs.SEND_HEADERS)
    else:
        stream = H2Stream(
            stream_id,
            config=h2.config,
            inbound_window_size=initial_window(h2.local_settings),
            outbound_window_size=initial_window(h2.remote_settings),
        )
        stream.max_outbound_frame_size = h2.max_outbound_frame_size
        h2.streams[stream_id] = stream
        h2.highest_outbound_stream_id = stream_id
        machine = stream.state_machine
        machine.state = StreamState.OPEN
        machine.client = True
        machine.headers_sent = True
    # What h2's stream keeps of its request headers (for the response it reads).
    for name, value in headers:
        if name == b":authority":
            stream._authority = value
        elif name == b":method":
            stream.request_method = value
        elif not name.startswith(b":"):
            break  # pseudo-headers come first


def _write_headers(h2: H2Connection, stream_id: int, block: bytes) -> None:
    """The HEADERS frame of *block* (and CONTINUATION frames beyond the frame size)."""
    size = h2.max_outbound_frame_size
    if len(block) <= size:
        h2._data_to_send += _frame_header(len(block), _HEADERS, _END_HEADERS, stream_id) + block
        return
    pieces = [block[at : at + size] for at in range(0, len(block), size)]
    for index, piece in enumerate(pieces):
        kind = _HEADERS if index == 0 else _CONTINUATION
        flags = _END_HEADERS if index == len(pieces) - 1 else 0
        h2._data_to_send += _frame_header(len(piece), kind, flags, stream_id) + piece


def end_stream(h2: H2Connection, stream_id: int) -> None:
    """`h2.end_stream(stream_id)`: an empty DATA frame with END_STREAM (h2's own for
    anything but an open stream on an open connection)."""
    stream = h2.streams.get(stream_id)
    state = stream.state_machine.state if stream is not None else None
    if (
        stream is None
        or h2.state_machine.state is not ConnectionState.CLIENT_OPEN
        or (state is not StreamState.OPEN and state is not StreamState.HALF_CLOSED_REMOTE)
    ):
        h2.end_stream(stream_id)
        return
    # h2's transitions here, without its dispatch (enum hashing): the connection stays
    # CLIENT_OPEN; an OPEN stream becomes HALF_CLOSED_LOCAL, a HALF_CLOSED_REMOTE one CLOSED,
    # closed by us (`H2StreamStateMachine.send_end_stream`).
    machine = stream.state_machine
    if state is StreamState.OPEN:
        machine.state = StreamState.HALF_CLOSED_LOCAL
    else:
        machine.state = StreamState.CLOSED
        machine.stream_closed_by = StreamClosedBy.SEND_END_STREAM
    h2._data_to_send += _EMPTY_END_STREAM + stream_id.to_bytes(4, "big")
