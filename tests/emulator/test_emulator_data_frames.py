"""emulator/data_frames.py against h2 itself: the same bytes, windows and errors."""

from __future__ import annotations

from collections.abc import Callable

import h2.config
import h2.connection
import h2.exceptions
import h2.settings
import pytest

from cursor_bridge.emulator.data_frames import send_data, send_window

REQUEST = [(":method", "POST"), (":path", "/x"), (":scheme", "http"), (":authority", "a")]


def _pair(*, end_request: bool = False, window: int | None = None) -> h2.connection.H2Connection:
    """A server connection with stream 1 open (half-closed remote with `end_request`)."""
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    if window is not None:
        client.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
    client.send_headers(1, REQUEST, end_stream=end_request)
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    server.data_to_send()
    return server


def _state(conn: h2.connection.H2Connection) -> tuple[bytes, int, int, object]:
    stream = conn.streams[1]
    return (
        conn.data_to_send(),
        conn.outbound_flow_control_window,
        stream.outbound_flow_control_window,
        stream.state_machine.state,
    )


@pytest.mark.parametrize("end_request", [False, True])
@pytest.mark.parametrize("sizes", [[1], [12, 30, 5], [16_384], [16_384, 16_384, 7]])
def test_frames_and_windows_are_h2s(end_request: bool, sizes: list[int]) -> None:
    ours, theirs = _pair(end_request=end_request), _pair(end_request=end_request)
    for n, size in enumerate(sizes):
        data = bytes([n % 251]) * size
        assert send_window(ours, 1) == min(
            theirs.local_flow_control_window(1), theirs.max_outbound_frame_size
        )
        send_data(ours, 1, data)
        theirs.send_data(1, data)
        assert _state(ours) == _state(theirs)


def test_over_the_window_or_frame_size_h2_raises() -> None:
    small = _pair(window=10)
    assert send_window(small, 1) == 10
    with pytest.raises(h2.exceptions.FlowControlError):
        send_data(small, 1, b"x" * 11)
    with pytest.raises(h2.exceptions.FrameTooLargeError):
        send_data(_pair(), 1, b"x" * 16_385)


def _ended(conn: h2.connection.H2Connection) -> None:
    conn.end_stream(1)


def _reset(conn: h2.connection.H2Connection) -> None:
    conn.reset_stream(1)


def _closed(conn: h2.connection.H2Connection) -> None:
    conn.close_connection()


@pytest.mark.parametrize("make", [_ended, _reset, _closed])
def test_a_stream_that_cannot_send_raises_as_in_h2(
    make: Callable[[h2.connection.H2Connection], None],
) -> None:
    ours, theirs = _pair(), _pair()
    make(ours)
    make(theirs)
    with pytest.raises(h2.exceptions.ProtocolError) as expected:
        theirs.send_data(1, b"late")
    with pytest.raises(type(expected.value)):
        send_data(ours, 1, b"late")


@pytest.mark.parametrize("stream_id", [3, 5])
def test_window_of_an_unknown_stream_raises_as_in_h2(stream_id: int) -> None:
    with pytest.raises(h2.exceptions.ProtocolError) as expected:
        _pair().local_flow_control_window(stream_id)
    with pytest.raises(type(expected.value)):
        send_window(_pair(), stream_id)
