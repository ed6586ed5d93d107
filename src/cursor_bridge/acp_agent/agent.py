"""`cursor-bridge acp`: an Agent Client Protocol agent over the bridge's engine.

An editor (Zed, JetBrains, Neovim plugins) starts the bridge as a subprocess and speaks ACP
over its stdio. Each session is a Cursor conversation: a prompt turn is a ChatRequest with
the session's history, run on the same engine `serve` uses (live with a login, else the
emulator); text streams back as `agent_message_chunk`, reasoning as `agent_thought_chunk`.
Cursor's built-in tool requests go to the editor (editor_tools.py), hosted MCP servers and the
servers the editor passes in run here and show as tool calls; the agent's to-do list
becomes the ACP plan. `session/cancel` cancels the
upstream Run. Models come from the account's catalog (a `model` config option); modes decide
about permissions (editor_tools.MODES).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import contextvars
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from acp import PROTOCOL_VERSION, Client, RequestError
from acp.helpers import (
    plan_entry,
    start_tool_call,
    text_block,
    tool_content,
    update_agent_message_text,
    update_agent_thought_text,
    update_plan,
    update_tool_call,
    update_user_message_text,
)
from acp.schema import (
    AgentCapabilities,
    AgentPlanUpdate,
    ClientCapabilities,
    EmbeddedResourceContentBlock,
    HttpMcpServer,
    ImageContentBlock,
    Implementation,
    InitializeResponse,
    LoadSessionResponse,
    McpCapabilities,
    McpServerStdio,
    NewSessionResponse,
    PlanEntryStatus,
    PromptCapabilities,
    PromptResponse,
    ResourceContentBlock,
    SessionConfigOptionBoolean,
    SessionConfigOptionSelect,
    SessionConfigSelectOption,
    SessionMode,
    SessionModeState,
    SetSessionConfigOptionResponse,
    SetSessionModeResponse,
    SseMcpServer,
    TextContentBlock,
    TextResourceContents,
    ToolCallProgress,
    ToolCallStart,
)
from acp.schema import Usage as AcpUsage

from .. import __version__
from ..engine.backend import CursorBackend
from ..engine.errors import InvalidChatRequest, ModelNotFound
from ..engine.hosted import HostedServerStats
from ..engine.output import HostedCall, TextDelta, ThinkingDelta, TodosUpdated, TurnFinished
from ..engine.request import ChatMessage, ChatRequest, ImageInput
from ..mcp_host.config import ServerConfig
from ..mcp_host.host import Catalog, McpHost
from ..protocol.errors import ConnectError
from ..protocol.events import ExecRequested
from ..protocol.messages import agent
from .editor_tools import MODES, EditorTools
from .sessions import SessionRecord, SessionStore

log = logging.getLogger(__name__)

MODEL_OPTION = "model"
ConfigOption = SessionConfigOptionSelect | SessionConfigOptionBoolean
_current: contextvars.ContextVar[LiveSession] = contextvars.ContextVar("acp_session")


@dataclass
class LiveSession:
    record: SessionRecord
    tools: EditorTools
    mcp: McpHost | None = None
    turn: asyncio.Task[PromptResponse] | None = None
    cancelled: bool = False


class BridgeAgent:
    """The ACP agent (implements `acp.Agent`); see the module docstring."""

    def __init__(
        self,
        backend: CursorBackend,
        hosted: McpHost | None = None,
        *,
        default_model: str | None = None,
        store: SessionStore | None = None,
    ) -> None:
        self.backend = backend
        self.hosted = hosted
        self.default_model = default_model
        self.store = store or SessionStore()
        self.sessions: dict[str, LiveSession] = {}
        self.capabilities = ClientCapabilities()
        self._client: Client | None = None
        backend.config.executor = self._execute
        backend.config.hosted = _SessionHosted(self)

    def on_connect(self, conn: Client) -> None:
        self._client = conn

    @property
    def client(self) -> Client:
        if self._client is None:  # pragma: no cover - the SDK connects before any call
            raise RequestError.internal_error({"reason": "no client connected"})
        return self._client

    async def aclose(self) -> None:
        for session in self.sessions.values():
            if session.turn is not None:
                session.turn.cancel()
            if session.mcp is not None:
                await session.mcp.aclose()

    # -- set-up -------------------------------------------------------------------------

    async def initialize(
        self,
        protocol_version: int,
        client_capabilities: ClientCapabilities | None = None,
        client_info: Implementation | None = None,
        **_: Any,
    ) -> InitializeResponse:
        self.capabilities = client_capabilities or ClientCapabilities()
        return InitializeResponse(
            protocol_version=min(protocol_version, PROTOCOL_VERSION),
            agent_capabilities=AgentCapabilities(
                load_session=True,
                prompt_capabilities=PromptCapabilities(image=True, embedded_context=True),
                mcp_capabilities=McpCapabilities(http=True, sse=True),
            ),
            agent_info=Implementation(
                name="cursor-bridge", title="Cursor (bridge)", version=__version__
            ),
            auth_methods=[],
        )

    async def authenticate(self, method_id: str, **_: Any) -> None:
        raise RequestError.invalid_params({"reason": "run `cursor-bridge login` instead"})

    async def new_session(
        self,
        cwd: str,
        additional_directories: list[str] | None = None,
        mcp_servers: Sequence[Any] | None = None,
        **_: Any,
    ) -> NewSessionResponse:
        roots = _roots(cwd, additional_directories)
        record = SessionRecord.new(cwd, roots, await self._default_model(), "ask")
        session = await self._open(record, mcp_servers)
        self.store.save(record)
        return NewSessionResponse(
            session_id=record.session_id,
            modes=_modes(record),
            config_options=await self._config_options(session),
        )

    async def load_session(
        self,
        cwd: str,
        session_id: str,
        mcp_servers: Sequence[Any] | None = None,
        additional_directories: list[str] | None = None,
        **_: Any,
    ) -> LoadSessionResponse:
        record = self.store.load(session_id)
        if record is None:
            raise RequestError.resource_not_found(session_id)
        record.cwd, record.roots = cwd, _roots(cwd, additional_directories)
        session = await self._open(record, mcp_servers)
        for message in record.history:  # the editor rebuilds its view from the replay
            update = (
                update_user_message_text(message["text"])
                if message["role"] == "user"
                else update_agent_message_text(message["text"])
            )
            await self.client.session_update(session_id=session_id, update=update)
        return LoadSessionResponse(
            modes=_modes(record), config_options=await self._config_options(session)
        )

    async def set_session_mode(
        self, session_id: str, mode_id: str, **_: Any
    ) -> SetSessionModeResponse:
        session = self._session(session_id)
        if mode_id not in MODES:
            raise RequestError.invalid_params({"modeId": mode_id, "modes": list(MODES)})
        session.record.mode = session.tools.mode = mode_id  # type: ignore[assignment]
        self.store.save(session.record)
        return SetSessionModeResponse()

    async def set_config_option(
        self, config_id: str, session_id: str, value: str | bool, **_: Any
    ) -> SetSessionConfigOptionResponse:
        session = self._session(session_id)
        if config_id != MODEL_OPTION or not isinstance(value, str):
            raise RequestError.invalid_params({"configId": config_id})
        if value not in {m.id for m in await self._models()}:
            raise RequestError.invalid_params({"model": value, "reason": "not in the catalog"})
        session.record.model = value
        self.store.save(session.record)
        return SetSessionConfigOptionResponse(config_options=await self._config_options(session))

    # -- turns --------------------------------------------------------------------------

    async def prompt(self, session_id: str, prompt: list[Any], **_: Any) -> PromptResponse:
        session = self._session(session_id)
        if session.turn is not None and not session.turn.done():
            raise RequestError.invalid_request({"reason": "a prompt is already running"})
        text, images = _prompt_content(prompt)
        session.cancelled = False
        token = _current.set(session)
        try:
            session.turn = asyncio.create_task(self._turn(session, text, images))
        finally:
            _current.reset(token)
        await asyncio.wait({session.turn})
        if session.turn.cancelled():
            return PromptResponse(stop_reason="cancelled")
        return session.turn.result()

    async def cancel(self, session_id: str, **_: Any) -> None:
        session = self.sessions.get(session_id)
        if session is not None and session.turn is not None and not session.turn.done():
            session.cancelled = True
            session.turn.cancel()  # closing the turn cancels the upstream Run

    async def _turn(
        self, session: LiveSession, text: str, images: tuple[ImageInput, ...]
    ) -> PromptResponse:
        record = session.record
        user = ChatMessage("user", text, images)
        request = ChatRequest(
            model=record.model,
            messages=(*record.messages(), user),
            stream=True,
            hosted_tools="on",
        )
        answer: list[str] = []
        finished: TurnFinished | None = None
        try:
            choice = await self.backend.resolve(request)
            turn = self.backend.stream_turn(request, choice)
            try:
                async for batch in turn:
                    for event in batch:
                        if isinstance(event, TextDelta):
                            answer.append(event.text)
                            await self._send(record, update_agent_message_text(event.text))
                        elif isinstance(event, ThinkingDelta):
                            await self._send(record, update_agent_thought_text(event.text))
                        elif isinstance(event, TodosUpdated):
                            await self._send(record, _plan(event))
                        elif isinstance(event, HostedCall):
                            await self._send(record, _hosted_call(event))
                        elif isinstance(event, TurnFinished):
                            finished = event
            finally:
                # Also on cancellation: closing the turn cancels the upstream Run.
                await turn.aclose()  # type: ignore[attr-defined]
        except (ModelNotFound, InvalidChatRequest) as exc:
            raise RequestError.invalid_params({"reason": str(exc)}) from exc
        except ConnectError as exc:
            raise RequestError.internal_error({"code": exc.code, "reason": exc.message}) from exc
        record.add("user", text)
        record.add("assistant", "".join(answer))
        self.store.save(record)
        usage = finished.usage if finished is not None else None
        return PromptResponse(
            stop_reason="max_tokens" if finished and finished.reason == "length" else "end_turn",
            usage=AcpUsage(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                total_tokens=usage.input_tokens + usage.output_tokens,
                thought_tokens=usage.reasoning_tokens or None,
                cached_read_tokens=usage.cache_read_tokens or None,
            )
            if usage is not None
            else None,
        )

    async def _send(self, record: SessionRecord, update: Any) -> None:
        await self.client.session_update(session_id=record.session_id, update=update)

    async def _execute(self, event: ExecRequested) -> list[agent.ExecClientMessage]:
        """Built-in execs of the turn in progress: the current session's editor answers."""
        session = _current.get(None)
        if session is None:  # pragma: no cover - only ACP turns run here
            return []
        return await session.tools.execute(event)

    # -- helpers ------------------------------------------------------------------------

    def _session(self, session_id: str) -> LiveSession:
        session = self.sessions.get(session_id)
        if session is None:
            raise RequestError.resource_not_found(session_id)
        return session

    async def _open(self, record: SessionRecord, mcp_servers: Sequence[Any] | None) -> LiveSession:
        tools = EditorTools(self.client, record.session_id, record.roots, self.capabilities)
        tools.mode = record.mode if record.mode in MODES else "ask"  # type: ignore[assignment]
        session = LiveSession(record, tools)
        configs = [_server_config(s) for s in mcp_servers or ()]
        if configs:
            session.mcp = McpHost(configs)
            await session.mcp.start(wait=10)
        old = self.sessions.pop(record.session_id, None)
        if old is not None and old.mcp is not None:
            await old.mcp.aclose()
        self.sessions[record.session_id] = session
        return session

    async def _models(self) -> list[Any]:
        try:
            return list(await self.backend.catalog.models())
        except ConnectError as exc:
            raise RequestError.internal_error({"code": exc.code, "reason": exc.message}) from exc

    async def _default_model(self) -> str:
        if self.default_model:
            return self.default_model
        models = await self._models()
        if not models:
            raise RequestError.internal_error({"reason": "the account's model list is empty"})
        return str(models[0].id)

    async def _config_options(self, session: LiveSession) -> list[ConfigOption]:
        models = await self._models()
        options = [
            SessionConfigSelectOption(value=m.id, name=m.display_name or m.id) for m in models
        ]
        return [
            SessionConfigOptionSelect(
                id=MODEL_OPTION,
                name="Model",
                category="model",
                type="select",
                current_value=session.record.model,
                options=options,
            )
        ]


