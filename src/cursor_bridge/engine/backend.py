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
import secrets
import time
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from .. import access
from ..auth.pool import AccountPool, NotAllowed, PoolMember, is_limit
from ..protocol.errors import ConnectError
from ..protocol.headers import RUN_PATH, ClientIdentity, run_headers, unary_headers
from ..protocol.messages import agent
from ..protocol.run import RunMachine
from ..store import MemoryStateStore, StateStore
from ..transport import BackendPool, ConnectFailed, TransportError, UnaryResponse
from ..wiretrace import WireRecorder
from . import compaction
from .catalog import ModelCatalog, ModelChoice
from .compaction import ContextTooLong
from .context import Workspace, default_workspace
from .enforce import enforced, needs_enforcement
from .fingerprint import EMPTY, chain, extend
from .hosted import HostedCatalog, HostedTools
from .live_run import LiveRun
from .model_map import ModelMap
from .output import OutputEvent, TurnFinished, TurnStarted
from .output_control import OutputControl
from .planner import PlannedRun, plan_run
from .request import ChatMessage, ChatRequest
from .sessions import ParkedSession, PendingCall, SessionRegistry
from .surprise_counter import SurpriseCounter
from .token_estimate import rough_input_tokens
from .toolset import Toolset
from .turn import Executor, SegmentReader, mcp_answer
from .turn_state import TurnBlobs, save_turn
from .upstream import UpstreamRun

log = logging.getLogger(__name__)
# Requests with at least this many messages are hashed and seeded in a worker thread.
OFF_LOOP_MESSAGES = 500

TokenProvider = Callable[[], Awaitable[str | None]]
# A stored checkpoint larger than this is not resumed: the conversation is reseeded under a
# new conversation_id instead. P's budget: "drop and rebuild a checkpoint > 48 MiB", under the
# 64 MiB frame limit (current-client.md §8).
MAX_RESUMABLE_CHECKPOINT = 48 * 1024 * 1024
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


