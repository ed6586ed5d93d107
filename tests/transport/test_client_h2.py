"""The client's h2 state machine against an in-memory h2 server (no sockets)."""

from __future__ import annotations

import pytest
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import RequestReceived
from h2.exceptions import TooManyStreamsError
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
