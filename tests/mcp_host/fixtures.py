"""Starting the fixture MCP server (tests/support/mcp_fixture_server.py) for a test."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from cursor_bridge.mcp_host.config import ServerConfig

SERVER_SCRIPT = Path(__file__).resolve().parent.parent / "support" / "mcp_fixture_server.py"


def stdio_config(name: str = "fixture", **options: float) -> ServerConfig:
    return ServerConfig(
        name, "stdio", command=sys.executable, args=(str(SERVER_SCRIPT), "stdio"), **options
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def http_server(port: int | None = None, transport: str = "http") -> Iterator[str]:
    """The fixture server over streamable HTTP (or `sse`); yields its URL once it answers."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), transport, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/{'mcp' if transport == 'http' else 'sse'}"
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break  # listening (an SSE endpoint would stream forever: no request here)
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the fixture MCP server did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)