class CursorBackend:
    """Runs chat turns against one backend over a shared connection pool."""

    def __init__(self, config: BackendConfig, pool: BackendPool | None = None) -> None:
        self.config = config
        self.pool = pool or BackendPool()
        self.catalog = ModelCatalog(
            self._unary, ttl=config.model_cache_ttl, model_map=config.model_map
        )
        self.runs_opened = 0
        self.sessions = SessionRegistry(
            idle_timeout=config.session_idle_timeout,
            max_parked=config.max_parked_sessions,
            owner=config.instance_id,
        )
        self.tool_rounds: Counter[str] = Counter()
        self.checkpoint_resumes: Counter[str] = Counter()
        self.compactions: Counter[str] = Counter()  # summarized / failed
        self.state: StateStore = config.state or MemoryStateStore()
        self.surprises = SurpriseCounter()
        self._background: set[asyncio.Task[None]] = set()

    async def aclose(self) -> None:
        await self.sessions.aclose()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.pool.aclose()
        self.state.close()  # commits queued writes of a file-backed store

    async def resolve(self, request: ChatRequest) -> ModelChoice:
        return await self.catalog.resolve(request.model, request.reasoning_effort)

    async def stream_turn(
        self, request: ChatRequest, choice: ModelChoice
    ) -> AsyncIterator[list[OutputEvent]]:
        """Yield the response's output in batches (one per upstream read); the last batch
        ends with TurnFinished. Raises ConnectError on failure.

        A turn refused as `unauthenticated` before any output is retried once when
        `on_unauthenticated` provides a new token (the retry finds no parked Run, so it starts
        a fresh one from the full history). With an account pool, a turn refused for a rate
        or usage limit before any output cools that account down and moves to another.
        """
        note = access.current()
        restriction = note.restriction if note is not None else None
        if restriction is not None and not restriction.allows_model(request.model, choice.model_id):
            raise NotAllowed(f"this API key may not use the model '{request.model}'")
        pool = self.config.accounts
        binding = _binding_key(request.messages) if pool is not None else None
        member = await pool.choose(binding, restriction) if pool is not None else None
        tried: list[str] = []
        token = await (member.token() if member is not None else self.config.token())
        retried = False
        while True:
            produced = False
            serving = member
            lease = ""
            if pool is not None and serving is not None:
                lease = await pool.begin(serving)
                if note is not None:
                    note.account = serving.label
            try:
                account_id = serving.account_id if serving is not None else ""
                async with contextlib.aclosing(
                    self._turn(request, choice, token, account_id)
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
                    raise ContextTooLong(0, _window(choice), exc.message) from exc
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
                    await pool.end(serving, lease)
            retried = True
            token = await (member.token() if member is not None else self.config.token())

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
        self, request: ChatRequest, choice: ModelChoice, token: str | None, account: str = ""
    ) -> AsyncGenerator[list[OutputEvent], None]:
        """A turn, held to the request's format and tool_choice demands when it has any."""
        if not needs_enforcement(request):
            return self._run_turn(request, choice, token, account=account)
        origin = chain(request.messages)[-1]

        def attempt(current: ChatRequest) -> AsyncGenerator[list[OutputEvent], None]:
            return self._run_turn(current, choice, token, origin=origin, account=account)

        return enforced(request, attempt)

    async def _run_turn(
        self,
        request: ChatRequest,
        choice: ModelChoice,
        token: str | None,
        *,
        origin: str | None = None,
        account: str = "",
    ) -> AsyncGenerator[list[OutputEvent], None]:
        """One response's worth of a turn (see stream_turn).

        A follow-up carrying the results of a parked Run's tool calls continues that Run;
        anything else opens a fresh Run from the full history. A response that ends in tool
        calls parks its Run. Closing the iterator early (client went away) cancels the Run,
        and so does an output limit or stop sequence that ends the response early.
        `origin` is the fingerprint of the client's own history when the engine added
        messages of its own (a correction): the Run is parked and checkpointed under it.
        """
        if len(request.messages) >= OFF_LOOP_MESSAGES:
            await asyncio.to_thread(chain, request.messages)  # hashed once, off the loop
        toolset = Toolset.build(request.tools, request.tool_choice)
        hosted = self._hosted_catalog(request, toolset)
        origin = origin or chain(request.messages)[-1]
        model_key = repr((choice.model_id, choice.max_mode, choice.parameters))
        session, outcome = self.sessions.claim(request.messages, model_key, toolset)
        run: LiveRun | None = None
        base_tokens = 0
        queued: list[PendingCall] = []
        reported = 0
        tag = secrets.token_hex(4)
        if session is not None:
            session.run.upstream.machine.merge_deltas = not _limits_output(request)
            if await self._deliver(session, request):
                self.tool_rounds["continued"] += 1
                access.note_run("continued")
                run, queued, reported, tag = (
                    session.run,
                    session.queued,
                    session.reported_output,
                    session.tag,
                )
            else:
                outcome = "mismatch_run_failed"
                self.sessions.outcomes[outcome] += 1
        if run is None:
            if outcome != "not_a_tool_round":
                self.tool_rounds["fallback"] += 1
            run, base_tokens = await self._fresh_run(
                request, choice, toolset, token, hosted, account=account
            )
        input_tokens = _input_figure(request, base_tokens)
        reader = SegmentReader(
            run,
            toolset,
            lambda: self.sessions.new_call_id(tag),
            parallel=request.parallel_tool_calls,
            settle=self.config.tool_settle,
            executor=self.config.executor,
            reported_output=reported,
            control=OutputControl(request.max_tokens, request.stop),
            input_tokens=input_tokens,
            hosted=hosted,
            show_hosted=request.hosted_tools == "show",
        )
        parked = False
        lead: list[OutputEvent] = [TurnStarted(input_tokens)]
        try:
            async for batch in reader.read(queued):
                if lead:
                    batch, lead = [*lead, *batch], []
                if reader.result.emitted and not reader.result.turn_ended:
                    last = batch[-1]
                    if isinstance(last, TurnFinished) and last.reason == "tool_calls":
                        # Park before the client can answer, so its follow-up finds the Run.
                        run.detach()
                        self.sessions.park(
                            ParkedSession(
                                run,
                                origin,
                                model_key,
                                toolset,
                                reader.result.emitted,
                                reader.result.queued,
                                reported + reader.result.output_tokens,
                                tag=tag,
                            )
                        )
                        parked = True
                yield batch
        finally:
            # A parked Run keeps its hosted calls (their answers still go to it).
            if not parked:
                await reader.cancel_hosted()
                if reader.result.turn_ended:
                    note = access.current()
                    if note is not None:  # the checkpoint's occupancy of the model's window
                        note.context_used = run.upstream.machine.used_tokens
                        note.context_max = run.upstream.machine.max_tokens
                    answer = ChatMessage("assistant", "".join(reader.result.text))
                    key = extend(origin, answer)
                    self._finish_later(run, key, model_key, account)
                else:
                    await run.aclose()

    async def _deliver(self, session: ParkedSession, request: ChatRequest) -> bool:
        """Hand the follow-up's results to the parked Run; False if the Run failed meanwhile
        (then nothing reached the client yet and a fresh Run takes over)."""
        answers = _answers(session.pending, request, self.config.workspace.path)
        try:
            await session.run.send_results(answers)
            if not session.queued:
                await session.run.wait_started()
        except ConnectError as exc:
            log.info("parked Run failed before continuing (%s); starting a fresh one", exc.code)
            await session.run.aclose()
            return False
        return True

    def _hosted_catalog(self, request: ChatRequest, toolset: Toolset) -> HostedCatalog | None:
        """Hosted tools for this request: not when it opts out or constrains tool_choice."""
        if self.config.hosted is None or request.hosted_tools == "off":
            return None
        if request.tool_choice != "auto":
            return None
        return self.config.hosted.catalog(toolset.definitions())

    async def _fresh_run(
        self,
        request: ChatRequest,
        choice: ModelChoice,
        toolset: Toolset,
        token: str | None,
        hosted: HostedCatalog | None = None,
        *,
        account: str = "",
    ) -> tuple[LiveRun, int]:
        """A new Run: from the checkpoint of the turn this request follows when we have it
        (the backend then reads the history from its own blobs), else seeded from history.
        Also the context occupancy the resumed checkpoint recorded (0 when seeded)."""
        stored = parent = None
        if _follows_an_answer(request.messages):
            parent = _checkpoint_key(chain(request.messages)[-2])
            # From memory while the conversation is live; else SQLite, off the event loop.
            stored = self.state.peek_checkpoint(parent)
            if stored is None:
                stored = await asyncio.to_thread(self.state.load_checkpoint, parent)
        if stored is not None and len(stored.checkpoint) > MAX_RESUMABLE_CHECKPOINT:
            self.checkpoint_resumes["over_budget"] += 1
            stored = None
        if stored is not None and stored.meta.get("account", "") != account:
            # The conversation moved to another account: its state stays with the old one.
            self.checkpoint_resumes["other_account"] += 1
            stored = None
        window = _window(choice)
        if stored is not None and compaction.occupancy(stored.checkpoint).full_after(
            compaction.new_message_tokens(request), self.config.summarize_threshold
        ):
            open_run = functools.partial(self._open_run, request, choice, toolset, token)
            rebased = await compaction.summarized(open_run, request, stored, self.compactions)
            if rebased is not None:
                compaction.check_fits(rebased, window)
                access.note_run("fresh")
                return await self._open_run(rebased, choice, toolset, token, hosted=hosted), 0
            stored = None
        if stored is not None:
            conversation_id = stored.meta.get("conversation_id")
            run = await self._open_run(
                request,
                choice,
                toolset,
                token,
                checkpoint=stored.checkpoint,
                conversation_id=conversation_id,
                hosted=hosted,
                resumed_from=parent,
            )
            try:
                await run.wait_started()
            except ConnectError as exc:
                await run.aclose()
                if "blob not found" not in exc.message.lower():
                    raise
                # Our copy of the conversation's blobs is gone: seed the whole history under a
                # new conversation_id (P's fix, current-client.md §8).
                self.checkpoint_resumes["blob_missing"] += 1
            else:
                self.checkpoint_resumes["resumed"] += 1
                access.note_run("resumed")
                return run, _used_tokens(stored.checkpoint)
        compaction.check_fits(request, window)
        access.note_run("fresh")
        return await self._open_run(request, choice, toolset, token, hosted=hosted), 0

    def _finish_later(self, run: LiveRun, key: str, model_key: str, account: str = "") -> None:
        """Keep the checkpoint of a finished turn, so the conversation's next turn can start
        from it; the Run is left to close by itself in the background."""

        def save(checkpoint: bytes | None) -> None:
            if checkpoint:
                meta = {"conversation_id": run.conversation_id, "model": model_key}
                if account:
                    meta["account"] = account
                save_turn(
                    self.state, _checkpoint_key(key), checkpoint, meta, run.blobs, run.resumed_from
                )

        save(run.upstream.machine.last_checkpoint)

        async def finish() -> None:
            before = run.upstream.machine.last_checkpoint
            checkpoint = await run.finish()
            if checkpoint != before:
                save(checkpoint)

        task = asyncio.get_running_loop().create_task(finish())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _open_run(
        self,
        request: ChatRequest,
        choice: ModelChoice,
        toolset: Toolset,
        token: str | None,
        *,
        checkpoint: bytes | None = None,
        conversation_id: str | None = None,
        hosted: HostedCatalog | None = None,
        resumed_from: str | None = None,
        action: agent.ConversationAction | None = None,
    ) -> LiveRun:
        def prepare() -> tuple[PlannedRun, TurnBlobs]:
            plan = plan_run(
                request,
                choice,
                self.config.workspace,
                toolset,
                checkpoint=checkpoint,
                conversation_id=conversation_id,
            )
            # The Run's blobs stay in memory until its turn ends (engine/turn_state.py).
            blobs = TurnBlobs(self.state.blobs)
            for key, data in plan.blobs.items():
                blobs.put(key, data)
            return plan, blobs

        # Seeding a long history (serialising and storing every turn) is CPU work that
        # would stall every other request: a worker thread does it.
        if len(request.messages) >= OFF_LOOP_MESSAGES:
            plan, blobs = await asyncio.to_thread(prepare)
        else:
            plan, blobs = prepare()
        if hosted is not None:
            hosted.decorate(plan.run_request, plan.request_context)
        if action is not None:  # e.g. summarize_action instead of the user message
            plan.run_request.action.CopyFrom(action)
        conversation_id = plan.run_request.conversation_id
        machine = RunMachine(
            blobs=blobs, request_context=plan.request_context, surprises=self.surprises.watch()
        )
        machine.merge_deltas = not _limits_output(request)
        # Blobs are in the store before the run_request goes out (current-client.md §2.1).
        headers = run_headers(token, self.config.identity, now_ms=_now_ms())
        url = self.config.agent_url + RUN_PATH
        try:
            stream = await self.pool.open_stream(url, headers)
        except ConnectFailed as exc:
            raise ConnectError("unavailable", f"cannot reach the backend: {exc}") from exc
        except TransportError as exc:
            raise ConnectError("unavailable", f"connection to the backend lost: {exc}") from exc
        self.runs_opened += 1
        upstream = UpstreamRun(
            stream,
            machine,
            plan.run_request,
            heartbeat_interval=self.config.heartbeat_interval,
            idle_timeout=self.config.idle_timeout,
            tap=self.config.recorder.run_tap(url) if self.config.recorder else None,
            raw_state=plan.raw_state,
        )
        return LiveRun(upstream, conversation_id, blobs=blobs, resumed_from=resumed_from)

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


