"""Reading one segment of a Run for one client response.

A segment ends when the turn ends (text answer) or when the model has asked for client tool
calls and is waiting for them. The reader works on the Run's Session (engine/sessions.py):
it hands out the calls the session held back, leaves the calls the client must answer in it,
and adds the segment's output to what the session reported. How the segment ended is its
outcome, a value the caller reads once the batches are through.

Exec requests are sorted here: the client's MCP tools become ToolCall events; built-in kinds
are mapped onto the client's tools, run by the built-in executor, or refused; calls the
request's tool_choice forbids are refused so the model can carry on. Nothing is executed on
the user's behalf without the client or the executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from ..protocol import events as ev
from ..protocol.errors import ConnectError, LocalProtocolError
from ..protocol.messages import agent
from . import adapters
from .hosted import HostedCatalog
from .output import HostedCall, KeepAlive, OutputEvent, ToolCall, TurnFinished, Usage
from .output_control import OutputControl
from .request import ChatMessage, ChatRequest
from .sessions import PendingCall, Session
from .toolset import Toolset

log = logging.getLogger(__name__)

Executor = Callable[[ev.ExecRequested], Awaitable[list[agent.ExecClientMessage]]]


# Events of a Run the reader passes over (see `SegmentReader.read`).
_BOOKKEEPING = frozenset({ev.BlobStored, ev.BlobServed, ev.Checkpoint, ev.StreamClosed})

# How a segment ended: the turn ended (a text answer), the client has calls to answer (the
# Run waits for them), the output limit or a stop sequence cut the response, or the Run
# ended without either.
Ending = Literal["turn_ended", "tool_calls", "cut", "closed"]


@dataclass(frozen=True, slots=True)
class SegmentOutcome:
    ending: Ending
    # The response's last batch (it ends with TurnFinished; empty after "closed"): held
    # back from the batches so the caller can act on the ending before the client sees it.
    final: list[OutputEvent]
    # The answer's text as the client received it (what the turn's checkpoint is filed by).
    text: str


@dataclass(slots=True)
class _Progress:
    """What the segment has done so far."""

    emitted: list[PendingCall] = field(default_factory=list)
    queued: list[PendingCall] = field(default_factory=list)
    turn_ended: bool = False
    # The output limit or a stop sequence ended the response before the turn ended.
    cut: bool = False
    output_tokens: int = 0
    text: list[str] = field(default_factory=list)


class SegmentReader:
    def __init__(
        self,
        session: Session,
        toolset: Toolset,
        new_call_id: Callable[[], str],
        *,
        parallel: bool = True,
        settle: float = 0.1,
        executor: Executor | None = None,
        hosted: HostedCatalog | None = None,
        show_hosted: bool = False,
        control: OutputControl | None = None,
        input_tokens: int = 0,
    ) -> None:
        self.session = session
        self.run = session.run
        self.toolset = toolset
        self.new_call_id = new_call_id
        self.parallel = parallel
        self.settle = settle
        self.executor = executor
        self.reported_output = session.reported_output
        self.hosted = hosted
        self.show_hosted = show_hosted
        self.control = control or OutputControl()
        self.input_tokens = input_tokens
        self._state = _Progress()
        self._outcome: SegmentOutcome | None = None
        # Hosted calls in flight (exec id -> task) and their reports waiting to go out.
        self._hosted_calls: dict[int, asyncio.Task[None]] = {}
        self._notes: list[OutputEvent] = []
        self._progressed = False

    async def read(self) -> AsyncIterator[list[OutputEvent]]:
        """Yield output batches up to the last, which `outcome` holds once they are through.
        Raises ConnectError (then there is no outcome)."""
        result = self._state
        if self.session.queued:
            # Calls held back by parallel_tool_calls=false: hand out the next one first.
            first, *rest = self.session.queued
            result.emitted.append(first)
            result.queued.extend(rest)
            self._end("tool_calls", [self._tool_call(first, 0), self._finish_tools()])
            return
        out: list[OutputEvent] = []
        deadline: float | None = None  # the fallback: at most `settle` after the first call
        control = self.control
        # Without a limit or stop sequences the control never cuts: it need not count.
        controlled = control.active
        while True:
            if deadline is None and result.emitted:
                deadline = asyncio.get_running_loop().time() + self.settle
            within = None
            if deadline is not None:
                within = max(deadline - asyncio.get_running_loop().time(), 0.0)
            try:
                batch = await self.run.next_batch(within)
            except TimeoutError:
                break
            if batch is None:
                break
            out = []
            calls_complete = False
            for event in batch:
                # The two that come with every word first, by exact type (cheaper); then
                # the Run's own bookkeeping (KV traffic, checkpoints), which nothing below
                # reads and which cannot trip the output control.
                if type(event) is ev.TextDelta:
                    if controlled:
                        self._show(out, control.text(event.text))
                    else:
                        result.text.append(event.text)
                        out.append(event)
                elif type(event) is ev.TokenDelta:
                    result.output_tokens += event.tokens
                    if controlled:
                        control.tokens(event.tokens)
                elif type(event) in _BOOKKEEPING:
                    continue
                # Then what every turn has once or twice, ahead of the rarer kinds below
                # (the kinds are disjoint: the order only saves type checks).
                elif type(event) is ev.StepCompleted:  # see ends_parallel_calls
                    calls_complete = calls_complete or bool(result.emitted)
                elif isinstance(event, ev.TurnEnded):
                    self._show(out, control.flush())
                    result.turn_ended = True
                    out[:0] = self._take_notes()
                    out.append(TurnFinished("stop", self._final_usage(event.usage)))
                elif isinstance(event, ev.ThinkingDelta):
                    if control.thinking(event.text):
                        out.append(event)
                elif isinstance(event, ev.TodosUpdated):
                    out.append(event)
                elif isinstance(event, ev.ExecRequested):
                    self._show(out, control.flush())
                    calls = await self._on_exec(event)
                    for call in calls:
                        if isinstance(call, ToolCall):
                            control.arguments(call.arguments)
                    out.extend(calls)
                elif isinstance(event, ev.ExecAborted):
                    self._on_abort(event.exec_id)
                elif ends_parallel_calls(event):
                    calls_complete = calls_complete or bool(result.emitted)
                    if isinstance(event, ev.ServerHeartbeat):
                        # A hosted call is working: the client's stream gets a keep-alive
                        # (which also lets the server notice a client that went away).
                        self._progressed = self._progressed or bool(self._hosted_calls)
                if controlled and control.reason is not None and not result.turn_ended:
                    result.cut = True
                    out.append(self._cut(control))
                    break
            if self._notes:
                out[:0] = self._take_notes()
            elif self._progressed and not out:
                out.append(KeepAlive())
            self._progressed = False
            if result.turn_ended or result.cut:
                break
            if out:
                yield out
            if calls_complete:
                break
        if result.turn_ended:
            self._end("turn_ended", out)
        elif result.cut:
            self._end("cut", out)
        elif result.emitted:
            self._end("tool_calls", [self._finish_tools()])
        else:
            # A Run that ends without turn_ended raised ConnectError in next_batch already.
            self._end("closed", [])

    def _end(self, ending: Ending, final: list[OutputEvent]) -> None:
        """The segment is over: leave its calls and output in the session, and say how."""
        result, session = self._state, self.session
        session.pending = result.emitted
        session.queued = result.queued
        session.reported_output = self.reported_output + result.output_tokens
        self._outcome = SegmentOutcome(ending, final, "".join(result.text))

    @property
    def outcome(self) -> SegmentOutcome:
        """How the segment ended, once read() is through."""
        if self._outcome is None:
            raise RuntimeError("the segment has not been read to its end")
        return self._outcome

    # -- exec requests ----------------------------------------------------------------------

    async def _on_exec(self, event: ev.ExecRequested) -> list[OutputEvent]:
        if event.kind == "unknown":
            return []  # the RunMachine already refused it
        if self.hosted is not None and self.hosted.handles(event):
            self._start_hosted(self.hosted, event)
            return []
        if event.kind == "mcp_args":
            name = self.toolset.client_name(event.tool_name, str(event.args.get("name", "")))
            if name is None or not self.toolset.allows(name):
                await self._answer(_mcp_error(event, self.toolset.refusal_reason(event.tool_name)))
                return []
            arguments = json.dumps(event.args, separators=(",", ":"))
            return self._emit(PendingCall(self.new_call_id(), event, name, arguments))
        if self.toolset.declared:
            mapped = adapters.map_builtin(event, self.toolset.offered)
            if mapped is not None:
                arguments = json.dumps(mapped.arguments, separators=(",", ":"))
                call = PendingCall(self.new_call_id(), event, mapped.name, arguments, mapped)
                return self._emit(call)
        elif self.executor is not None:
            await self._answer(await self.executor(event))
            return []
        refusal = adapters.refuse(event, self.toolset.offered)
        await self._answer(refusal)
        return []

    def _emit(self, call: PendingCall) -> list[OutputEvent]:
        if self._state.emitted and not self.parallel:
            self._state.queued.append(call)
            return []
        self._state.emitted.append(call)
        return [self._tool_call(call, len(self._state.emitted) - 1)]

    def _start_hosted(self, hosted: HostedCatalog, event: ev.ExecRequested) -> None:
        """Run a hosted exec beside the reading: the Run keeps flowing (KV, heartbeats)."""
        label = hosted.describe(event)
        call_id = event.tool_call_id or f"exec-{event.exec_id}"
        show = self.show_hosted and event.kind == "mcp_args"
        self._notes.append(HostedCall(call_id, label, "in_progress"))
        if show:
            self._note(f"[mcp] {label}")

        async def run() -> None:
            answer = await hosted.execute(event, self._note if show else self._progress)
            ok, outcome = _outcome(answer)
            self._notes.append(HostedCall(call_id, label, "completed" if ok else "failed", outcome))
            if show:
                self._note(f"[mcp] {label} -> {outcome}")
            self._hosted_calls.pop(event.exec_id, None)
            try:
                await self._answer(answer)
            except (ConnectError, LocalProtocolError) as exc:
                log.info("hosted result for exec %d not delivered: %s", event.exec_id, exc)

        self._hosted_calls[event.exec_id] = asyncio.create_task(run(), name="hosted-exec")

    def _note(self, line: str) -> None:
        self._notes.append(ev.ThinkingDelta(line + "\n"))

    def _progress(self, _line: str) -> None:
        self._progressed = True

    def _take_notes(self) -> list[OutputEvent]:
        notes, self._notes = self._notes, []
        return notes

    @property
    def hosted_running(self) -> bool:
        """Whether hosted calls are still running (`cancel_hosted` has work to do)."""
        return bool(self._hosted_calls)

    async def cancel_hosted(self) -> None:
        """Stop hosted calls still running (the Run is going away)."""
        tasks = list(self._hosted_calls.values())
        self._hosted_calls.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _on_abort(self, exec_id: int) -> None:
        task = self._hosted_calls.pop(exec_id, None)
        if task is not None:
            task.cancel()
        for call in self._state.emitted:
            if call.event.exec_id == exec_id:
                call.aborted = True
        self._state.queued = [c for c in self._state.queued if c.event.exec_id != exec_id]

    async def _answer(self, messages: list[agent.ExecClientMessage]) -> None:
        await self.run.send_answers([messages])

    # -- output ------------------------------------------------------------------------------

    def _show(self, out: list[OutputEvent], text: str) -> None:
        if text:
            self._state.text.append(text)
            out.append(ev.TextDelta(text))

    def _cut(self, control: OutputControl) -> TurnFinished:
        """The response ends at the limit or a stop sequence; the Run's turn is cancelled."""
        usage = Usage(input_tokens=self._input_tokens(), output_tokens=control.used)
        if control.reason == "length":
            return TurnFinished("length", usage, control.stop_sequence)
        return TurnFinished("stop", usage, control.stop_sequence)

    def _input_tokens(self) -> int:
        """Context occupancy from the Run's latest checkpoint (current-client.md section 8),
        else the figure the turn started with."""
        return self.run.context[0] or self.input_tokens

    @staticmethod
    def _tool_call(call: PendingCall, index: int) -> ToolCall:
        return ToolCall(index, call.call_id, call.name, call.arguments)

    def _finish_tools(self) -> TurnFinished:
        return TurnFinished(
            "tool_calls",
            Usage(input_tokens=self._input_tokens(), output_tokens=self._state.output_tokens),
        )

    def _final_usage(self, usage: Usage) -> Usage:
        """turn_ended counts the whole Run; earlier segments already reported their output."""
        if not self.reported_output:
            return usage
        output = max(usage.output_tokens - self.reported_output, self._state.output_tokens)
        return Usage(
            input_tokens=usage.input_tokens,
            output_tokens=output,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens,
        )


