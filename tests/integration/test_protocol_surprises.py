"""Protocol surprises met in normal operation are counted in /metrics and logged once per
kind, with the field path and number and without content."""

from __future__ import annotations

import logging
from contextlib import contextmanager

import httpx
import pytest

from cursor_bridge.emulator import EmulatorOptions
from tests.conftest import _stack

stack_of = contextmanager(_stack)


def test_an_unknown_field_is_counted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="cursor_bridge.surprises")
    options = EmulatorOptions(heartbeat_interval=0.2, inject=("unknown-field",))
    with stack_of(options) as stack:
        for secret in ("first SECRETWORD", "second SECRETWORD"):
            body = {"model": "auto", "messages": [{"role": "user", "content": secret}]}
            reply = httpx.post(f"{stack.bridge_url}/v1/chat/completions", json=body, timeout=30)
            assert reply.status_code == 200  # a surprise changes nothing for the client
        metrics = httpx.get(f"{stack.bridge_url}/metrics", timeout=10).text
    line = (
        'cursor_bridge_protocol_surprises_total{what="unknown_field",'
        'where="interaction_update.text_delta#4242"} 2.0'
    )
    assert line in metrics
    logged = [r.getMessage() for r in caplog.records if r.name == "cursor_bridge.surprises"]
    assert len(logged) == 1
    assert "unknown_field at interaction_update.text_delta (field 4242)" in logged[0]
    assert "SECRETWORD" not in logged[0] and "Emulated" not in logged[0]
