"""The `h2` state machine as our client configures it: settings, windows, and two fixes.

Everything `Connection` needs from h2 that is policy rather than plumbing lives here.
"""

from __future__ import annotations

from typing import Any

from h2.config import H2Configuration
from h2.connection import ConnectionState, H2Connection
from h2.errors import ErrorCodes
from h2.events import ConnectionTerminated, DataReceived, Event, ResponseReceived, StreamEnded
from h2.exceptions import ProtocolError
from h2.frame_buffer import FrameBuffer
from h2.settings import SettingCodes, Settings
from h2.stream import STREAM_OPEN, H2StreamStateMachine, StreamClosedBy, StreamState
from h2.utilities import HeaderValidationFlags, is_informational_response
from hpack.struct import Header, HeaderTuple
from hyperframe.frame import DataFrame, Frame, GoAwayFrame

from .h2_settings import stream_limit
from .header_encoder import RepeatEncoder

__all__ = [
    "CONNECTION_WINDOW",
    "STREAM_WINDOW",
    "ClientH2Connection",
    "DataChunk",
    "new_client_h2",
]

STREAM_WINDOW = 1 << 20
"""Per-stream receive window we advertise: how far a server may run ahead of a reader."""

CONNECTION_WINDOW = 1 << 30
"""Connection receive window. Large on purpose: per-stream windows do the backpressure,
so one stalled reader must not block its neighbours through the shared window."""

MAX_INBOUND_FRAME = 1 << 16
"""Bigger DATA frames than the 16 KiB default: fewer h2 events per megabyte."""

_PRUNE_MIN = 64
# Stream states where sending DATA (OPEN, HALF_CLOSED_REMOTE) or receiving it (OPEN,
# HALF_CLOSED_LOCAL) is allowed and, without END_STREAM, changes nothing; compared by
# identity (hashing an Enum member runs Python code).
_OPEN = StreamState.OPEN
_HALF_CLOSED_LOCAL = StreamState.HALF_CLOSED_LOCAL
_HALF_CLOSED_REMOTE = StreamState.HALF_CLOSED_REMOTE
_CLOSED = StreamState.CLOSED
_CLIENT_OPEN = ConnectionState.CLIENT_OPEN
# Frame layout (RFC 9113 §4.1, §6.1): a 9-byte header, type DATA = 0 and its flags.
_FRAME_HEADER = 9
_DATA = 0
_HEADERS = 1
_END_STREAM = 0x1
_END_HEADERS = 0x4
_PADDED = 0x8
# Frame kinds h2 reads without touching the HPACK decoder (RFC 9113 §6): DATA, PRIORITY,
# RST_STREAM, PING, WINDOW_UPDATE. (HEADERS, PUSH_PROMISE and CONTINUATION carry header
# blocks; SETTINGS may change the decoder's allowed table size; anything else is h2's.)
_TABLE_FREE = frozenset({0x0, 0x2, 0x3, 0x6, 0x8})
# HPACK (RFC 7541 §6.1): a byte 0x81-0xFE is a whole "indexed header field" (index 1-126);
# decoding a block of only those reads the tables and changes nothing.
_NOT_ONE_BYTE_INDEXED = bytes(range(0x81, 0xFF))
_HEADER_CACHE_SIZE = 64
_HEADER_CACHE_BYTES = 4096
"""Blocks decoding to more than this (names and values) are left to h2: what a hostile
server can make the cache hold stays small (64 blocks, each kept decoded and validated)."""
_STREAM_ID_MASK = 0x7FFFFFFF

DataChunk = tuple[int, bytes, int]
"""A received DATA frame's (stream id, data, flow-controlled length): what h2's
DataReceived event carries, without the event (see `ClientH2Connection.receive`)."""

# Outbound headers are ours, built by `request_frames.request_headers` (lower-case names,
# trimmed values, credentials never indexed), so h2 need not normalise and check them again
# on every stream; what the server sends is still validated.
_CONFIG = H2Configuration(
    client_side=True,
    header_encoding="utf-8",
    normalize_outbound_headers=False,
    validate_outbound_headers=False,
)


