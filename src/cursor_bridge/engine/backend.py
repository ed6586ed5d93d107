"""The bridge's view of a Cursor backend (real or emulated): catalog and turns.

The same code talks to Cursor's servers and to the in-repo emulator; only the URLs and the
credentials differ.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from ..protocol import events as ev
from ..protocol.blobs import MemoryBlobStore
from ..protocol.errors import ConnectError
from ..protocol.headers import RUN_PATH, ClientIdentity, run_headers, unary_headers
from ..protocol.messages import agent
from ..protocol.run import RunMachine
from ..transport import BackendPool, ConnectFailed, TransportError
from .catalog import ModelCatalog, ModelChoice
from .model_map import ModelMap
from .output import OutputEvent, TurnFinished
from .planner import Workspace, default_workspace, plan_run
from .request import ChatRequest
from .upstream import UpstreamRun

TokenProvider = Callable[[], Awaitable[str | None]]


async def _no_token() -> str | None:
    return None


@dataclass
class BackendConfig:
    api_url: str
    agent_url: str
    identity: ClientIdentity = field(default_factory=ClientIdentity)
    token: TokenProvider = _no_token
    heartbeat_interval: float = 5.0
    idle_timeout: float = 120.0
    model_cache_ttl: float = 300.0
    workspace: Workspace = field(default_factory=default_workspace)
    model_map: ModelMap = field(default_factory=ModelMap)


class CursorBackend:
    """Runs chat turns against one backend over a shared connection pool."""

    def __init__(self, config: BackendConfig, pool: BackendPool | None = None) -> None:
        self.config = config
        self.pool = pool or BackendPool()
        self.catalog = ModelCatalog(
            self._unary, ttl=config.model_cache_ttl, model_map=config.model_map
        )
        self.runs_opened = 0

    async def aclose(self) -> None:
        await self.pool.aclose()

    async def resolve(self, request: ChatRequest) -> ModelChoice:
        return await self.catalog.resolve(request.model, request.reasoning_effort)

    async def stream_turn(
        self, request: ChatRequest, choice: ModelChoice
    ) -> AsyncIterator[list[OutputEvent]]:
        """Open a Run for *request* and yield its output in batches (one per upstream read).

        Raises ConnectError on failure.

        Closing the iterator early (client went away) cancels the Run upstream.
        """
        plan = plan_run(request, choice, self.config.workspace)
        store = MemoryBlobStore()
        for key, data in plan.blobs.items():
            store.put(key, data)
        machine = RunMachine(blobs=store, request_context=plan.request_context)
        token = await self.config.token()
        headers = run_headers(token, self.config.identity, now_ms=_now_ms())
        try:
            stream = await self.pool.open_stream(self.config.agent_url + RUN_PATH, headers)
        except ConnectFailed as exc:
            raise ConnectError("unavailable", f"cannot reach the backend: {exc}") from exc
        except TransportError as exc:
            raise ConnectError("unavailable", f"connection to the backend lost: {exc}") from exc
        self.runs_opened += 1
        run = UpstreamRun(
            stream,
            machine,
            plan.run_request,
            heartbeat_interval=self.config.heartbeat_interval,
            idle_timeout=self.config.idle_timeout,
        )
        try:
            async for batch in run.batches():
                execs = [e for e in batch if isinstance(e, ev.ExecRequested)]
                for request_event in execs:
                    if request_event.kind != "unknown":
                        # No client tools in this path: refuse so the model answers in text.
                        machine.send_exec_result(refusal(request_event))
                if execs:
                    await run.flush()
                out: list[OutputEvent] = []
                for event in batch:
                    if isinstance(event, ev.TextDelta | ev.ThinkingDelta):
                        out.append(event)
                    elif isinstance(event, ev.TurnEnded):
                        out.append(TurnFinished("stop", event.usage))
                if out:
                    yield out
        finally:
            await run.aclose()

    async def _unary(self, path: str, body: bytes, json_codec: bool) -> tuple[int, bytes]:
        token = await self.config.token()
        headers = unary_headers(
            token, self.config.identity, now_ms=_now_ms(), json_codec=json_codec
        )
        try:
            response = await self.pool.unary(self.config.api_url + path, headers, body)
        except ConnectFailed as exc:
            raise ConnectError("unavailable", f"cannot reach the backend: {exc}") from exc
        except TransportError as exc:
            raise ConnectError("unavailable", f"connection to the backend lost: {exc}") from exc
        return response.status, response.body


def refusal(event: ev.ExecRequested) -> agent.ExecClientMessage:
    """An error result the model can recover from, in the variant's own result type."""
    reason = "Tool not available in this environment; answer without it."
    result = agent.ExecClientMessage(id=event.exec_id, exec_id=event.exec_key)
    kind = event.kind.removesuffix("_args")
    path = str(event.args.get("path", ""))
    if kind == "mcp":
        result.mcp_result.error.error = reason
    elif kind == "shell":
        result.shell_result.rejected.reason = reason
        result.shell_result.rejected.command = str(event.args.get("command", ""))
    elif kind == "shell_stream":
        result.shell_stream.rejected.reason = reason
        result.shell_stream.rejected.command = str(event.args.get("command", ""))
    elif kind == "read":
        result.read_result.rejected.path, result.read_result.rejected.reason = path, reason
    elif kind == "write":
        result.write_result.rejected.path, result.write_result.rejected.reason = path, reason
    elif kind == "delete":
        result.delete_result.rejected.path, result.delete_result.rejected.reason = path, reason
    elif kind == "ls":
        result.ls_result.rejected.path, result.ls_result.rejected.reason = path, reason
    elif kind == "grep":
        result.grep_result.error.error = reason
    return result


def _now_ms() -> int:
    return int(time.time() * 1000)
