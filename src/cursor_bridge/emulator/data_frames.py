"""DATA frames into an `h2` connection without h2's per-frame objects.

`H2Connection.send_data` builds a `DataFrame` (with its `Flags` and padding objects), runs
both state machines and serialises the frame: several times the cost of the bytes for a
frame the size of one streamed word, which is what the emulator sends most. `send_data`
here does what h2 does for the frame the emulator sends (no padding, no END_STREAM), on
h2's own state: the same frame bytes appended to h2's outbound buffer, the same windows
decremented; anything else (a stream or connection not open for sending, a frame over a
window or the frame size) goes through h2, which raises as it always does. The equivalence
is pinned against h2 itself in tests/emulator/test_emulator_data_frames.py.
"""

from __future__ import annotations

from h2.connection import ConnectionState, H2Connection
from h2.stream import StreamState

_DATA_NO_FLAGS = b"\x00\x00"  # type DATA, no flags
_SENDABLE = (StreamState.OPEN, StreamState.HALF_CLOSED_REMOTE)
_SERVER_OPEN = ConnectionState.SERVER_OPEN


def send_data(conn: H2Connection, stream_id: int, data: bytes) -> None:
    """`conn.send_data(stream_id, data)` for a plain DATA frame, cheaply."""
    stream = conn.streams.get(stream_id)
    size = len(data)
    if (
        stream is None
        or conn.state_machine.state is not _SERVER_OPEN
        or stream.state_machine.state not in _SENDABLE
        or size > conn.outbound_flow_control_window
        or size > stream.outbound_flow_control_window
        or size > conn.max_outbound_frame_size
    ):
        conn.send_data(stream_id, data)
        return
    conn._data_to_send += (
        size.to_bytes(3, "big") + _DATA_NO_FLAGS + stream_id.to_bytes(4, "big") + data
    )
    stream.outbound_flow_control_window -= size
    conn.outbound_flow_control_window -= size


def send_window(conn: H2Connection, stream_id: int) -> int:
    """How much `send_data` may send on the stream in one frame now (h2's own figures)."""
    stream = conn.streams.get(stream_id)
    if stream is None:
        return min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
    return min(
        conn.outbound_flow_control_window,
        stream.outbound_flow_control_window,
        conn.max_outbound_frame_size,
    )
