"""One hosted MCP server: connected with the official SDK, kept connected, called with limits.

A connection lives in its own task (the SDK's client is an anyio context that must be entered
and left by the same task): connect, list the tools, then watch. It re-lists the tools when
the server says they changed (`notifications/tools/list_changed`, or the `subscriptions/listen`
event of 2026-era servers) and every `health_interval` seconds, which also notices a server
that died while idle. A dropped connection is retried with exponential backoff (0.5 s
doubling to 30 s, with jitter); a call that finds the connection closed triggers it at once.

Calls run with an inactivity timeout that each progress notification restarts, under a hard
cap; a timed-out or cancelled call is cancelled on the server too (the SDK sends
`notifications/cancelled`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

import httpx2
import mcp_types
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED

from .. import __version__
from .config import ServerConfig

log = logging.getLogger(__name__)

Status = Literal["connecting", "ready", "reconnecting", "closed"]
ProgressNote = Callable[[str], None]
_T = TypeVar("_T")


class HostedCallError(Exception):
    """A call that produced no tool result (not connected, timed out, server error)."""


class ServerConnection:
    """The live link to one configured server; see the module docstring."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        on_tools_changed: Callable[[], None] = lambda: None,
        health_interval: float = 30.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        connect_timeout: float = 30.0,
    ) -> None:
        self.config = config
        self.status: Status = "connecting"
        self.last_error = ""
        self.tools: list[mcp_types.Tool] = []
        self.instructions = ""
        self.has_resources = False
        self.connects = 0
        self.calls = 0
        self.failures = 0
        self._on_tools_changed = on_tools_changed
        self._health_interval = health_interval
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._connect_timeout = connect_timeout
        self._client: Client | None = None
        self._ready = asyncio.Event()
        self._settled = asyncio.Event()  # connected, or failed once: start-up stops waiting
        self._broken = asyncio.Event()
        self._relist = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._life(), name=f"mcp:{self.config.name}")

    async def wait_settled(self, within: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._settled.wait()

    async def wait_ready(self, within: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._ready.wait()
        return self._ready.is_set()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        self.status = "closed"
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _life(self) -> None:
        attempt = 0
        while True:
            try:
                async with self._connect() as client:
                    await self._list_tools(client)
                    self.instructions = client.instructions or ""
                    capabilities = client.server_capabilities
                    self.has_resources = capabilities.resources is not None
                    self._client = client
                    self.status, self.last_error = "ready", ""
                    self.connects += 1
                    attempt = 0
                    self._broken.clear()
                    self._ready.set()
                    self._settled.set()
                    log.info("MCP server %s ready (%d tools)", self.config.name, len(self.tools))
                    await self._watch(client)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # anyio groups wrap transport failures
                error = _describe(exc)
                # Say it once per outage, not on every retry.
                level = logging.DEBUG if error == self.last_error else logging.WARNING
                self.last_error = error
                self._settled.set()
                log.log(level, "MCP server %s: %s", self.config.name, error)
            finally:
                self._client = None
                self._ready.clear()
            if self.status == "closed":
                return
            self.status = "reconnecting"
            delay = min(self._backoff_cap, self._backoff_base * 2**attempt)
            attempt += 1
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))

    def _connect(self) -> Client:
        config = self.config
        info = mcp_types.Implementation(name="cursor-bridge", version=__version__)
        server: Any
        if config.transport == "stdio":
            server = StdioServerParameters(
                command=config.command, args=list(config.args), env=config.env, cwd=config.cwd
            )
        elif config.transport == "http":
            http = httpx2.AsyncClient(headers=config.headers, timeout=self._connect_timeout)
            server = streamable_http_client(config.url, http_client=http)
        else:
            server = sse_client(config.url, headers=config.headers, timeout=self._connect_timeout)
        return Client(
            server,
            message_handler=self._on_message,
            client_info=info,
            read_timeout_seconds=self._connect_timeout,
            cache=None,  # listings are re-read on change; calls are never cached
        )

    async def _watch(self, client: Client) -> None:
        """Until the connection breaks: re-list tools when told to or every health interval."""
        listener: asyncio.Task[None] | None = None
        if client.protocol_version >= "2026-07-28":
            listener = asyncio.create_task(self._listen(client))
        try:
            while not self._broken.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._health_interval):
                        await _first(self._relist.wait(), self._broken.wait())
                if self._broken.is_set():
                    raise HostedCallError("connection closed")
                self._relist.clear()
                await self._list_tools(client)
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await listener

    async def _listen(self, client: Client) -> None:
        with contextlib.suppress(Exception):
            async with client.listen(tools_list_changed=True) as subscription:
                async for _ in subscription:
                    self._relist.set()

    async def _list_tools(self, client: Client) -> None:
        tools: list[mcp_types.Tool] = []
        cursor: str | None = None
        for _ in range(100):  # a paginator that never ends cannot hang us
            page = await client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        changed = [t.model_dump() for t in tools] != [t.model_dump() for t in self.tools]
        self.tools = tools
        if changed:
            self._on_tools_changed()

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification):
            self._relist.set()
        elif isinstance(message, Exception):
            log.debug("MCP server %s transport error: %s", self.config.name, message)

    # -- calls -------------------------------------------------------------------------------

    async def call_tool(
        self, tool: str, arguments: dict[str, Any], progress: ProgressNote | None = None
    ) -> mcp_types.CallToolResult:
        """Call *tool*; raises HostedCallError when no result comes back."""
        self.calls += 1
        try:
            client = await self._connected()
            result = await self._timed(
                lambda callback: client.call_tool(tool, arguments, progress_callback=callback),
                progress,
            )
        except HostedCallError:
            self.failures += 1
            raise
        if result.is_error:
            self.failures += 1
        return result

    async def list_resources(self) -> list[mcp_types.Resource]:
        client = await self._connected()
        result = await self._timed(lambda _: client.list_resources(), None)
        return list(result.resources)

    async def read_resource(self, uri: str) -> mcp_types.ReadResourceResult:
        client = await self._connected()
        return await self._timed(lambda _: client.read_resource(uri), None)

    async def _connected(self) -> Client:
        client = self._client
        if client is None and await self.wait_ready(min(5.0, self.config.timeout)):
            client = self._client
        if client is None:
            reason = f" ({self.last_error})" if self.last_error else ""
            raise HostedCallError(f"MCP server {self.config.name!r} is not connected{reason}")
        return client

    async def _timed(
        self,
        start: Callable[[Any], Awaitable[_T]],
        progress: ProgressNote | None,
    ) -> _T:
        loop = asyncio.get_running_loop()
        began = last = loop.time()

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            nonlocal last
            last = loop.time()
            if progress is not None:
                share = f"{done:g}/{total:g}" if total else f"{done:g}"
                progress(f"{share} {message or ''}".strip())

        task = asyncio.ensure_future(start(on_progress))
        try:
            while True:
                deadline = min(last + self.config.timeout, began + self.config.max_call_seconds)
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise HostedCallError(
                        f"MCP server {self.config.name!r} did not answer within "
                        f"{loop.time() - began:.0f} s; the call was cancelled"
                    )
                done, _ = await asyncio.wait({task}, timeout=remaining)
                if done:
                    return task.result()
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                self._broken.set()
                raise HostedCallError(
                    f"MCP server {self.config.name!r} closed the connection; it is being "
                    "restarted, try again shortly"
                ) from exc
            raise HostedCallError(f"MCP server {self.config.name!r}: {exc.message}") from exc
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


async def _first(*waits: Awaitable[Any]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _describe(exc: BaseException) -> str:
    """The innermost useful message of a (possibly grouped) connection failure."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]
