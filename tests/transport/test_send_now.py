"""Sending from the receive callback in one call (`DuplexStream.try_send_now`), one DATA
frame written directly (`ClientH2Connection.send_direct`): what the two-step general path
(`can_send_now`, then `send_now` through h2) does, or nothing at all (then the caller takes
those two steps)."""

from __future__ import annotations

import asyncio
import random

import pytest
from h2.exceptions import H2Error
from hyperframe.frame import SettingsFrame, WindowUpdateFrame
from test_client_h2 import _data_frame, _open_pair, _response_headers
from test_connection_receive import _connected, _Wire

from cursor_bridge.transport.connection import Connection
from cursor_bridge.transport.errors import TransportError
from cursor_bridge.transport.stream import DuplexStream

SIZES = [0, 1, 20, 99, 100, 101, 5000, 16_384, 16_385, 40_000]


def _payload(rng: random.Random, size: int, kind: str) -> bytes | bytearray | memoryview:
    data = rng.randbytes(size)
    if kind == "bytearray":
        return bytearray(data)
    if kind == "memoryview":
        return memoryview(b"xx" + data)[2:]
    return data


def _state(h2: object) -> tuple[object, ...]:
    stream = h2.streams.get(1)  # type: ignore[attr-defined]
    return (
        h2.outbound_flow_control_window,  # type: ignore[attr-defined]
        stream.outbound_flow_control_window if stream else None,
        stream.state_machine.state if stream else None,
        h2.state_machine.state,  # type: ignore[attr-defined]
    )


@pytest.mark.parametrize("seed", range(40))
def test_a_direct_frame_is_what_h2_sends_and_anything_else_changes_nothing(seed: int) -> None:
    rng = random.Random(seed)
    ours, reference, stream_id = _open_pair(rng.choice([0, 100, 5000, 1 << 20]))
    situation = rng.choice(["open", "open", "ended", "reset", "closed", "small frames"])
    for h2 in (ours, reference):
        if situation == "ended":
            h2.end_stream(stream_id)  # half-closed (local): no more DATA from us
        elif situation == "reset":
            h2.reset_stream(stream_id)
        elif situation == "closed":
            h2.close_connection()
        elif situation == "small frames":
            h2.max_outbound_frame_size = 100
        h2.data_to_send()
    for _ in range(20):
        size = rng.choice(SIZES)
        data = _payload(rng, size, rng.choice(["bytes", "bytearray", "memoryview"]))
        target = rng.choice([stream_id, stream_id, stream_id + 2])  # or a stream never opened
        before = _state(ours)
        if ours.send_direct(target, data):
            reference.send_data(target, data)  # h2 sends it too, and the same way
            assert ours.data_to_send() == reference.data_to_send()
            assert _state(ours) == _state(reference)
            continue
        assert ours.data_to_send() == b""  # refused: nothing queued, nothing counted
        assert _state(ours) == before
        fits = (
            situation in ("open", "small frames")
            and target == stream_id
            and 0 < size <= min(ours.max_outbound_frame_size, before[0], before[1])  # type: ignore[call-overload]
        )
        assert not fits  # (the usual answer is never refused)
        # The general path, on both, decides as h2 decides.
        outcomes = []
        for h2 in (ours, reference):
            try:
                h2.send_data(target, data)
                outcomes.append(("sent", h2.data_to_send(), _state(h2)))
            except (H2Error, KeyError) as exc:  # (KeyError: h2's, for 0 bytes on no stream)
                outcomes.append((type(exc).__name__, h2.data_to_send(), _state(h2)))
        assert outcomes[0] == outcomes[1]


async def _stream_pair(
    window: int, connection_window: int
) -> list[tuple[Connection, _Wire, DuplexStream]]:
    """Two connections alike, each with one open stream whose response began, with send
    windows (the server's credit) of *window* bytes for the stream and *connection_window*
    for the connection."""
    pairs = []
    for _ in range(2):
        connection, encoder = _connected()
        stream = connection.start_stream("/run", [])
        connection.data_received(_response_headers(encoder, stream.stream_id))
        h2 = connection._h2
        h2.outbound_flow_control_window = connection_window
        h2.streams[stream.stream_id].outbound_flow_control_window = window
        connection._flush()
        wire = connection._transport
        assert isinstance(wire, _Wire)
        wire.written.clear()
        pairs.append((connection, wire, stream))
    return pairs


