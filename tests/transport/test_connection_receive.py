"""Connection.data_received routing the DATA frames read without h2's events (no sockets)."""

from __future__ import annotations

import asyncio

from hpack import Encoder
from hyperframe.frame import GoAwayFrame, SettingsFrame
from test_client_h2 import _data_frame, _response_headers

from cursor_bridge.transport.connection import Connection
from cursor_bridge.transport.origin import parse_url


class _Wire:
    """The socket under a Connection: keeps what the client writes."""

    def __init__(self) -> None:
        self.written = bytearray()

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str) -> None:
        return None

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def _connected() -> tuple[Connection, Encoder]:
    origin, _ = parse_url("http://backend.invalid")
    connection = Connection(origin, asyncio.get_running_loop())
    connection.connection_made(_Wire())  # type: ignore[arg-type]
    connection.data_received(SettingsFrame(0).serialize())
    return connection, Encoder()


async def test_frames_in_one_read_reach_their_streams_in_order() -> None:
    connection, encoder = _connected()
    one = connection.start_stream("/run", [])
    two = connection.start_stream("/run", [])
    wire = _response_headers(encoder, 1) + _response_headers(encoder, 3)
    wire += (
        _data_frame(1, b"a")
        + _data_frame(3, b"b", pad=4)
        + _data_frame(1, b"c")
        + _data_frame(3, b"d", end_stream=True)
    )
    connection.data_received(wire[:20])  # cut inside a frame: the rest waits for the next read
    connection.data_received(wire[20:])
    assert await one.response_headers() == (200, [])
    assert await one.receive(idle_timeout=1) == b"ac"
    assert await two.receive(idle_timeout=1) == b"bd"
    assert await two.receive(idle_timeout=1) is None


async def test_data_for_a_stream_let_go_returns_the_connection_credit() -> None:
    connection, encoder = _connected()
    kept = connection.start_stream("/run", [])
    dropped = connection.start_stream("/run", [])
    connection.data_received(_response_headers(encoder, 1) + _response_headers(encoder, 3))
    # GOAWAY naming stream 1 as the last: stream 3 fails and is let go (h2 still has it open).
    connection.data_received(GoAwayFrame(0, last_stream_id=1).serialize())
    assert dropped.finished and not kept.finished
    h2 = connection._h2
    before = h2._inbound_flow_control_window_manager.current_window_size
    connection.data_received(_data_frame(3, bytes(40_000)))  # a hostile server sends it anyway
    window = h2._inbound_flow_control_window_manager
    assert window.current_window_size == before - 40_000
    assert window._bytes_processed == 40_000  # returned: sent as WINDOW_UPDATE in time
    connection.data_received(_data_frame(1, b"still flowing"))
    assert await kept.receive(idle_timeout=1) == b"still flowing"


async def test_send_window_is_the_smaller_of_the_stream_and_connection_windows() -> None:
    """What h2's `local_flow_control_window` says, whichever window is smaller; a stream
    h2 does not track is refused as h2 refuses it."""
    from hyperframe.frame import WindowUpdateFrame

    from cursor_bridge.transport.errors import TransportError

    connection, _ = _connected()
    h2 = connection._h2
    stream = connection.start_stream("/run", [])
    sid = stream.stream_id
    assert connection.send_window(sid) == h2.local_flow_control_window(sid) == 65535
    connection.send_data(sid, memoryview(b"x" * 100))  # both windows shrink
    assert connection.send_window(sid) == h2.local_flow_control_window(sid) == 65435
    connection.data_received(WindowUpdateFrame(sid, window_increment=1000).serialize())
    assert connection.send_window(sid) == h2.local_flow_control_window(sid) == 65435  # conn's
    connection.data_received(WindowUpdateFrame(0, window_increment=5000).serialize())
    assert connection.send_window(sid) == h2.local_flow_control_window(sid) == 66435  # stream's
    for unknown in (sid + 2, 0):
        try:
            connection.send_window(unknown)
        except TransportError:
            pass
        else:
            raise AssertionError(f"stream {unknown} has no window")