class _QuietDataFrame(DataFrame):
    """A received DATA frame with a cheap repr.

    h2 calls `repr(frame)` for a trace log line on every frame it receives, whether or not
    anything logs (the argument is built before the logger is asked); a DATA frame's repr
    formats its payload. DATA frames are most of what a Run receives, one or more per word.
    """

    def __repr__(self) -> str:
        return f"DataFrame(stream_id={self.stream_id}, {len(self.data)} bytes)"


class _QuietFrameBuffer(FrameBuffer):
    """h2's frame parser, handing out DATA frames as _QuietDataFrame (same class otherwise:
    the connection dispatches it to the DATA handler)."""

    def __next__(self) -> Frame:
        frame = super().__next__()
        if frame.__class__ is DataFrame:
            frame.__class__ = _QuietDataFrame
        return frame


class ClientH2Connection(H2Connection):
    """`H2Connection` with these changes.

    - Its state machine stays open after a received GOAWAY: RFC 9113 §6.8 lets streams up
      to GOAWAY's last_stream_id run to completion, but h2 4.x moves the connection to
      CLOSED and then rejects their DATA and WINDOW_UPDATE frames. We only need the event;
      we stop opening streams ourselves.
    - Opening a stream does not walk every stream: h2 recounts (and prunes) all of them on
      each `send_headers`, O(n) per new stream, which costs ~0.1 ms at a few hundred
      concurrent Runs. See `open_outbound_streams`.
    - Received DATA frames are not formatted for a log line nobody reads (_QuietDataFrame).
    - A plain DATA frame on an open stream is written straight into the output buffer (see
      `send_direct`): h2 builds, checks and serialises a frame object through two state
      machines, ~30 us for each of the dozen small messages a Run sends.
    - Received bytes are cut into frames here (see `receive`), and a DATA frame on a stream
      open for receiving is read from its nine header bytes without a frame object: one
      per relayed chunk of every Run. So is a response HEADERS frame whose block is all
      indexed fields (every response after the first, from a server that indexes its
      headers): its decoded and validated headers are remembered (see
      `_receive_headers_direct`). Every other frame goes through h2 unchanged.
    """

    _prune_at = _PRUNE_MIN

    def __init__(self, config: H2Configuration) -> None:
        super().__init__(config=config)
        self.incoming_buffer = _QuietFrameBuffer(server=False)
        self._frame_dispatch_table[_QuietDataFrame] = self._receive_data_frame
        # The start of a frame whose rest has not arrived yet, and the size it must reach to
        # be read on (h2's own buffer only ever gets whole frames, see `receive`).
        self._partial = bytearray()
        self._partial_size = 0
        # Set after a frame over our MAX_FRAME_SIZE: h2 reads (and refuses) it itself.
        self._h2_reads = False
        # Header blocks of indexed fields only, decoded (with whether they are a 1xx), and
        # their validated headers by validation flags: right while the HPACK tables stay as
        # they are, so emptied whenever h2 reads anything that may reach the HPACK decoder
        # (see `_h2_receive`).
        self._header_blocks: dict[bytes, tuple[list[HeaderTuple], bool]] = {}
        self._validated: dict[tuple[bytes, HeaderValidationFlags], list[Header]] = {}

    @property
    def open_outbound_streams(self) -> int:
        """Streams h2 still tracks as an upper bound of the open ones, counted exactly (and
        closed ones dropped) only when that bound nears the server's limit or has doubled
        since the last count, so the work is amortised O(1) per new stream."""
        streams = self.streams
        bound = len(streams)
        if bound < stream_limit(self.remote_settings) and bound < self._prune_at:
            return bound
        # h2's count (`_open_streams` of our odd ids), reading the states directly instead
        # of through three properties per stream: open client streams are counted, closed
        # ones dropped with how they closed noted, as h2 notes it.
        count = 0
        closed = []
        for stream_id, stream in streams.items():
            state = stream.state_machine.state
            if state is _CLOSED:
                closed.append(stream_id)
            elif stream_id % 2 and STREAM_OPEN[state]:
                count += 1
        for stream_id in closed:
            self._closed_streams[stream_id] = streams.pop(stream_id).state_machine.stream_closed_by
        self._prune_at = max(_PRUNE_MIN, 2 * len(streams))
        return count

    def send_data(
        self,
        stream_id: int,
        data: bytes | memoryview,
        end_stream: bool = False,
        pad_length: Any = None,
    ) -> None:
        """h2's `send_data`, with its common case done directly (see `send_direct`): no
        END_STREAM, no padding. Anything else is h2's."""
        if end_stream or pad_length is not None or not self.send_direct(stream_id, data):
            super().send_data(stream_id, data, end_stream, pad_length)

    def send_direct(self, stream_id: int, data: bytes | bytearray | memoryview) -> bool:
        """Queue `data` as one plain DATA frame where h2's `send_data` would make no state
        transition: an open connection and stream, within the frame size and both
        flow-control windows. There the frame is nine header bytes and the data, and the
        windows shrink as h2 would shrink them. False, with nothing done, anywhere else."""
        stream = self.streams.get(stream_id)
        if stream is None:
            return False
        size = len(data)
        state = stream.state_machine.state
        if (
            not 0 < size <= self.max_outbound_frame_size
            or size > self.outbound_flow_control_window
            or size > stream.outbound_flow_control_window
            or self.state_machine.state is not _CLIENT_OPEN
            or (state is not _OPEN and state is not _HALF_CLOSED_REMOTE)
        ):
            return False
        stream.outbound_flow_control_window -= size
        self.outbound_flow_control_window -= size
        # Frame header (RFC 9113 §4.1): length, type DATA (0), no flags, stream id.
        self._data_to_send += size.to_bytes(3, "big") + b"\x00\x00" + stream_id.to_bytes(4, "big")
        self._data_to_send += data
        return True

    def take_data_to_send(self) -> bytes:
        """`data_to_send()`, or b"" when nothing is queued: one call per flush, not two."""
        data = self._data_to_send
        if data:
            self._data_to_send = bytearray()
        return bytes(data)

    def receive(self, data: bytes) -> list[Event | DataChunk]:
        """`receive_data`, with each DATA frame taken straight from the bytes where h2's
        state machines would make no transition but to end the stream: it comes back as a
        DataChunk, or as h2's events when it ends the stream. There both receive windows
        shrink as h2 would shrink them (and overrunning them is h2's FlowControlError,
        ending the connection as h2 ends it). Every other frame (and a DATA frame in any
        other state, padded wrongly, too large or amid a header block) is handed to h2 in
        order, whole. Raises H2Error as `receive_data` does; the connection is unusable
        afterwards."""
        if self._h2_reads:
            return list(self._h2_receive(data))
        partial = self._partial
        if partial:
            partial += data
            if len(partial) < self._partial_size:
                return []  # a frame arriving in many reads is copied once, not once per read
            data = bytes(partial)
            partial.clear()
        out: list[Event | DataChunk] = []
        size = len(data)
        pos = 0
        waiting = -1  # where the frames not yet handed to h2 start
        tables_kept = True  # whether they are all of kinds that leave the HPACK tables be
        while size - pos >= _FRAME_HEADER:
            length = (data[pos] << 16) | (data[pos + 1] << 8) | data[pos + 2]
            end = pos + _FRAME_HEADER + length
            if length > self.max_inbound_frame_size:
                # h2 refuses it once it is whole (FrameTooLargeError): from here on h2 reads
                # everything, so nothing of it is buffered twice.
                self._h2_reads = True
                out += self._h2_receive(data[pos if waiting < 0 else waiting :])
                return out
            if end > size:
                break
            kind = data[pos + 3]
            if kind in (_DATA, _HEADERS):
                if waiting >= 0:
                    out += self._h2_receive(data[waiting:pos], tables_kept)
                    waiting, tables_kept = -1, True
                if kind == _DATA:
                    if self._receive_data_direct(data, pos, end, out):
                        pos = end
                        continue
                elif self._receive_headers_direct(data, pos, end, out):
                    pos = end
                    continue
            if waiting < 0:
                waiting = pos
            if kind not in _TABLE_FREE:
                tables_kept = False
            pos = end
        if waiting >= 0:
            out += self._h2_receive(data[waiting:pos], tables_kept)
        if pos < size:
            partial += memoryview(data)[pos:]
            self._partial_size = _FRAME_HEADER if size - pos < _FRAME_HEADER else end - pos
        return out

    def _h2_receive(self, data: bytes, tables_kept: bool = False) -> list[Event]:
        """h2's own `receive_data`. What it reads may change the HPACK tables, so the
        remembered header blocks are forgotten first, unless *tables_kept*: *data* is only
        frames that never reach the HPACK decoder (`_TABLE_FREE`: a server's
        WINDOW_UPDATEs and PINGs, between the responses of a busy connection)."""
        if self._header_blocks and not tables_kept:
            self._header_blocks.clear()
            self._validated.clear()
        return super().receive_data(data)

    def receive_data(self, data: Any) -> list[Event]:
        """h2's `receive_data` (see `receive`), its DataChunks turned into DataReceived."""
        events: list[Event] = []
        for item in self.receive(bytes(data)):
            if isinstance(item, tuple):
                stream_id, chunk, size = item
                event = DataReceived(stream_id=stream_id)
                event.data = chunk
                event.flow_controlled_length = size
                events.append(event)
            else:
                events.append(item)
        return events

    def _receive_data_direct(
        self, data: bytes, pos: int, end: int, out: list[Event | DataChunk]
    ) -> bool:
        """Receive the DATA frame at `data[pos:end]` if h2 would only count it against the
        windows (and end the stream on END_STREAM), appending what h2 would emit; False,
        with nothing done, to leave it to h2."""
        stream = self.streams.get(int.from_bytes(data[pos + 5 : pos + 9], "big") & _STREAM_ID_MASK)
        if stream is None:
            return False
        machine = stream.state_machine
        state = machine.state
        size = end - pos - _FRAME_HEADER
        if (
            (state is not _OPEN and state is not _HALF_CLOSED_LOCAL)
            or not machine.headers_received
            or self.state_machine.state is not _CLIENT_OPEN
            or self.incoming_buffer._headers_buffer
        ):
            return False
        flags = data[pos + 4]
        start = pos + _FRAME_HEADER
        stop = end
        if flags & _PADDED:
            if not size:
                return False  # no pad length: h2's FrameDataMissingError
            padding = data[start]
            if padding >= size:
                return False  # h2's InvalidPaddingError
            start += 1
            stop -= padding
        connection_window = self._inbound_flow_control_window_manager
        stream_window = stream._inbound_window_manager
        if (
            stream._expected_content_length is not None
            or size > connection_window.current_window_size
            or size > stream_window.current_window_size
        ):
            # h2's own accounting, which checks the length or refuses the frame.
            try:
                connection_window.window_consumed(size)
                out += stream.receive_data(data[start:stop], bool(flags & _END_STREAM), size)[1]
            except ProtocolError as exc:
                self._terminate_connection(exc.error_code)  # as h2's receive_data does
                raise
            return True
        connection_window.current_window_size -= size
        stream_window.current_window_size -= size
        if flags & _END_STREAM:
            # The stream's last frame: h2's events and transitions (`receive_data`), made
            # here (without a content-length h2 checks no length: it is not counted, as
            # for the frames before).
            event = DataReceived(stream_id=stream.stream_id)
            event.data = data[start:stop]
            event.flow_controlled_length = size
            event.stream_ended = _end_received(machine, state)
            out.append(event)
            out.append(event.stream_ended)
            return True
        out.append((stream.stream_id, data[start:stop], size))
        return True

    def _receive_headers_direct(
        self, data: bytes, pos: int, end: int, out: list[Event | DataChunk]
    ) -> bool:
        """Receive the HEADERS frame at `data[pos:end]` if it is a stream's response (not
        1xx, not trailers) whose whole block is indexed fields, appending h2's events; False,
        with nothing done, to leave it to h2.

        Such a block reads the HPACK tables without changing them, so it decodes to the same
        headers until something else changes the tables (only h2 reads anything else, and
        that empties the cache unless it cannot reach the decoder), and h2's validation of
        the same headers under the same flags gives the same result: both are remembered.
        What h2 does besides, its two state machines and the content-length check, is done
        as h2 does it."""
        flags = data[pos + 4]
        if flags != _END_HEADERS and flags != _END_HEADERS | _END_STREAM:
            return False  # padding, priority, a CONTINUATION to follow: h2's
        stream = self.streams.get(int.from_bytes(data[pos + 5 : pos + 9], "big") & _STREAM_ID_MASK)
        if stream is None:
            return False
        machine = stream.state_machine
        state = machine.state
        if (
            (state is not _OPEN and state is not _HALF_CLOSED_LOCAL)
            or machine.headers_received
            or self.state_machine.state is not _CLIENT_OPEN
            or self.incoming_buffer._headers_buffer
        ):
            return False
        block = data[pos + _FRAME_HEADER : end]
        if block.translate(None, _NOT_ONE_BYTE_INDEXED):
            return False  # it may change the tables: h2 decodes it
        decoded = self._header_blocks.get(block)
        if decoded is None:
            try:
                headers = list(self.decoder.decode(block, raw=True))
            except Exception:
                return False  # h2 decodes it again (changing nothing) and fails as it fails
            if sum(len(name) + len(value) for name, value in headers) > _HEADER_CACHE_BYTES:
                return False
            if len(self._header_blocks) >= _HEADER_CACHE_SIZE:
                self._header_blocks.clear()
                self._validated.clear()
            decoded = self._header_blocks[block] = (headers, is_informational_response(headers))
        if decoded[1]:
            return False
        if machine.client is not True:
            return False  # h2 fails it (a response on a stream we did not open)
        # h2's transitions (`receive_headers`), made here: the connection stays CLIENT_OPEN,
        # the stream's state stays and notes its response (`response_received`), and ends
        # with END_STREAM.
        machine.headers_received = True
        event = ResponseReceived(stream_id=stream.stream_id)
        stream_events: list[Event] = [event]
        if flags & _END_STREAM:
            event.stream_ended = _end_received(machine, state)
            stream_events.append(event.stream_ended)
        try:
            headers = decoded[0]
            stream._initialize_content_length(headers)
            validation = stream._build_hdr_validation_flags(stream_events)
            key = (block, validation)
            valid = self._validated.get(key)
            if valid is None:
                valid = self._validated[key] = stream._process_received_headers(
                    headers, validation, self.config.header_encoding
                )
        except ProtocolError as exc:
            self._terminate_connection(exc.error_code)  # as h2's receive_data does
            raise
        event.headers = list(valid)
        out += stream_events
        return True

    def _receive_goaway_frame(self, frame: GoAwayFrame) -> tuple[list[Frame], list[Event]]:
        event = ConnectionTerminated()
        try:
            event.error_code = ErrorCodes(frame.error_code)
        except ValueError:
            event.error_code = frame.error_code
        event.last_stream_id = frame.last_stream_id
        event.additional_data = frame.additional_data or None
        return [], [event]


