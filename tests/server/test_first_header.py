"""`turns.first_header` reads a header as `request.headers.get` does (first value, Latin-1),
without building the request's Headers."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from cursor_bridge.server.turns import first_header

LISTS: list[list[tuple[bytes, bytes]]] = [
    [],
    [(b"host", b"x")],
    [(b"x-cursor-bridge-mcp", b"off")],
    [(b"host", b"x"), (b"x-cursor-bridge-mcp", b"show"), (b"x-cursor-bridge-mcp", b"off")],
    [(b"x-cursor-bridge-mcp-other", b"on"), (b"x-cursor-bridge-mcp", b" On ")],
    [(b"x-cursor-bridge-mcp", "caf\u00e9".encode("latin-1"))],
]


@pytest.mark.parametrize("headers", LISTS)
def test_as_starlette_reads_it(headers: list[tuple[bytes, bytes]]) -> None:
    scope = {"type": "http", "headers": headers}
    expected = Request(scope).headers.get("x-cursor-bridge-mcp")
    assert first_header(scope, b"x-cursor-bridge-mcp") == expected