def _general(stream: DuplexStream, data: bytes | bytearray) -> bool:
    """The two steps a caller takes where `try_send_now` declines."""
    if not stream.can_send_now(len(data)):
        return False
    stream.send_now(bytes(data))
    return True


@pytest.mark.parametrize("seed", range(40))
async def test_sending_in_one_call_or_else_in_two_steps_is_sending_in_two_steps(
    seed: int,
) -> None:
    """What `UpstreamRun._send_now` does (the one call, else the two steps) against the
    two steps alone, on twin connections; a declined call leaves no trace."""
    rng = random.Random(seed)
    windows = [0, 50, 20_000, 1 << 20]
    (one, one_wire, fast), (two, two_wire, slow) = await _stream_pair(
        rng.choice(windows), rng.choice(windows)
    )
    situation = rng.choice(["open", "open", "paused", "ended", "failed", "dead"])
    for connection, stream in ((one, fast), (two, slow)):
        if situation == "paused":
            connection.pause_writing()
        elif situation == "ended":
            await stream.end()
        elif situation == "failed":
            stream._fail(TransportError("reset"))
        elif situation == "dead":
            connection.abort(TransportError("gone"))
    for _ in range(6):
        data = rng.randbytes(rng.choice(SIZES))
        if rng.random() < 0.5:
            data = bytearray(data)  # type: ignore[assignment]
        h2 = one._h2
        before = (h2._data_to_send[:], h2.outbound_flow_control_window, _state(h2))
        outcomes = []
        for connection, wire, stream, one_call in ((one, one_wire, fast, True),
                                                   (two, two_wire, slow, False)):  # fmt: skip
            try:
                if one_call and stream.try_send_now(data):
                    outcome: object = True
                else:
                    if one_call:  # declined: nothing queued, nothing counted
                        after = (h2._data_to_send[:], h2.outbound_flow_control_window, _state(h2))
                        assert after == before
                    outcome = _general(stream, data)
            except TransportError as exc:
                outcome = str(exc)
            connection._flush()
            window = connection.send_window(1) if situation != "dead" else None
            outcomes.append((outcome, bytes(wire.written), window))
        assert outcomes[0] == outcomes[1]


async def test_an_answer_sent_in_the_receive_callback_leaves_with_that_read() -> None:
    """No flush of its own is scheduled: the read's flush writes it, in one socket write."""
    connection, encoder = _connected()
    stream = connection.start_stream("/run", [])
    connection.data_received(_response_headers(encoder, 1))
    wire = connection._transport
    assert isinstance(wire, _Wire)
    writes: list[bytes] = []
    wire.write = writes.append  # type: ignore[method-assign]
    stream.consume_inline(lambda data: not stream.try_send_now(data + b"!"))
    connection.data_received(_data_frame(1, b"ask"))
    assert connection._flush_handle is None
    assert writes == [_data_frame(1, b"ask!")]
    # Outside the callback a flush is scheduled for the loop's next turn, as `send` does.
    assert stream.try_send_now(b"later")
    assert connection._flush_handle is not None and len(writes) == 1
    await asyncio.sleep(0)
    assert writes[1:] == [_data_frame(1, b"later")]
    # A server SETTINGS read in between is acknowledged in the same write as an answer.
    connection.data_received(SettingsFrame(0).serialize() + _data_frame(1, b"again"))
    assert len(writes) == 3 and writes[2].endswith(_data_frame(1, b"again!"))
    assert connection._flush_handle is None


async def test_an_answer_that_does_not_fit_is_refused_until_credit_comes() -> None:
    connection, encoder = _connected()
    stream = connection.start_stream("/run", [])
    connection.data_received(_response_headers(encoder, 1))
    h2 = connection._h2
    h2.streams[1].outbound_flow_control_window = 3
    assert not stream.try_send_now(b"four")
    assert h2.streams[1].outbound_flow_control_window == 3 and not h2._data_to_send
    connection.data_received(WindowUpdateFrame(1, window_increment=1).serialize())
    assert stream.try_send_now(b"four")
    assert h2.streams[1].outbound_flow_control_window == 0
