"""The bridge's view of a Cursor backend (real or emulated): catalog and turns.

The same code talks to Cursor's servers and to the in-repo emulator; only the URLs and the
credentials differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from .. import access
from ..auth.pool import AccountPool, NotAllowed, PoolMember, is_limit
from ..protocol.errors import ConnectError
from ..protocol.headers import ClientIdentity, unary_headers
from ..store import MemoryStateStore, StateStore
from ..transport import BackendPool, ConnectFailed, TransportError, UnaryResponse
from ..wiretrace import WireRecorder
from . import compaction
from .catalog import ModelCatalog, ModelChoice
from .checkpoints import Checkpoints
from .compaction import ContextTooLong
from .context import Workspace, default_workspace
from .enforce import enforced, needs_enforcement
from .fingerprint import binding as bind_print
from .fingerprint import chain, extend_answer
from .fresh_run import OFF_LOOP_MESSAGES, RunInput, RunStarter, context_window
from .hosted import HostedCatalog, HostedTools
from .model_map import ModelMap
from .output import OutputEvent, TurnFinished, TurnStarted
from .output_control import OutputControl
from .request import ChatRequest
from .sessions import Session, SessionRegistry
from .surprise_counter import SurpriseCounter
from .token_estimate import rough_input_tokens
from .toolset import Toolset
from .turn import Executor, SegmentOutcome, SegmentReader, answers_for, merges_deltas

log = logging.getLogger(__name__)

TokenProvider = Callable[[], Awaitable[str | None]]
# Called with the token the backend refused; True when a new one is available (then the
# request is retried once).
UnauthenticatedHook = Callable[[str | None], Awaitable[bool]]


async def _no_token() -> str | None:
    return None


@dataclass
class BackendConfig:
    api_url: str
    agent_url: str
    identity: ClientIdentity = field(default_factory=ClientIdentity)
    token: TokenProvider = _no_token
    on_unauthenticated: UnauthenticatedHook | None = None
    heartbeat_interval: float = 5.0
    idle_timeout: float = 120.0
    model_cache_ttl: float = 300.0
    workspace: Workspace = field(default_factory=default_workspace)
    model_map: ModelMap = field(default_factory=ModelMap)
    # After the first tool call of a response, how long to wait for parallel calls.
    tool_settle: float = 0.1
    # Parked Runs: closed after this idle time, oldest closed first beyond the cap.
    session_idle_timeout: float = 900.0
    max_parked_sessions: int = 256
    # Runs built-in execs when the request carries no tools (None: refuse them).
    executor: Executor | None = None
    # KV blobs and checkpoints (None: in memory, for this process only).
    state: StateStore | None = None
    # Several accounts: each turn's token comes from the account the pool chooses.
    accounts: AccountPool | None = None
    # Names this process in tool-call ids (see SessionRegistry.new_call_id).
    instance_id: str = ""
    # Summarise a conversation before a turn that would fill this share of its window.
    summarize_threshold: float = compaction.DEFAULT_THRESHOLD
    # Records every Run's frames (`--record`); None: no trace.
    recorder: WireRecorder | None = None
    # MCP servers the bridge runs tools of itself (None: none).
    hosted: HostedTools | None = None


@dataclass(slots=True)
class _Segment:
    """One response being read: its Session and reader, what it is filed under (the
    history's fingerprint, the model, the account), the TurnStarted that leads its first
    batch, and how it ended once read."""

    session: Session
    reader: SegmentReader
    toolset: Toolset
    origin: str
    model_key: str
    account: str
    lead: list[OutputEvent]
    outcome: SegmentOutcome | None = None


class CursorBackend:
    """Runs chat turns against one backend over a shared connection pool."""

    def __init__(self, config: BackendConfig, pool: BackendPool | None = None) -> None:
        self.config = config
        self.pool = pool or BackendPool()
        self.catalog = ModelCatalog(
            self._unary, ttl=config.model_cache_ttl, model_map=config.model_map
        )
        self.sessions = SessionRegistry(
            idle_timeout=config.session_idle_timeout,
            max_parked=config.max_parked_sessions,
            owner=config.instance_id,
        )
        self.tool_rounds: Counter[str] = Counter()
        self.checkpoints = Checkpoints(config.state or MemoryStateStore())
        self.checkpoint_resumes = self.checkpoints.resumes
        self.surprises = SurpriseCounter()
        self.runs = RunStarter(self.pool, config, self.checkpoints, self.surprises)
        self.compactions = self.runs.compactions  # summarized / failed

    @property
    def runs_opened(self) -> int:
        return self.runs.opened

    @property
    def state(self) -> StateStore:
        """KV blobs and checkpoints (the checkpoints' store)."""
        return self.checkpoints.state

    async def aclose(self) -> None:
        await self.sessions.aclose()
        await self.checkpoints.aclose()
        await self.pool.aclose()
        self.state.close()  # commits queued writes of a file-backed store

    async def resolve(self, request: ChatRequest) -> ModelChoice:
        return await self.catalog.resolve(request.model, request.reasoning_effort)

    async def stream_turn(
        self,
        request: ChatRequest,
        choice: ModelChoice,
        *,
        translate: Callable[[ConnectError], Exception] | None = None,
    ) -> AsyncIterator[list[OutputEvent]]:
        """Yield the response's output in batches (one per upstream read); the last batch
        ends with TurnFinished. Raises ConnectError on failure, or what *translate* makes
        of it (the service's error boundary, without a generator of its own per batch).

        A turn refused as `unauthenticated` before any output is retried once when
        `on_unauthenticated` provides a new token (the retry finds no parked Run, so it starts
        a fresh one from the full history). With an account pool, a turn refused for a rate
        or usage limit before any output cools that account down and moves to another.
        A turn without format or tool_choice demands reads its Run right here (see
        `_run_turn`): every batch of every turn passes one generator fewer.
        """
        try:
            note = access.current()
            restriction = note.restriction if note is not None else None
            if restriction is not None and not restriction.allows_model(
                request.model, choice.model_id
            ):
                raise NotAllowed(f"this API key may not use the model '{request.model}'")
            messages = request.messages
            # The history's `chain`, once per request (off the event loop when long).
            if len(messages) < OFF_LOOP_MESSAGES:
                prints = chain(messages)
            else:
                prints = await asyncio.to_thread(chain, messages)
            pool = self.config.accounts
            binding = "bind:" + bind_print(request.messages, prints) if pool is not None else None
            # The in-process pool state answers at once: no coroutine per pool call.
            local = pool is not None and pool.local
            member = None
            if pool is not None:
                member = (
                    pool.choose_now(binding, restriction)
                    if local
                    else await pool.choose(binding, restriction)
                )
            tried: list[str] = []
            token = await (member.token() if member is not None else self.config.token())
            retried = False
            direct = not needs_enforcement(request)
            while True:
                produced = False
                serving = member
                lease = ""
                if pool is not None and serving is not None:
                    lease = pool.begin_now(serving) if local else await pool.begin(serving)
                    if note is not None:
                        note.account = serving.label
                try:
                    account_id = serving.account_id if serving is not None else ""
                    if direct:
                        segment = await self._segment(
                            request, prints, choice, token, prints[-1], account_id
                        )
                        try:
                            async for batch in segment.reader.read():
                                if segment.lead:
                                    batch, segment.lead = [*segment.lead, *batch], []
                                produced = True
                                last = batch[-1]
                                if isinstance(last, TurnFinished):
                                    self._account_usage(serving, last, note)
                                yield batch
                            final = self._segment_read(segment)
                            if final:
                                produced = True
                                last = final[-1]
                                if isinstance(last, TurnFinished):
                                    self._account_usage(serving, last, note)
                                yield final
                        finally:
                            await self._segment_closed(segment)
                        return
                    async with contextlib.aclosing(
                        self._turn(request, prints, choice, token, account_id)
                    ) as batches:
                        async for batch in batches:
                            produced = True
                            last = batch[-1]
                            if isinstance(last, TurnFinished):
                                self._account_usage(serving, last, note)
                            yield batch
                    return
                except ConnectError as exc:
                    if compaction.is_too_long(exc) and not isinstance(exc, ContextTooLong):
                        raise ContextTooLong(0, context_window(choice), exc.message) from exc
                    if produced:
                        raise
                    if pool is not None and serving is not None and is_limit(exc):
                        until = await pool.limited(serving, exc)
                        log.warning(
                            "account %s hit a limit (%s); cooling down for %.0f s",
                            serving.label,
                            exc.code,
                            until - pool.clock(),
                        )
                        tried.append(serving.account_id)
                        if note is not None:
                            note.account = ""  # no account serves this turn, unless one is left
                        member = await pool.choose(binding, restriction, exclude=tried)
                        if member is None:  # every login went away meanwhile
                            raise
                        token = await member.token()
                        continue
                    if retried or not await self._reauthenticate(exc.code, token, serving):
                        raise
                finally:
                    if pool is not None and serving is not None:
                        if lease:
                            await pool.end(serving, lease)
                        else:
                            pool.end_now(serving)  # no lease to give back: nothing to await
                retried = True
                token = await (member.token() if member is not None else self.config.token())
        except ConnectError as exc:
            if translate is None:
                raise
            raise translate(exc) from exc

    def _account_usage(
        self, member: PoolMember | None, finished: TurnFinished, note: access.AccessRecord | None
    ) -> None:
        usage = finished.usage
        if member is not None and self.config.accounts is not None:
            self.config.accounts.succeeded(member, usage.input_tokens, usage.output_tokens)
        if note is not None:
            note.add_usage(usage.input_tokens, usage.output_tokens)

    async def _reauthenticate(
        self, code: str, token: str | None, member: PoolMember | None = None
    ) -> bool:
        hook = member.on_unauthenticated if member is not None else self.config.on_unauthenticated
        return code == "unauthenticated" and hook is not None and await hook(token)

    def _turn(
        self,
        request: ChatRequest,
        prints: list[str],
        choice: ModelChoice,
        token: str | None,
        account: str = "",
    ) -> AsyncGenerator[list[OutputEvent], None]:
        """A turn, held to the request's format and tool_choice demands when it has any."""
        if not needs_enforcement(request):
            return self._run_turn(request, prints, choice, token, account=account)
        origin = prints[-1]

        def attempt(current: ChatRequest) -> AsyncGenerator[list[OutputEvent], None]:
            # A correction adds messages after the client's own: only those are hashed.
            added = chain(current.messages[len(request.messages) :], origin)[1:]
            return self._run_turn(
                current, prints + added, choice, token, origin=origin, account=account
            )

        return enforced(request, attempt)

    async def _run_turn(
        self,
        request: ChatRequest,
        prints: list[str],
        choice: ModelChoice,
        token: str | None,
        *,
        origin: str | None = None,
        account: str = "",
    ) -> AsyncGenerator[list[OutputEvent], None]:
        """One response's worth of a turn (see stream_turn, which reads a turn without
        format or tool_choice demands the same way itself); *prints* is the history's
        `chain`.

        A follow-up carrying the results of a parked Run's tool calls continues that Run;
        anything else opens a fresh Run from the full history. A response that ends in tool
        calls parks its Run. Closing the iterator early (client went away) cancels the Run,
        and so does an output limit or stop sequence that ends the response early.
        `origin` is the fingerprint of the client's own history when the engine added
        messages of its own (a correction): the Run is parked and checkpointed under it.
        """
        segment = await self._segment(request, prints, choice, token, origin or prints[-1], account)
        try:
            async for batch in segment.reader.read():
                if segment.lead:
                    batch, segment.lead = [*segment.lead, *batch], []
                yield batch
            final = self._segment_read(segment)
            if final:
                yield final
        finally:
            await self._segment_closed(segment)

    async def _segment(
        self,
        request: ChatRequest,
        prints: list[str],
        choice: ModelChoice,
        token: str | None,
        origin: str,
        account: str,
    ) -> _Segment:
        """The Session a response reads (see `_session`) and its reader."""
        toolset = Toolset.build(request.tools, request.tool_choice)
        hosted = self._hosted_catalog(request, toolset)
        model_key = _model_key(choice.model_id, choice.max_mode, choice.parameters)
        given = RunInput(request, prints, choice, toolset, token, hosted, account)
        session, base_tokens = await self._session(given, model_key)
        input_tokens = _input_figure(request, base_tokens)
        reader = SegmentReader(
            session,
            toolset,
            functools.partial(self.sessions.new_call_id, session.tag),
            parallel=request.parallel_tool_calls,
            settle=self.config.tool_settle,
            executor=self.config.executor,
            control=OutputControl(request.max_tokens, request.stop),
            input_tokens=input_tokens,
            hosted=hosted,
            show_hosted=request.hosted_tools == "show",
        )
        lead: list[OutputEvent] = [TurnStarted(input_tokens)]
        return _Segment(session, reader, toolset, origin, model_key, account, lead)

    def _segment_read(self, segment: _Segment) -> list[OutputEvent]:
        """The response's last batch once its reader is through (parking a Run whose
        response ends in tool calls)."""
        outcome = segment.outcome = segment.reader.outcome
        if outcome.ending == "tool_calls":
            self.sessions.park(segment.session, segment.origin, segment.model_key, segment.toolset)
        if segment.lead or outcome.final:
            return [*segment.lead, *outcome.final]
        return []

    async def _segment_closed(self, segment: _Segment) -> None:
        """After the response (read to its end or not): keep the Run's checkpoint, or
        cancel it; a parked Run keeps its hosted calls (their answers still go to it)."""
        outcome = segment.outcome
        if outcome is not None and outcome.ending == "tool_calls":
            return
        reader, run = segment.reader, segment.session.run
        if reader.hosted_running:
            await reader.cancel_hosted()
        if outcome is not None and outcome.ending == "turn_ended":
            note = access.current()
            if note is not None:  # the checkpoint's occupancy of the model's window
                note.context_used, note.context_max = run.context
            history = extend_answer(segment.origin, outcome.text)
            self.checkpoints.keep(run, history, segment.model_key, segment.account)
        else:
            await run.aclose()

    async def _session(self, given: RunInput, model_key: str) -> tuple[Session, int]:
        """The Session this response reads: the parked one it answers, else a fresh Run's;
        and the context occupancy a resumed checkpoint recorded (0 otherwise)."""
        request = given.request
        session, reason = self.sessions.claim(
            request.messages, given.prints, model_key, given.toolset
        )
        if session is not None:
            session.run.merge_deltas = merges_deltas(request)
            answers = answers_for(session.pending, request.messages, self.config.workspace.path)
            if await self.sessions.resume(session, answers):
                self.tool_rounds["continued"] += 1
                access.note_run("continued")
                return session, 0
            reason = "mismatch_run_failed"
        if reason != "not_a_tool_round":
            self.tool_rounds["fallback"] += 1
        run, base_tokens = await self.runs.start(given)
        return Session(run), base_tokens

    def _hosted_catalog(self, request: ChatRequest, toolset: Toolset) -> HostedCatalog | None:
        """Hosted tools for this request: not when it opts out or constrains tool_choice."""
        if self.config.hosted is None or request.hosted_tools == "off":
            return None
        if request.tool_choice != "auto":
            return None
        return self.config.hosted.catalog(toolset.definitions())

    async def _unary(
        self, path: str, body: bytes, json_codec: bool
    ) -> tuple[int, bytes, list[tuple[str, str]]]:
        """One unary call; an HTTP 401 is retried once when `on_unauthenticated` provides a
        new token."""
        token = await self.config.token()
        answer = await self._unary_once(path, body, json_codec, token)
        if answer.status == 401 and await self._reauthenticate("unauthenticated", token):
            token = await self.config.token()
            answer = await self._unary_once(path, body, json_codec, token)
        return answer.status, answer.body, answer.headers

    async def _unary_once(
        self, path: str, body: bytes, json_codec: bool, token: str | None
    ) -> UnaryResponse:
        headers = unary_headers(
            token, self.config.identity, now_ms=_now_ms(), json_codec=json_codec
        )
        try:
            response = await self.pool.unary(self.config.api_url + path, headers, body)
        except ConnectFailed as exc:
            raise ConnectError("unavailable", f"cannot reach the backend: {exc}") from exc
        except TransportError as exc:
            raise ConnectError("unavailable", f"connection to the backend lost: {exc}") from exc
        return response


@functools.lru_cache(maxsize=256, typed=True)
def _model_key(model_id: str, max_mode: bool, parameters: tuple[tuple[str, str], ...]) -> str:
    """What parked Runs and checkpoints are filed under for a model choice: the repr of
    these three (remembered: the same few choices serve every request)."""
    return repr((model_id, max_mode, parameters))


def _input_figure(request: ChatRequest, base_tokens: int) -> int:
    """Input tokens known before any output: the resumed checkpoint's occupancy plus an
    estimate of the new user message, else an estimate of the whole request."""
    if base_tokens:
        return base_tokens + rough_input_tokens(
            dataclasses.replace(request, messages=request.messages[-1:], tools=())
        )
    return rough_input_tokens(request)


def _now_ms() -> int:
    return int(time.time() * 1000)