def _end_received(machine: H2StreamStateMachine, state: StreamState) -> StreamEnded:
    """h2's RECV_END_STREAM on a stream OPEN or HALF_CLOSED_LOCAL (*state*): half-closed by
    the server (`stream_half_closed`), or closed by it (`stream_ended`)."""
    if state is _OPEN:
        machine.state = StreamState.HALF_CLOSED_REMOTE
    else:
        machine.state = StreamState.CLOSED
        machine.stream_closed_by = StreamClosedBy.RECV_END_STREAM
    return StreamEnded(stream_id=machine.stream_id)


def new_client_h2() -> ClientH2Connection:
    """A client H2Connection with our local settings; call initiate_connection() next.

    The settings are set before the preface (as httpcore does) so they hold from the
    first frame: no push, STREAM_WINDOW per stream, MAX_INBOUND_FRAME.
    """
    h2 = ClientH2Connection(config=_CONFIG)
    h2.encoder = RepeatEncoder()
    h2.local_settings = Settings(
        client=True,
        initial_values={
            SettingCodes.ENABLE_PUSH: 0,
            SettingCodes.MAX_CONCURRENT_STREAMS: 100,
            SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
            SettingCodes.MAX_FRAME_SIZE: MAX_INBOUND_FRAME,
            SettingCodes.MAX_HEADER_LIST_SIZE: 1 << 16,
        },
    )
    # A server-only setting; some servers treat it from a client as an error.
    del h2.local_settings[SettingCodes.ENABLE_CONNECT_PROTOCOL]
    h2.max_inbound_frame_size = MAX_INBOUND_FRAME
    return h2
