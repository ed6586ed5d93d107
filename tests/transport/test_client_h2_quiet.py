"""Received DATA frames are not formatted for h2's trace log line (nobody reads it)."""

from __future__ import annotations

import pytest
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived
from hyperframe.frame import DataFrame

from cursor_bridge.transport.client_h2 import new_client_h2


def test_data_frames_arrive_without_formatting_their_payload(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = new_client_h2()
    client.initiate_connection()
    server = H2Connection(H2Configuration(client_side=False))
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    client.send_headers(
        1, [(":method", "POST"), (":path", "/"), (":scheme", "http"), (":authority", "x")]
    )
    server.receive_data(client.data_to_send())
    server.send_headers(1, [(":status", "200")])
    server.send_data(1, b"hello")
    server.send_data(1, b"world")

    def formatted(self: DataFrame) -> str:
        raise AssertionError("a received DATA frame was formatted")

    monkeypatch.setattr(DataFrame, "_body_repr", formatted)
    events = client.receive_data(server.data_to_send())
    data = [e.data for e in events if isinstance(e, DataReceived)]
    assert data == [b"hello", b"world"]
