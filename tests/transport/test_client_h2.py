"""The client's h2 state machine against an in-memory h2 server (no sockets)."""

from __future__ import annotations

import random
from functools import partial

import pytest
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import RequestReceived
from h2.exceptions import H2Error, TooManyStreamsError
from h2.settings import SettingCodes
from hpack import Encoder
from hyperframe.frame import DataFrame, Frame, HeadersFrame, SettingsFrame

from cursor_bridge.transport.client_h2 import CONNECTION_WINDOW, _QuietDataFrame, new_client_h2

REQUEST = [(":method", "POST"), (":scheme", "http"), (":authority", "x"), (":path", "/p")]


def connected(max_streams: int) -> tuple[H2Connection, H2Connection]:
    client = new_client_h2()
    server = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
    client.initiate_connection()
    server.initiate_connection()
    server.update_settings({SettingCodes.MAX_CONCURRENT_STREAMS: max_streams})
    exchange(client, server)
    return client, server


def exchange(client: H2Connection, server: H2Connection) -> list[object]:
    """Shuttle bytes both ways until both sides are quiet; the server's events."""
    events: list[object] = []
    while True:
        to_server, to_client = client.data_to_send(), server.data_to_send()
        if not to_server and not to_client:
            return events
        events.extend(server.receive_data(to_server))
        client.receive_data(to_client)


def open_stream(client: H2Connection) -> int:
    stream_id = client.get_next_available_stream_id()
    client.send_headers(stream_id, REQUEST)
    return stream_id


def finish(client: H2Connection, server: H2Connection, stream_id: int) -> None:
    client.end_stream(stream_id)
    exchange(client, server)
    server.send_headers(stream_id, [(":status", "200")], end_stream=True)
    exchange(client, server)


def test_the_servers_stream_limit_still_holds() -> None:
    client, server = connected(max_streams=5)
    for _ in range(3):  # closed streams h2 may still be tracking do not count
        finish(client, server, open_stream(client))
    ids = [open_stream(client) for _ in range(5)]
    with pytest.raises(TooManyStreamsError):
        open_stream(client)
    finish(client, server, ids[0])
    open_stream(client)  # a closed stream makes room


def test_closed_streams_are_dropped_while_thousands_come_and_go() -> None:
    client, server = connected(max_streams=1000)
    live = [open_stream(client) for _ in range(10)]
    for _ in range(2000):
        stream_id = open_stream(client)
        assert any(isinstance(e, RequestReceived) for e in exchange(client, server))
        finish(client, server, stream_id)
    # Only the live streams plus a bounded backlog of closed ones are kept.
    assert len(client.streams) < 200
    assert len(live) <= client.open_outbound_streams < 200


def _open_pair(windows: int) -> tuple[H2Connection, H2Connection, int]:
    """Our client connection and h2's own, each with one open stream and the same
    outbound windows; their output so far discarded."""
    ours = new_client_h2()
    reference = H2Connection(config=ours.config)
    pair = (ours, reference)
    for h2 in pair:
        h2.initiate_connection()
        stream_id = h2.get_next_available_stream_id()
        h2.send_headers(stream_id, [(":method", "POST"), (":scheme", "http"),
                                    (":authority", "a"), (":path", "/x")])  # fmt: skip
        h2.outbound_flow_control_window = windows
        h2.streams[stream_id].outbound_flow_control_window = windows
        h2.data_to_send()
    return ours, reference, stream_id


@pytest.mark.parametrize("seed", range(30))
def test_sending_data_writes_what_h2_writes(seed: int) -> None:
    """The direct DATA path: the same bytes, windows, stream state and refusals as h2's."""
    rng = random.Random(seed)
    ours, reference, stream_id = _open_pair(rng.choice([100, 5000, 1 << 20]))
    for _ in range(40):
        size = rng.choice([0, 1, 20, 700, 16_384, 16_385, 70_000])
        data = memoryview(
            bytes(rng.getrandbits(8) for _ in range(min(size, 64))) * (size // 64 + 1)
        )[:size]
        end = rng.random() < 0.05
        outcomes = []
        for h2 in (ours, reference):
            try:
                h2.send_data(stream_id, data, end_stream=end)
                outcomes.append(("sent", h2.data_to_send()))
            except H2Error as exc:
                outcomes.append((type(exc).__name__, h2.data_to_send()))
            stream = h2.streams.get(stream_id)
            outcomes.append(
                (
                    h2.outbound_flow_control_window,
                    stream.outbound_flow_control_window if stream else None,
                    stream.state_machine.state if stream else None,
                )
            )
        assert outcomes[:2] == outcomes[2:]


def _receiving_pair() -> tuple[H2Connection, H2Connection, Encoder]:
    """Two of our client connections, the second with h2's own DATA handling, each with
    stream 1 open and the server's SETTINGS received; a server HPACK encoder for both."""
    pair = (new_client_h2(), new_client_h2())
    reference = pair[1]
    reference._frame_dispatch_table[_QuietDataFrame] = partial(
        H2Connection._receive_data_frame, reference
    )
    for h2 in pair:
        h2.initiate_connection()
        h2.increment_flow_control_window(CONNECTION_WINDOW - 65535)  # as Connection does
        h2.send_headers(1, REQUEST)
        h2.receive_data(SettingsFrame(0).serialize())
        h2.data_to_send()
    return pair[0], reference, Encoder()


def _received(h2: H2Connection, data: bytes) -> list[object]:
    """What receiving *data* did: the events (as tuples) or the error, the windows, the
    stream's state and what h2 queued to send."""
    try:
        events: object = [
            (type(e).__name__, *sorted((k, repr(v)) for k, v in vars(e).items()))
            for e in h2.receive_data(data)
        ]
    except H2Error as exc:
        events = type(exc).__name__
    stream = h2.streams.get(1)
    return [
        events,
        h2._inbound_flow_control_window_manager.current_window_size,
        stream._inbound_window_manager.current_window_size if stream else None,
        stream.state_machine.state if stream else None,
        h2.state_machine.state,
        h2.data_to_send(),
    ]


@pytest.mark.parametrize("seed", range(30))
def test_receiving_data_does_what_h2_does(seed: int) -> None:
    """The direct DATA receive path: the same events, windows, states and refusals as h2's
    (padding, END_STREAM, data before the response headers, windows overrun)."""
    rng = random.Random(seed)
    ours, reference, encoder = _receiving_pair()
    headers_due = 0 if seed % 5 else 2  # every fifth: DATA before the response headers
    results = []
    for index in range(30):
        if index == headers_due:
            frame: Frame = HeadersFrame(1)
            frame.data = encoder.encode([(":status", "200")])
            frame.flags.add("END_HEADERS")
        else:
            frame = DataFrame(1)
            frame.data = bytes(rng.choice([0, 1, 9, 300, 16_000]))
            if rng.random() < 0.2:
                frame.flags.add("PADDED")
                frame.pad_length = rng.choice([0, 5])
            if index > 20 and rng.random() < 0.2:
                frame.flags.add("END_STREAM")
        if index > 20 and rng.random() < 0.2:  # shrink the windows: the next frames overrun them
            for h2 in (ours, reference):
                h2._inbound_flow_control_window_manager.current_window_size = 200
        data = frame.serialize()
        result = _received(ours, data)
        assert result == _received(reference, data)
        results.append(result)
    if headers_due == 0:  # the common case is among them: a stream taking DATA frames
        assert sum(isinstance(r[0], list) and len(r[0]) == 1 for r in results) > 20
