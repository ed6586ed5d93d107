"""Reading one segment of a Run for one client response.

A segment ends when the turn ends (text answer) or when the model has asked for client tool
calls and is waiting for them. Exec requests are sorted here: the client's MCP tools become
ToolCall events; built-in kinds are mapped onto the client's tools, run by the built-in
executor, or refused; calls the request's tool_choice forbids are refused so the model can
carry on. Nothing is executed on the user's behalf without the client or the executor.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from ..protocol import events as ev
from ..protocol.messages import agent
from . import adapters
from .live_run import LiveRun
from .output import OutputEvent, ToolCall, TurnFinished, Usage
from .sessions import PendingCall
from .toolset import Toolset

Executor = Callable[[ev.ExecRequested], Awaitable[list[agent.ExecClientMessage]]]


@dataclass(slots=True)
class SegmentResult:
    """What the segment left behind: calls the client must answer, or a finished turn."""

    emitted: list[PendingCall] = field(default_factory=list)
    queued: list[PendingCall] = field(default_factory=list)
    turn_ended: bool = False
    output_tokens: int = 0
    text: list[str] = field(default_factory=list)


class SegmentReader:
    def __init__(
        self,
        run: LiveRun,
        toolset: Toolset,
        new_call_id: Callable[[], str],
        *,
        parallel: bool = True,
        settle: float = 0.1,
        executor: Executor | None = None,
        reported_output: int = 0,
    ) -> None:
        self.run = run
        self.toolset = toolset
        self.new_call_id = new_call_id
        self.parallel = parallel
        self.settle = settle
        self.executor = executor
        self.reported_output = reported_output
        self.result = SegmentResult()

    async def read(
        self, queued: list[PendingCall] | None = None
    ) -> AsyncIterator[list[OutputEvent]]:
        """Yield output batches; the last one ends with TurnFinished. Raises ConnectError."""
        result = self.result
        if queued:
            # Calls held back by parallel_tool_calls=false: hand out the next one first.
            first, *rest = queued
            result.emitted.append(first)
            result.queued.extend(rest)
            yield [self._tool_call(first, 0), self._finish_tools()]
            return
        deadline: float | None = None  # the fallback: at most `settle` after the first call
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
            out: list[OutputEvent] = []
            calls_complete = False
            for event in batch:
                if isinstance(event, ev.TextDelta):
                    result.text.append(event.text)
                    out.append(event)
                elif isinstance(event, ev.ThinkingDelta):
                    out.append(event)
                elif isinstance(event, ev.TokenDelta):
                    result.output_tokens += event.tokens
                elif isinstance(event, ev.ExecRequested):
                    out.extend(await self._on_exec(event))
                elif isinstance(event, ev.ExecAborted):
                    self._on_abort(event.exec_id)
                elif ends_parallel_calls(event):
                    calls_complete = calls_complete or bool(result.emitted)
                elif isinstance(event, ev.TurnEnded):
                    result.turn_ended = True
                    out.append(TurnFinished("stop", self._final_usage(event.usage)))
            if out:
                yield out
            if result.turn_ended or calls_complete:
                break
        if not result.turn_ended and result.emitted:
            yield [self._finish_tools()]
        # (A Run that ends without turn_ended raised ConnectError in next_batch already.)

    # -- exec requests ----------------------------------------------------------------------

    async def _on_exec(self, event: ev.ExecRequested) -> list[OutputEvent]:
        if event.kind == "unknown":
            return []  # the RunMachine already refused it
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
        if self.result.emitted and not self.parallel:
            self.result.queued.append(call)
            return []
        self.result.emitted.append(call)
        return [self._tool_call(call, len(self.result.emitted) - 1)]

    def _on_abort(self, exec_id: int) -> None:
        for call in self.result.emitted:
            if call.event.exec_id == exec_id:
                call.aborted = True
        self.result.queued = [c for c in self.result.queued if c.event.exec_id != exec_id]

    async def _answer(self, messages: list[agent.ExecClientMessage]) -> None:
        await self.run.send_results([messages])

    # -- output ------------------------------------------------------------------------------

    @staticmethod
    def _tool_call(call: PendingCall, index: int) -> ToolCall:
        return ToolCall(index, call.call_id, call.name, call.arguments)

    def _finish_tools(self) -> TurnFinished:
        machine = self.run.upstream.machine
        return TurnFinished(
            "tool_calls",
            Usage(input_tokens=machine.used_tokens, output_tokens=self.result.output_tokens),
        )

    def _final_usage(self, usage: Usage) -> Usage:
        """turn_ended counts the whole Run; earlier segments already reported their output."""
        if not self.reported_output:
            return usage
        output = max(usage.output_tokens - self.reported_output, self.result.output_tokens)
        return Usage(
            input_tokens=usage.input_tokens,
            output_tokens=output,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens,
        )


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