def _answers(
    pending: list[PendingCall], request: ChatRequest, workspace: str
) -> list[list[agent.ExecClientMessage]]:
    """The exec answers for a follow-up's tool messages (matched by call id)."""
    results = {m.tool_call_id: m for m in request.messages if m.role == "tool"}
    answers = []
    for call in pending:
        if call.aborted:
            continue
        message = results[call.call_id]
        images = tuple((image.mime_type, image.data) for image in message.images)
        answers.append(mcp_answer(call, message.text, message.is_error, images, workspace))
    return answers


def _window(choice: ModelChoice) -> int:
    """The context window of the chosen variant (the long one in max mode)."""
    model = choice.model
    return (
        (model.max_context_window or model.context_window)
        if choice.max_mode
        else (model.context_window)
    )


def _binding_key(messages: tuple[ChatMessage, ...]) -> str:
    """What binds a conversation to its account: the history up to its first user message
    (every later request of the conversation starts with it)."""
    fingerprint = EMPTY
    for message in messages:
        fingerprint = extend(fingerprint, message)
        if message.role == "user":
            break
    return "bind:" + fingerprint


def _input_figure(request: ChatRequest, base_tokens: int) -> int:
    """Input tokens known before any output: the resumed checkpoint's occupancy plus an
    estimate of the new user message, else an estimate of the whole request."""
    if base_tokens:
        return base_tokens + rough_input_tokens(
            dataclasses.replace(request, messages=request.messages[-1:], tools=())
        )
    return rough_input_tokens(request)


def _used_tokens(checkpoint: bytes) -> int:
    """The context occupancy a checkpoint records (its token_details), 0 if unreadable."""
    return compaction.occupancy(checkpoint).used


def _checkpoint_key(fingerprint: str) -> str:
    """Checkpoints are filed under the fingerprint of the history they end."""
    return "fp:" + fingerprint


def _limits_output(request: ChatRequest) -> bool:
    """Whether the response is cut at a token budget or a stop sequence (its reader then
    needs each text delta apart, followed by its count)."""
    return request.max_tokens is not None or any(request.stop)


def _follows_an_answer(messages: tuple[ChatMessage, ...]) -> bool:
    """Whether a checkpoint can exist for the history before the last message: checkpoints
    are filed after an assistant answer, and the request adds a user message to it."""
    return len(messages) >= 2 and messages[-1].role == "user" and messages[-2].role == "assistant"


def _now_ms() -> int:
    return int(time.time() * 1000)
