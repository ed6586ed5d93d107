"""A faithful Cursor backend (agent.v1 Run over HTTP/2) for tests, demos and benchmarks.

It speaks the wire protocol of shared/protocol/run-stream.md with a scripted, deterministic
model: the latest user message's directives (see `script`) pick the answer, thinking, tool
calls and injected faults. It reuses `protocol/` for framing and messages and never imports
the client side (engine, server, transport).
"""

from .catalog import Catalog, CatalogModel
from .counters import EmulatorCounters
from .options import EmulatorOptions
from .server import EmulatorServer, run_emulator

__all__ = [
    "Catalog",
    "CatalogModel",
    "EmulatorCounters",
    "EmulatorOptions",
    "EmulatorServer",
    "run_emulator",
]
