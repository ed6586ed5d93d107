"""One scripted agent turn on a Run, in the order the service sends it (run-stream.md 4.1/4.2).

1. resolve the model (unknown: `invalid_argument: model not found`);
2. fetch the blobs the conversation_state names (get_blob; strict: inline bytes in `turns`
   end the Run with `Blob not found: <bytes>` and an empty answer blanks that history;
   lenient: an empty answer is `internal: Blob not found`);
3. the RequestContext: strict, the one the action carries, asked for (exec
   request_context_args) only when it carries none; lenient, always asked for. Its
   `cloud_rule` is the system prompt, its `tools` the client's tools;
4. per tool group (see script.py): step_started, tool_call_started + exec per call (display
   records for MCP calls and the built-ins our schema has records for; `/trace` adds
   span_context), step_completed (the model's output for the step is over: the group is
   complete), wait for every result (heartbeats meanwhile), tool_call_completed per call.
   (inferred) That a tool step completes before its results come back is our reading of
   the step boundary (run-stream.md 4.1/4.2 do not order them); clients use it to know a
   group is whole;
5. `/query` interaction queries, one at a time, each waiting for a typed decision;
6. the answer step: step_started, thinking_delta* + thinking_completed, text_delta* (one word
   each, each followed by token_delta{1}), step_completed; a scripted fault fires here;
7. set_blob for the new blobs, each acknowledged before the next: content that came as
   content-as-id, the root system prompt of a fresh conversation, (strict) the turn as root
   prompt messages, the UserMessage, the steps (thinking, MCP tool calls, assistant text),
   the ConversationTurnStructure;
8. conversation_checkpoint_update (root ids + turn ids + token_details), turn_ended with usage.

Usage is deterministic: a model call reads ceil(chars/4) tokens of context (the rule, the
history, the user text, and for later calls the earlier calls' tool arguments and results);
`input_tokens` sums the calls, `cache_read` counts history from blobs this emulator stored plus
each later call's prefix, `output_tokens` = Σ token_delta (thinking included),
`reasoning_tokens` = thinking chunks.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ..protocol.blobs import blob_id
from ..protocol.messages import agent
from .catalog import CatalogModel
from .exec_call import ExecCall
from .faults import fire_fault
from .history import (
    Conversation,
    HistoryEntry,
    load_conversation,
    remaining_calls,
    resume_from_root,
    serialize,
    system_prompt_blob,
    turn_blobs,
    turn_root_blobs,
)
from .model_text import chunks, recall_text, tokens_of
from .obey import disobeys, formatted_answer, obeying
from .run import RunError, RunSession
from .script import Fault, Recall, Reply, Script, Tokens, parse_script
from .summarize import summarize
from .tools import (
    PlannedCall,
    builtin_display,
    describe_result,
    mcp_descriptors,
    mcp_result,
    plan_calls,
)
from .usage import TurnUsage
from .words import WordSender, text_delta, thinking_delta, traced_text_delta

_TODO_STATUS = {
    "pending": agent.TODO_STATUS_PENDING,
    "in_progress": agent.TODO_STATUS_IN_PROGRESS,
    "completed": agent.TODO_STATUS_COMPLETED,
    "cancelled": agent.TODO_STATUS_CANCELLED,
}


async def play_turn(session: RunSession, request: agent.AgentRunRequest) -> None:
    await TurnPlayer(session, request).play()


class TurnPlayer:
    """Plays one Run's turn (see the module docstring for the frame order)."""

    def __init__(self, session: RunSession, request: agent.AgentRunRequest) -> None:
        self.session = session
        self.request = request
        self.latency = session.options.token_latency
        self._step_id = 0
        self._words = WordSender(session, self.latency)
        self._trace = False
        self._spans = 0
        self._tools: list[agent.McpToolDefinition] = []
        self._descriptors: list[agent.McpDescriptor] = []
        self._obeys = False  # follows the rules' tool and format instructions (obey.py)

    async def play(self) -> None:
        model = self._model()
        action = self.request.action
        which = action.WhichOneof("action")
        fallback: agent.RequestContext | None = None
        user: agent.UserMessage | None = None
        if which == "user_message_action":
            user = action.user_message_action.user_message
            if action.user_message_action.HasField("request_context"):
                fallback = action.user_message_action.request_context
        elif which == "resume_action":
            if action.resume_action.HasField("request_context"):
                fallback = action.resume_action.request_context
        elif which == "cancel_action":
            raise RunError("canceled", "the run request cancels the run")
        elif which == "summarize_action":
            await summarize(self.session, self.request, self._window(model))
            return
        else:
            raise RunError("invalid_argument", "run_request has no action")

        state = self.request.conversation_state
        strict = self.session.options.strict
        conversation = await load_conversation(
            state, self.session.get_blobs, self.session.env.known_blobs, strict=strict
        )
        if user is None and not conversation.turns:
            raise RunError("invalid_argument", "nothing to resume")
        if strict and fallback is not None:
            # The backend asks only when the run_request lacks a context (run-stream.md
            # §2.2 / exec 10: "sent at turn start when the run_request lacked context").
            context = fallback
        else:
            context = await self.session.request_context() or fallback or agent.RequestContext()
        self._tools = list(context.tools)
        self._descriptors = mcp_descriptors(context)
        rule = context.cloud_rule

        results: list[tuple[str, str]] = []
        if user is not None:
            script = parse_script(user.text)
        elif strict:
            script, earlier = resume_from_root(conversation.root_entries, self._tools)
            results.extend(earlier)
            script = remaining_calls(script, len(earlier))
        else:
            # Resume: the model carries on with its last turn. The tool calls already answered
            # there (seeded steps) count as done: it makes the remaining calls, then answers
            # quoting every result, the earlier ones included.
            last = conversation.turns[-1]
            results.extend(last.tool_results)
            script = remaining_calls(parse_script(last.user_text), len(last.tool_results))
        said_before = [turn.user_text for turn in conversation.turns]
        self._obeys = user is not None and not disobeys(script, said_before)
        if self._obeys:
            script = obeying(script, rule, self._tools)
        planned = plan_calls(script, self._tools, self._descriptors)
        if isinstance(planned, str):
            script = Script(prompt=script.prompt, error=planned)
            planned = []
        self._trace = script.trace
        if script.compress and self.session.can_compress:
            self.session.compress_all = True

        entries = conversation.entries
        history_chars = sum(len(e.text) for e in entries)
        new_chars = len(user.text) if user is not None else 0
        usage = TurnUsage(
            context_chars=len(rule) + history_chars + new_chars,
            cached_chars=sum(len(e.text) for e in entries if e.cached),
        )
        window = self._window(model)
        if tokens_of(usage.context_chars) > window:
            raise RunError(
                "invalid_argument",
                f"Conversation too long: {tokens_of(usage.context_chars)} tokens do not fit "
                f"the {window}-token context window",
            )

        steps: list[bytes] = []
        for group in planned:
            usage.model_call()
            steps.extend(await self._tool_group(group, results, usage))
        if script.todos:
            await self._todos(script.todos)
        decided = [(word, await self.session.query(word)) for word in script.queries]
        usage.model_call()
        answer = self._answer(script, rule, entries, results)
        if decided:
            lines = [f"- query {word}: {text}" for word, text in decided]
            answer = "\n".join([answer, *lines]) if script.answer else "\n".join(lines)
        steps.extend(await self._answer_step(script.thinking, answer, script.fault, usage))

        root_ids, turn_ids = await self._store(conversation, user, steps, strict)
        checkpoint = agent.ConversationStateStructure()
        checkpoint.CopyFrom(state)
        del checkpoint.root_prompt_messages_json[:]
        checkpoint.root_prompt_messages_json.extend(root_ids)
        del checkpoint.turns[:]
        checkpoint.turns.extend(turn_ids)
        del checkpoint.pending_tool_calls[:]
        checkpoint.token_details.used_tokens = tokens_of(usage.context_chars) + usage.last_output
        checkpoint.token_details.max_tokens = window
        await self.session.send(agent.AgentServerMessage(conversation_checkpoint_update=checkpoint))

        self.session.turn_ended = True
        ended = agent.TurnEndedUpdate(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read=usage.cache_read,
            reasoning_tokens=usage.reasoning_tokens,
        )
        await self.session.send_update(agent.InteractionUpdate(turn_ended=ended))

    def _window(self, model: CatalogModel) -> int:
        """The Run's context window: the emulator's configured one, else the model's."""
        configured = self.session.options.context_window
        if configured is not None:
            return configured
        request = self.request
        return model.context_for(
            request.requested_model if request.HasField("requested_model") else None
        )

    # -- model and script ---------------------------------------------------------------

    def _model(self) -> CatalogModel:
        request = self.request
        name = ""
        if request.HasField("requested_model"):
            name = request.requested_model.model_id
        if not name:
            name = request.model_details.model_id
        model = self.session.env.catalog.resolve(name or "default")
        if model is None:
            raise RunError("invalid_argument", "model not found")
        return model

    def _answer(
        self,
        script: Script,
        rule: str,
        entries: list[HistoryEntry],
        results: list[tuple[str, str]],
    ) -> str:
        if script.error:
            return f"Script error: {script.error}"
        if self._obeys and not script.answer and not results:
            plain = f"Emulated answer to: {script.prompt}" if script.prompt else "Emulated answer."
            formatted = formatted_answer(rule, plain)
            if formatted is not None:
                return formatted
        parts: list[str] = []
        for part in script.answer:
            if isinstance(part, Reply):
                parts.append(part.text)
            elif isinstance(part, Tokens):
                parts.append(part.text())
            elif isinstance(part, Recall):
                parts.append(recall_text(rule, entries))
        if parts:
            return "\n".join(parts)
        if results:
            return "\n".join(["Tool results:", *(f"- {label}: {text}" for label, text in results)])
        return f"Emulated answer to: {script.prompt}" if script.prompt else "Emulated answer."

    # -- streaming ----------------------------------------------------------------------

    async def _send_update(self, **fields: Any) -> None:
        await self.session.send_update(agent.InteractionUpdate(**fields))

    async def _start_step(self) -> tuple[int, float]:
        self._step_id += 1
        await self._send_update(step_started=agent.StepStartedUpdate(step_id=self._step_id))
        return self._step_id, time.monotonic()

    async def _end_step(self, step_id: int, started: float) -> None:
        duration = int((time.monotonic() - started) * 1000)
        await self._send_update(
            step_completed=agent.StepCompletedUpdate(step_id=step_id, step_duration_ms=duration)
        )

    async def _token_delta(self, usage: TurnUsage, tokens: int) -> None:
        usage.add_output(tokens)
        await self._send_update(token_delta=agent.TokenDeltaUpdate(tokens=tokens))

    async def _answer_step(
        self, thinking: str, answer: str, fault: Fault | None, usage: TurnUsage
    ) -> list[bytes]:
        step_id, started = await self._start_step()
        steps: list[bytes] = []
        words = self._words
        if thinking:
            began = time.monotonic()
            pieces = chunks(thinking)
            await words.send(pieces, thinking_delta)
            usage.reasoning_tokens += len(pieces)
            usage.add_output(len(pieces))
            if pieces:
                await words.pause()
            duration = int((time.monotonic() - began) * 1000)
            await self._send_update(
                thinking_completed=agent.ThinkingCompletedUpdate(thinking_duration_ms=duration)
            )
            message = agent.ThinkingMessage(text=thinking, duration_ms=duration)
            steps.append(serialize(agent.ConversationStep(thinking_message=message)))
        answer_words = chunks(answer)
        encode = traced_text_delta if self._trace else text_delta
        # A scripted fault fires right after its text delta (and that word's token delta),
        # or after the last one when the answer is shorter.
        split = fault.after_deltas if fault is not None else len(answer_words)
        head, tail = answer_words[:split], answer_words[split:]
        await words.send(head, encode, raw=self._trace)
        usage.add_output(len(head))
        if fault is not None and 0 < split <= len(answer_words):
            await fire_fault(self.session, fault)
            fault = None
        if head:
            await words.pause()
        await words.send(tail, encode, raw=self._trace)
        usage.add_output(len(tail))
        if tail:
            await words.pause()
        if fault is not None:
            await fire_fault(self.session, fault)
        await self._end_step(step_id, started)
        assistant = agent.AssistantMessage(text=answer)
        steps.append(serialize(agent.ConversationStep(assistant_message=assistant)))
        return steps

    # -- tool calls ---------------------------------------------------------------------

    async def _todos(self, todos: tuple[tuple[str, str], ...]) -> None:
        """The to-do list as Cursor shows it: a display-only update_todos tool call."""
        items = [
            agent.TodoItem(id=f"todo-{n}", content=text, status=_TODO_STATUS[status])
            for n, (status, text) in enumerate(todos, 1)
        ]
        call_id = f"toolu_emu_todos_{self._step_id + 1}"
        args = agent.UpdateTodosArgs(todos=items)
        started = agent.ToolCall(update_todos_tool_call=agent.UpdateTodosToolCall(args=args))
        await self._send_update(
            tool_call_started=agent.ToolCallStartedUpdate(
                call_id=call_id, tool_call=started, model_call_id=call_id
            )
        )
        result = agent.UpdateTodosResult(
            success=agent.UpdateTodosSuccess(todos=items, total_count=len(items))
        )
        done = agent.ToolCall(
            update_todos_tool_call=agent.UpdateTodosToolCall(args=args, result=result)
        )
        await self._send_update(
            tool_call_completed=agent.ToolCallCompletedUpdate(
                call_id=call_id, tool_call=done, model_call_id=call_id
            )
        )

    async def _tool_group(
        self, group: list[PlannedCall], results: list[tuple[str, str]], usage: TurnUsage
    ) -> list[bytes]:
        """Send one group of parallel calls, wait for all results; the MCP steps' blobs."""
        step_id, started = await self._start_step()
        calls: list[ExecCall] = []
        for planned in group:
            if planned.kind == "mcp_args":
                assert isinstance(planned.args, agent.McpArgs)
                tool_call = agent.ToolCall(mcp_tool_call=agent.McpToolCall(args=planned.args))
                started_update = agent.ToolCallStartedUpdate(
                    call_id=planned.call_id, tool_call=tool_call, model_call_id=planned.call_id
                )
                await self._send_update(tool_call_started=started_update)
            else:
                display = builtin_display(planned.kind, planned.args)
                if display is not None:
                    started_update = agent.ToolCallStartedUpdate(
                        call_id=planned.call_id, tool_call=display, model_call_id=planned.call_id
                    )
                    await self._send_update(tool_call_started=started_update)
            arg_chars = len(json.dumps(planned.spec.args))
            await self._token_delta(usage, max(1, tokens_of(arg_chars)))
            usage.context_chars += arg_chars
            calls.append(
                await self.session.start_exec(planned.kind, planned.args, span=self._span())
            )
        # The model's output for this step is complete: every call of the group is out.
        await self._end_step(step_id, started)
        steps = []
        for planned, call in zip(group, calls, strict=True):
            await self.session.wait_exec(call)
            text = describe_result(call)
            results.append((planned.label, text))
            usage.context_chars += len(text)
            if planned.kind != "mcp_args":
                display = builtin_display(planned.kind, planned.args, call)
                if display is not None:
                    completed = agent.ToolCallCompletedUpdate(
                        call_id=planned.call_id, tool_call=display, model_call_id=planned.call_id
                    )
                    await self._send_update(tool_call_completed=completed)
                continue
            assert isinstance(planned.args, agent.McpArgs)
            mcp_call = agent.McpToolCall(args=planned.args, result=mcp_result(call))
            tool_call = agent.ToolCall(mcp_tool_call=mcp_call)
            completed = agent.ToolCallCompletedUpdate(
                call_id=planned.call_id, tool_call=tool_call, model_call_id=planned.call_id
            )
            await self._send_update(tool_call_completed=completed)
            steps.append(serialize(agent.ConversationStep(tool_call=tool_call)))
        return steps

    def _span(self) -> bytes | None:
        """`span_context` (19) for /trace turns, alternating its two shapes (§9)."""
        if not self._trace:
            return None
        self._spans += 1
        if self._spans % 2:
            span = agent.SpanContext(trace_id="0af7651916cd43dd8448eb211c80319c", span_id="b7ad")
            return span.SerializeToString()
        return b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    # -- blobs and checkpoint -------------------------------------------------------------

    async def _store(
        self,
        conversation: Conversation,
        user: agent.UserMessage | None,
        steps: list[bytes],
        strict: bool,
    ) -> tuple[list[bytes], list[bytes]]:
        """Store the turn's blobs (each acknowledged); the checkpoint's root and turn ids.

        Strict: the turn is also appended to the root list (as chat message blobs in the
        seed's shape), since that list is what the next Run's prompt is built from.
        """
        blobs: list[tuple[bytes, bytes]] = list(conversation.restore)
        root_ids = list(conversation.root_ids)
        if not root_ids:
            key, data = system_prompt_blob()
            blobs.append((key, data))
            root_ids.append(key)
        if strict:
            for data in turn_root_blobs(user.text if user is not None else None, steps):
                blobs.append((blob_id(data), data))
                root_ids.append(blob_id(data))
        turn_ids = [turn.turn_id for turn in conversation.turns]
        if user is not None:
            user_data = serialize(user)
            user_id = blob_id(user_data)
            blobs.append((user_id, user_data))
            turn_id, new = turn_blobs(user_id, steps)
            turn_ids.append(turn_id)
        else:
            last = conversation.turns[-1]
            turn_id, new = turn_blobs(last.user_message_id, steps, last.step_ids)
            turn_ids[-1] = turn_id
        blobs.extend(new)
        seen: set[bytes] = set()
        for key, data in blobs:
            if key not in seen:
                seen.add(key)
                await self.session.store_blob(key, data)
        return root_ids, turn_ids
