"""Tools the bridge runs itself (hosted MCP servers), as the engine sees them.

The engine does not know MCP: it asks a `HostedTools` provider for a per-request
`HostedCatalog`, lets it add its tools and descriptors to the Run's first frame, and hands it
the exec requests it claims. The catalog answers them (the Run carries on by itself: the
client never sees these calls). `mcp_host/` implements both.

A request chooses with the `x-cursor-bridge-mcp` header: `on` (default), `off` (hosted tools
are not offered), or `show` (offered, and each call is reported to the client as a reasoning
line: every dialect already renders reasoning, and no client mistakes it for a call it owes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from ..protocol.events import ExecRequested
from ..protocol.messages import agent

HostedMode = Literal["on", "off", "show"]
HEADER = "x-cursor-bridge-mcp"
Note = Callable[[str], None]


class HostedCatalog(Protocol):
    def decorate(self, run_request: agent.AgentRunRequest, context: agent.RequestContext) -> None:
        """Add the hosted tools and their descriptors to a fresh Run's request and context."""

    def handles(self, event: ExecRequested) -> bool:
        """Whether this exec is answered here (a hosted tool, or MCP resources)."""

    def describe(self, event: ExecRequested) -> str:
        """A one-line label of the call, for `show` mode."""

    async def execute(
        self, event: ExecRequested, note: Note | None
    ) -> list[agent.ExecClientMessage]:
        """The answer; `note` receives progress lines while the call runs."""


@dataclass(frozen=True, slots=True)
class HostedServerStats:
    """One hosted server, for `/metrics` and `cursor-bridge mcp list`."""

    name: str
    status: str
    tools: tuple[str, ...]
    calls: int
    failures: int
    last_error: str = ""


class HostedTools(Protocol):
    def catalog(self, client_tools: Sequence[agent.McpToolDefinition]) -> HostedCatalog | None:
        """The hosted tools for one request, named apart from the client's (None: none)."""

    def stats(self) -> list[HostedServerStats]:
        """Every configured server, connected or not."""


def parse_mode(value: str | None) -> HostedMode | None:
    """The header's value, or None when it is not one of on/off/show."""
    text = (value or "on").strip().lower()
    if text in ("on", "off", "show"):
        return text  # type: ignore[return-value]
    return None
