"""The ASGI scope of one plain HTTP/1.1 request from a local client, for driving the app
without a server (tests and the in-process HTTP benchmark)."""

from __future__ import annotations

from typing import Any


def http_scope(
    method: str, path: str, body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> dict[str, Any]:
    """A request to 127.0.0.1:8787 with *headers* after Host; a body is sent as JSON."""
    sent = [(b"host", b"127.0.0.1:8787"), *(headers or [])]
    if method == "POST":
        sent += [(b"content-type", b"application/json")]
        sent += [(b"content-length", str(len(body)).encode())]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": sent,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8787),
        "state": {},
    }
