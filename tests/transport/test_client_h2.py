"""The client's h2 state machine against an in-memory h2 server (no sockets)."""

from __future__ import annotations

import random

import pytest
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import RequestReceived
from h2.exceptions import H2Error, TooManyStreamsError
from h2.settings import SettingCodes

from cursor_bridge.transport.client_h2 import new_client_h2

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