class _SessionHosted:
    """Hosted tools for a turn: the bridge's servers plus those the editor passed in."""

    def __init__(self, owner: BridgeAgent) -> None:
        self.owner = owner

    def catalog(self, client_tools: Sequence[agent.McpToolDefinition]) -> Catalog | None:
        session = _current.get(None)
        mine = session.mcp if session is not None else None
        connections = [
            c for c in (mine.connections.values() if mine else ()) if c.status == "ready"
        ]
        taken = {c.config.name for c in connections}
        if self.owner.hosted is not None:
            connections += [
                c
                for c in self.owner.hosted.connections.values()
                if c.status == "ready" and c.config.name not in taken
            ]
        return Catalog(connections, client_tools) if connections else None

    def stats(self) -> list[HostedServerStats]:
        return self.owner.hosted.stats() if self.owner.hosted is not None else []


def _hosted_call(call: HostedCall) -> ToolCallStart | ToolCallProgress:
    """A hosted MCP call as an ACP tool call: started, then completed or failed."""
    if call.status == "in_progress":
        return start_tool_call(call.call_id, call.label, kind="other", status="in_progress")
    content = [tool_content(text_block(call.detail))] if call.detail else None
    return update_tool_call(call.call_id, status=call.status, content=content)


def _plan(todos: TodosUpdated) -> AgentPlanUpdate:
    """Cursor's to-do list as an ACP plan (the whole plan each time; cancelled items go)."""
    status: dict[str, PlanEntryStatus] = {"in_progress": "in_progress", "completed": "completed"}
    return update_plan(
        plan_entry(todo.content, status=status.get(todo.status, "pending"))
        for todo in todos.todos
        if todo.status != "cancelled"
    )


