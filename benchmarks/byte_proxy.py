"""A TCP proxy that only copies bytes: the floor of what any hop between client and backend costs.

    python -m benchmarks.byte_proxy TARGET_PORT     # prints "listening on http://127.0.0.1:P"

`relay.py --copied` runs the direct protocol client through it (a third path beside direct
and relayed). It parses nothing and keeps no state per stream, so the gap between it and
the direct path is what a third busy-ish process and an extra loopback hop cost on this
machine; the gap between it and the relayed path is the bridge's own work.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import cast


class _Side(asyncio.Protocol):
    """One connection of a pair; what it reads is written to the other, as it comes."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.early: list[bytes] | None = []  # read before the other side connected

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is None or peer.transport is None:
            assert self.early is not None
            self.early.append(data)
        else:
            peer.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.close()

    def paired(self, peer: _Side) -> None:
        """*peer* is connected: link both ways and pass on what either side read before
        (the backend may speak first: an HTTP/2 server sends its SETTINGS at once)."""
        self.peer, peer.peer = peer, self
        for side in (self, peer):
            assert side.transport is not None and side.peer is not None
            target = side.peer.transport
            assert target is not None
            for data in side.early or ():
                target.write(data)
            side.early = None
            if side.transport.is_closing():  # gone before the pair was made
                target.close()


async def serve(target_port: int) -> None:
    loop = asyncio.get_running_loop()
    connecting: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak references

    def accepted() -> _Side:
        inbound = _Side()

        async def connect() -> None:
            try:
                _, outbound = await loop.create_connection(_Side, "127.0.0.1", target_port)
            except OSError:
                if inbound.transport is not None:
                    inbound.transport.close()
                return
            inbound.paired(outbound)

        task = loop.create_task(connect())
        connecting.add(task)
        task.add_done_callback(connecting.discard)
        return inbound

    server = await loop.create_server(accepted, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    await server.serve_forever()


def main() -> None:
    target = int(sys.argv[1])
    try:  # on uvloop when installed, as the bridge and the emulator run
        import uvloop
    except ImportError:
        asyncio.run(serve(target))
    else:
        uvloop.run(serve(target))


if __name__ == "__main__":
    main()