def merges_deltas(request: ChatRequest) -> bool:
    """Whether a Run read for *request* may merge the text and token deltas of one read:
    not when the response is cut at a token budget or a stop sequence (the reader then
    needs each text piece apart, followed by its count)."""
    return request.max_tokens is None and not any(request.stop)


def ends_parallel_calls(event: ev.Event) -> bool:
    """Whether *event*, arriving after a tool call, means no further call will join it.

    (inferred) The model's step is over once the backend reports `step_completed` (its
    output, calls included, is complete), or once it sends a heartbeat (it has switched to
    waiting for results). The facts say heartbeats arrive while the server waits and that
    steps are bracketed by step_started/step_completed; that a tool step's step_completed
    precedes the wait for its results is our reading. If the backend orders it otherwise,
    the heartbeat or the `settle` timer still ends the wait, and a call arriving after it
    reaches the client as the next round of the same Run.
    """
    return isinstance(event, ev.StepCompleted | ev.ServerHeartbeat)


def _outcome(answer: list[agent.ExecClientMessage]) -> tuple[bool, str]:
    """Whether a hosted call succeeded, and how it ended in a few words."""
    if not answer or answer[0].WhichOneof("message") != "mcp_result":
        return True, "answered"
    result = answer[0].mcp_result
    if result.WhichOneof("result") == "success":
        text = " ".join(item.text.text for item in result.success.content if item.text.text)
        head = "error" if result.success.is_error else "ok"
        return not result.success.is_error, f"{head}: {text[:200]}" if text else head
    return False, f"failed: {result.error.error[:200]}"