def _modes(record: SessionRecord) -> SessionModeState:
    return SessionModeState(
        current_mode_id=record.mode,
        available_modes=[
            SessionMode(id=mode, name=mode, description=text) for mode, text in MODES.items()
        ],
    )


def _roots(cwd: str, extra: list[str] | None) -> list[str]:
    roots = [cwd, *(extra or [])]
    for root in roots:
        if not os.path.isabs(root):
            raise RequestError.invalid_params({"reason": f"{root!r} is not an absolute path"})
    return [os.path.normpath(root) for root in roots]


def _server_config(server: Any) -> ServerConfig:
    if isinstance(server, McpServerStdio):
        env = {item.name: item.value for item in server.env}
        return ServerConfig(
            server.name, "stdio", command=server.command, args=tuple(server.args), env=env
        )
    if isinstance(server, HttpMcpServer | SseMcpServer):
        headers = {item.name: item.value for item in server.headers}
        transport: Literal["http", "sse"] = "http" if isinstance(server, HttpMcpServer) else "sse"
        return ServerConfig(server.name, transport, url=server.url, headers=headers)
    raise RequestError.invalid_params({"reason": f"unsupported MCP server {server!r}"})


def _prompt_content(blocks: list[Any]) -> tuple[str, tuple[ImageInput, ...]]:
    """The prompt's text (embedded resources quoted, links named) and its images."""
    parts: list[str] = []
    images: list[ImageInput] = []
    for block in blocks:
        if isinstance(block, TextContentBlock):
            parts.append(block.text)
        elif isinstance(block, ImageContentBlock):
            with contextlib.suppress(binascii.Error, ValueError):
                images.append(
                    ImageInput(block.mime_type, base64.b64decode(block.data, validate=True))
                )
        elif isinstance(block, EmbeddedResourceContentBlock):
            resource = block.resource
            if isinstance(resource, TextResourceContents):
                parts.append(f'<file uri="{resource.uri}">\n{resource.text}\n</file>')
        elif isinstance(block, ResourceContentBlock):
            parts.append(f"[{block.name}]({block.uri})")
    return "\n\n".join(parts), tuple(images)
