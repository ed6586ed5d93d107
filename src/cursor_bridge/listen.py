"""Running a server process (`serve`, `emulator`): the event loop, the listening socket,
and why it could not listen, in words that name the fix."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import socket
from collections.abc import Coroutine
from typing import Any

import click

from .cli_errors import PORT_HINT


def run_status(main: Coroutine[Any, Any, int]) -> int:
    """Run *main* and return its exit status (130 after Ctrl-C)."""
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(main)
    return 130


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop when it is installed (it is with uvicorn[standard]), else asyncio."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def tune_gc() -> None:
    """Keep start-up objects out of garbage-collector passes (shorter pauses while streaming).

    The modules, app and catalogs loaded at start-up are about half the tracked objects and
    never become garbage, yet every full collection walked them: measured at 200 streams,
    full passes took 25-30 ms of CPU and stalled every stream; frozen, about half that.
    Collections are then made rarer (see GC_THRESHOLDS): a turn allocates thousands of
    short-lived objects, and with the start-up objects frozen CPython's default full-pass
    rule (a quarter more long-lived objects) fired every few hundred turns.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


# Young collections every 5,000 net allocations (default 700), full ones after 100 middle
# ones (default 10): measured on a 20-loop tool benchmark, GC CPU halved and no full pass
# ran while measuring, where the defaults ran one (about 27 ms, all streams stalled).
GC_THRESHOLDS = (5_000, 10, 100)


def bind(host: str, port: int, *, share: bool = False, listen: bool = True) -> socket.socket:
    """Bind before starting so the banner can name the real port (port 0 = any free one).

    `share`: SO_REUSEPORT, so the workers of `serve --workers N` listen on one port (their
    supervisor reserves it with `listen=False`, and the kernel spreads connections over
    the workers)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose
    # protocol says TCP, and without it small SSE writes wait ~40 ms for delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {reason(exc)}") from None
    if listen:
        sock.listen(2048)
        sock.set_inheritable(True)
    return sock


def reason(exc: OSError) -> str:
    """Why a socket could not listen, with the fix."""
    if exc.errno == errno.EADDRINUSE:
        return f"the port is already in use. {PORT_HINT}"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "no such address on this machine. Pass --host 127.0.0.1 (or 0.0.0.0 for all)."
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need root). Pass --port 8787."
    return exc.strerror or str(exc)


def url_host(host: str) -> str:
    """*host* as it goes in a URL a client can use (a wildcard address becomes loopback)."""
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
