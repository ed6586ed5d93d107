"""The bridge's hosted MCP servers: started together, offered per request, called by name.

`McpHost` owns one `ServerConnection` per configured server and hands the engine a
`Catalog` per request: the ready servers' tools named for the wire (unique beside the
client's own tools), their descriptors, and the code that answers the model's exec requests
for them (tool calls, resource listing and reads). The MCP state probe is answered by the
RunMachine, from the descriptors and definitions the catalog adds to the request context.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import mcp_types

from ..engine.hosted import HostedServerStats, Note
from ..protocol.events import ExecRequested
from ..protocol.messages import agent
from . import wire
from .config import ServerConfig
from .connection import HostedCallError, ServerConnection
from .naming import NameTable, ToolRef, server_identifier

log = logging.getLogger(__name__)

_RESOURCE_KINDS = ("list_mcp_resources_exec_args", "read_mcp_resource_exec_args")


class McpHost:
    """Every configured server; see the module docstring."""

    def __init__(self, configs: Sequence[ServerConfig], **connection_options: Any) -> None:
        self.connections = {
            config.name: ServerConnection(config, **connection_options) for config in configs
        }

    async def start(self, wait: float = 10.0) -> None:
        """Connect every server; wait up to *wait* seconds for each to connect or fail once
        (slow ones join later, failed ones keep retrying)."""
        for connection in self.connections.values():
            connection.start()
        if self.connections and wait > 0:
            await asyncio.gather(*(c.wait_settled(wait) for c in self.connections.values()))

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.connections.values()))

    def stats(self) -> list[HostedServerStats]:
        return [
            HostedServerStats(
                name,
                c.status,
                tuple(t.name for t in c.tools),
                c.calls,
                c.failures,
                c.last_error,
            )
            for name, c in self.connections.items()
        ]

    def catalog(self, client_tools: Sequence[agent.McpToolDefinition]) -> Catalog | None:
        ready = [c for c in self.connections.values() if c.status == "ready"]
        if not ready:
            return None
        return Catalog(ready, client_tools)


@dataclass(frozen=True, slots=True)
class _Offered:
    wire: str
    connection: ServerConnection
    tool: mcp_types.Tool


class Catalog:
    """The hosted tools offered to one request, and the answers to the execs naming them."""

    def __init__(
        self,
        connections: Sequence[ServerConnection],
        client_tools: Sequence[agent.McpToolDefinition],
    ) -> None:
        self.connections = {c.config.name: c for c in connections}
        refs = [(c, t) for c in connections for t in c.tools]
        names = NameTable(
            (ToolRef(c.config.name, t.name) for c, t in refs), {d.name for d in client_tools}
        )
        self.offered: dict[str, _Offered] = {}
        self._by_ref: dict[tuple[str, str], _Offered] = {}
        for connection, tool in refs:
            wire_name = names.wire(ToolRef(connection.config.name, tool.name))
            assert wire_name is not None
            offered = _Offered(wire_name, connection, tool)
            self.offered[wire_name] = offered
            self._by_ref[(server_identifier(connection.config.name), tool.name)] = offered

    # -- advertising ------------------------------------------------------------------------

    def definitions(self) -> list[agent.McpToolDefinition]:
        return [
            wire.definition(o.wire, server_identifier(o.connection.config.name), o.tool)
            for o in self.offered.values()
        ]

    def descriptors(self) -> list[agent.McpDescriptor]:
        return [
            wire.descriptor(name, server_identifier(name), list(c.tools), c.instructions)
            for name, c in self.connections.items()
        ]

    def decorate(self, run_request: agent.AgentRunRequest, context: agent.RequestContext) -> None:
        definitions = self.definitions()
        descriptors = self.descriptors()
        run_request.mcp_tools.mcp_tools.extend(definitions)
        action = run_request.action
        inline = [context]
        if action.HasField("user_message_action"):
            inline.append(action.user_message_action.request_context)
        elif action.HasField("resume_action"):
            inline.append(action.resume_action.request_context)
        for ctx in inline:
            ctx.tools.extend(definitions)
            ctx.mcp_file_system_options.enabled = True
            ctx.mcp_file_system_options.mcp_descriptors.extend(descriptors)
            ctx.mcp_meta_tool_options.enabled = True
            ctx.mcp_meta_tool_options.mcp_descriptors.extend(descriptors)
            ctx.mcp_info_complete = True
            for name, connection in self.connections.items():
                if connection.instructions:
                    ctx.mcp_instructions.append(
                        agent.McpInstructions(
                            server_name=name,
                            instructions=connection.instructions,
                            server_identifier=server_identifier(name),
                        )
                    )

    # -- answering --------------------------------------------------------------------------

    def resolve(self, event: ExecRequested) -> _Offered | None:
        """The hosted tool an `mcp_args` exec names: by wire name, else (server id, tool)."""
        if event.kind != "mcp_args":
            return None
        for name in (event.wire_name, event.tool_name):
            if name in self.offered:
                return self.offered[name]
        return self._by_ref.get((event.provider, event.tool_name))

    def handles(self, event: ExecRequested) -> bool:
        if event.kind in _RESOURCE_KINDS:
            server = str(event.args.get("server") or "")
            return not server or self._server(server) is not None
        return self.resolve(event) is not None

    def describe(self, event: ExecRequested) -> str:
        offered = self.resolve(event)
        if offered is not None:
            args = json.dumps(
                plain_numbers(event.args), separators=(",", ":"), ensure_ascii=False, sort_keys=True
            )
            return f"{offered.connection.config.name}.{offered.tool.name} {args}"
        return event.kind.removesuffix("_args").removesuffix("_exec")

    async def execute(
        self, event: ExecRequested, note: Note | None
    ) -> list[agent.ExecClientMessage]:
        if event.kind == "list_mcp_resources_exec_args":
            return [await self._list_resources(event)]
        if event.kind == "read_mcp_resource_exec_args":
            return [await self._read_resource(event)]
        offered = self.resolve(event)
        if offered is None:
            return [wire.tool_error(event, f"Tool {event.tool_name!r} is not available.")]
        try:
            arguments = plain_numbers(event.args)
            result = await offered.connection.call_tool(offered.tool.name, arguments, note)
        except HostedCallError as exc:
            return [wire.tool_error(event, str(exc))]
        return [wire.tool_result(event, result)]

    def _server(self, name: str) -> ServerConnection | None:
        for configured, connection in self.connections.items():
            if name in (configured, server_identifier(configured)):
                return connection
        return None

    async def _list_resources(self, event: ExecRequested) -> agent.ExecClientMessage:
        server = str(event.args.get("server") or "")
        targets = [self._server(server)] if server else list(self.connections.values())
        found: list[tuple[str, mcp_types.Resource]] = []
        for connection in targets:
            if connection is None or not connection.has_resources:
                continue
            try:
                resources = await connection.list_resources()
            except HostedCallError as exc:
                if server:
                    return wire.list_error(event, str(exc))
                log.info("listing resources of %s failed: %s", connection.config.name, exc)
                continue
            identifier = server_identifier(connection.config.name)
            found.extend((identifier, r) for r in resources)
        return wire.resources_result(event, found)

    async def _read_resource(self, event: ExecRequested) -> agent.ExecClientMessage:
        uri = str(event.args.get("uri") or "")
        server = str(event.args.get("server") or "")
        connection = self._server(server) if server else None
        if not server and len(self.connections) == 1:
            connection = next(iter(self.connections.values()))
        if connection is None:
            return wire.read_error(event, uri, f'Server "{server}" not found')
        try:
            result = await connection.read_resource(uri)
        except HostedCallError as exc:
            return wire.read_error(event, uri, str(exc))
        return wire.read_result(event, uri, result)


def plain_numbers(value: Any) -> Any:
    """JSON as the model wrote it: protobuf `Value` numbers are doubles, so a whole number
    arrives as 2.0; servers validating `"type": "integer"` strictly want 2."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: plain_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_numbers(item) for item in value]
    return value
