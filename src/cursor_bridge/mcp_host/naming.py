"""Wire names for hosted MCP tools: what the model calls, and the exact way back.

Cursor's client advertises an MCP tool as `<server>-<tool>` (current-client.md §3) and
sanitises names for the models behind it (seed 002: `my-special_tool.v2` becomes
`my_special_tool_v2`). So each part keeps only `[A-Za-z0-9_]` (anything else becomes `_`),
the two are joined by the one `-`, and the whole stays within 64 characters (a long tool part
is cut and tagged with a hash of the original, so two long names stay apart). A name that is
still taken (by the client's own tools or an earlier hosted tool) gets `_2`, `_3`, ...
The table maps every wire name back to the configured server and the tool's real name.
Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..engine.toolset import MAX_NAME, unique_name

MAX_SERVER_PART = 24
_INVALID = re.compile(r"[^A-Za-z0-9_]")


def sanitize(part: str) -> str:
    return _INVALID.sub("_", part) or "_"


def server_identifier(server: str) -> str:
    """The id a server is advertised under (`provider_identifier`, descriptor id)."""
    return sanitize(server)[:MAX_SERVER_PART]


@dataclass(frozen=True, slots=True)
class ToolRef:
    """A hosted tool by its configured server name and its real tool name."""

    server: str
    tool: str


class NameTable:
    """Wire name <-> (server, tool), unique, for one set of hosted tools."""

    def __init__(self, refs: Iterable[ToolRef], reserved: Iterable[str] = ()) -> None:
        self._by_wire: dict[str, ToolRef] = {}
        self._by_ref: dict[ToolRef, str] = {}
        taken = set(reserved)
        for ref in refs:
            if ref in self._by_ref:
                continue
            wire = unique_name(_base_name(ref), taken)
            taken.add(wire)
            self._by_wire[wire] = ref
            self._by_ref[ref] = wire

    def wire(self, ref: ToolRef) -> str | None:
        return self._by_ref.get(ref)

    def resolve(self, wire: str) -> ToolRef | None:
        return self._by_wire.get(wire)

    def items(self) -> list[tuple[str, ToolRef]]:
        return list(self._by_wire.items())


def _base_name(ref: ToolRef) -> str:
    server = server_identifier(ref.server)
    tool = sanitize(ref.tool)
    budget = MAX_NAME - len(server) - 1
    if len(tool) > budget:
        digest = hashlib.sha256(ref.tool.encode()).hexdigest()[:8]
        tool = tool[: budget - len(digest) - 1] + "_" + digest
    return f"{server}-{tool}"