def _mcp_error(event: ev.ExecRequested, reason: str) -> list[agent.ExecClientMessage]:
    message = agent.ExecClientMessage(id=event.exec_id, exec_id=event.exec_key)
    message.mcp_result.error.error = reason
    return [message]


def mcp_answer(
    call: PendingCall,
    text: str,
    is_error: bool,
    images: tuple[tuple[str, bytes], ...] = (),
    workspace: str = "",
) -> list[agent.ExecClientMessage]:
    """The exec answer for a client's tool result (MCP call, or a mapped built-in)."""
    if call.mapped is not None:
        return adapters.native_result(call.event, call.mapped, text, is_error, workspace=workspace)
    message = agent.ExecClientMessage(id=call.event.exec_id, exec_id=call.event.exec_key)
    success = message.mcp_result.success
    success.is_error = is_error
    success.content.append(agent.McpToolResultContentItem(text=agent.McpTextContent(text=text)))
    for mime_type, data in images:
        success.content.append(
            agent.McpToolResultContentItem(
                image=agent.McpImageContent(data=data, mime_type=mime_type)
            )
        )
    return [message]


def answers_for(
    pending: list[PendingCall], messages: tuple[ChatMessage, ...], workspace: str
) -> list[list[agent.ExecClientMessage]]:
    """The exec answers a follow-up's tool messages give a parked Run's calls (matched by
    call id; an aborted call gets none)."""
    results = {m.tool_call_id: m for m in messages if m.role == "tool"}
    answers = []
    for call in pending:
        if call.aborted:
            continue
        message = results[call.call_id]
        images = tuple((image.mime_type, image.data) for image in message.images)
        answers.append(mcp_answer(call, message.text, message.is_error, images, workspace))
    return answers
