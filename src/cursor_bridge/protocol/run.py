"""The client side of one `AgentService/Run` stream, as a sans-IO state machine.

Feed it the bytes the backend sends (`receive_data`), get typed events back, and send what
`data_to_send()` returns: the machine answers on its own everything the backend needs from
the client to make progress (KV blob reads and writes, the request context, approval
queries), so a caller only ever deals with model output and tool executions.
No sockets and no asyncio here (the h11 model): the caller owns the I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from urllib.parse import unquote

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from . import events as ev
from .blobs import BLOB_ID_SIZE, BlobStore
from .deltas import Deltas, read_delta
from .errors import GRPC_TO_CONNECT, ConnectError, LocalProtocolError, UpstreamProtocolError
from .framing import (
    DEFAULT_MAX_FRAME_SIZE,
    FLAG_END_STREAM,
    EnvelopeDecoder,
    encode_envelope,
    parse_end_stream,
)
from .messages import agent, value_bytes_to_json
from .queries import answer_query
from .surprises import SurpriseWatch
from .wire import field_bytes, len_field

# AgentServerMessage.conversation_checkpoint_update: we keep its bytes verbatim.
_CHECKPOINT_FIELD = 3
_QUERY_FIELD = agent.AgentServerMessage.DESCRIPTOR.fields_by_name["interaction_query"].number
_RUN_REQUEST_FIELD = agent.AgentClientMessage.DESCRIPTOR.fields_by_name["run_request"].number
_STATE_FIELD = agent.AgentRunRequest.DESCRIPTOR.fields_by_name["conversation_state"].number


class RunState(enum.Enum):
    IDLE = "idle"  # start() not called yet
    STREAMING = "streaming"  # run_request sent, turn in progress
    TURN_ENDED = "turn_ended"  # turn_ended seen; waiting for the server to close
    CLOSED = "closed"  # clean end of stream
    FAILED = "failed"  # error end, or ended before turn_ended


class RunMachine:
    """One Run, client side.

    Contract:
    - `start(run_request)` returns the first frame to send; call it once.
    - `receive_data(data)` accepts any chunk of the response body and returns the events it
      completes. It raises UpstreamProtocolError when the backend breaks the protocol.
    - `receive_eof(trailers)` is called when the response body ends; it returns the closing
      event (RunFailed if the turn did not end).
    - `data_to_send()` drains the replies owed to the backend; send them promptly (an
      unanswered KV or context request stalls the backend forever).
    - `heartbeat()`, `send_exec_result()`, `cancel()` queue client frames.
    """

    def __init__(
        self,
        *,
        blobs: BlobStore,
        request_context: agent.RequestContext,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        surprises: SurpriseWatch | None = None,
    ) -> None:
        self.blobs = blobs
        self.surprises = surprises
        # Text and token deltas read together become one event each; a reader that cuts
        # the output at a token budget turns this off to see them one by one, each text
        # piece before the count of it.
        self.merge_deltas = True
        self.request_context = request_context
        self.state = RunState.IDLE
        self.last_checkpoint: bytes | None = None
        self.used_tokens = 0
        self.max_tokens = 0
        self.output_token_deltas = 0
        self.pending_execs: dict[int, str] = {}
        # Set when the backend asked for a 32-byte blob we do not have (see _on_kv).
        self.missing_blob: bytes | None = None
        self._decoder = EnvelopeDecoder(max_frame_size)
        self._deltas = Deltas()  # emptied by every receive_data
        self._outgoing = bytearray()

    # -- client -> server ------------------------------------------------------------------

    def start(self, run_request: agent.AgentRunRequest, raw_state: bytes | None = None) -> bytes:
        """The run_request frame. `raw_state`: a checkpoint to send as `conversation_state`
        byte for byte (re-encoding would reorder its fields, current-client.md §8)."""
        if self.state is not RunState.IDLE:
            raise LocalProtocolError("start() called twice")
        self.state = RunState.STREAMING
        if raw_state is None:
            return _frame(agent.AgentClientMessage(run_request=run_request))
        rest = agent.AgentRunRequest()
        rest.CopyFrom(run_request)
        rest.ClearField("conversation_state")
        body = len_field(_STATE_FIELD, raw_state) + rest.SerializeToString()
        return encode_envelope(len_field(_RUN_REQUEST_FIELD, body))

    @property
    def owes_data(self) -> bool:
        """Whether `data_to_send()` has bytes for the backend (cheap to ask per chunk)."""
        return bool(self._outgoing)

    @property
    def owed_size(self) -> int:
        """How many bytes `data_to_send()` would return."""
        return len(self._outgoing)

    def data_to_send(self) -> bytes:
        out = bytes(self._outgoing)
        self._outgoing.clear()
        return out

    def heartbeat(self) -> bytes:
        """A client heartbeat frame (the backend expects one every 5 s while a Run is open)."""
        return _frame(agent.AgentClientMessage(client_heartbeat=agent.ClientHeartbeat()))

    def cancel(self) -> bytes:
        """A frame asking the backend to stop the turn (closing the stream also works)."""
        action = agent.ConversationAction(cancel_action=agent.CancelAction())
        return _frame(agent.AgentClientMessage(conversation_action=action))

    def send_exec_result(
        self, result: agent.ExecClientMessage, *more: agent.ExecClientMessage
    ) -> None:
        """Queue the answer to an ExecRequested event, then the `stream_close` the CLI sends.

        `more` carries the rest of a multi-message answer (a `shell_stream` sequence: start,
        output, exit), all with the same id.
        """
        exec_key = self.pending_execs.pop(result.id, None)
        if exec_key is None:
            raise LocalProtocolError(f"no pending exec with id {result.id}")
        for message in (result, *more):
            if message.id != result.id:
                raise LocalProtocolError("every message of one exec answer needs the same id")
            if exec_key and not message.exec_id:
                message.exec_id = exec_key
            self._queue(agent.AgentClientMessage(exec_client_message=message))
        close = agent.ExecClientControlMessage(
            stream_close=agent.ExecClientStreamClose(id=result.id)
        )
        self._queue(agent.AgentClientMessage(exec_client_control_message=close))

    # -- server -> client ------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[ev.Event]:
        if self.state in (RunState.CLOSED, RunState.FAILED):
            if data:
                raise UpstreamProtocolError("data after the end of the Run")
            return []
        out: list[ev.Event] = []
        # Text and token deltas read together are merged (one event each per read); the
        # usual small ones are skimmed from the chunk without an Envelope each.
        deltas = self._deltas
        merge = self.merge_deltas
        if merge:
            # Most chunks are nothing but such deltas (a paced word is one text and one
            # token delta): read them without going through the decoder's generator.
            skimmed = self._decoder.skim_whole(data, deltas.skim)
            if skimmed and skimmed == len(data):
                self.output_token_deltas += deltas.flush(out)
                return out
            data = data[skimmed:]
        for envelope in self._decoder.frames(data, deltas.skim if merge else None):
            payload = envelope.payload
            if not envelope.flags & FLAG_END_STREAM:
                delta = read_delta(payload)
                if delta is not None:
                    deltas.add(delta)
                    if not merge:
                        self.output_token_deltas += deltas.flush(out)
                    continue
            self.output_token_deltas += deltas.flush(out)
            if envelope.flags & FLAG_END_STREAM:
                out.append(self._end(parse_end_stream(payload).error))
            else:
                self._handle(payload, out)
            if self.missing_blob is not None and self.state is RunState.STREAMING:
                # Never answered with an empty blob (the backend reads that as an empty
                # history, current-client.md §8): the Run ends here and the caller cancels it.
                self.state = RunState.FAILED
                message = f"Blob not found: {self.missing_blob.hex()} (no longer stored here)"
                out.append(ev.RunFailed(ConnectError("internal", message)))
                break
        self.output_token_deltas += deltas.flush(out)
        return out

    def receive_eof(self, trailers: list[tuple[str, str]] | None = None) -> list[ev.Event]:
        """The response body ended. gRPC-style trailers may still carry an error."""
        if self.state in (RunState.CLOSED, RunState.FAILED):
            return []
        error = _error_from_trailers(trailers or [])
        if self._decoder.buffered:
            error = error or ConnectError("internal", "stream ended inside a frame")
        return [self._end(error)]

    # -- internals -------------------------------------------------------------------------

    def _end(self, error: ConnectError | None) -> ev.Event:
        if self.surprises is not None:
            self.surprises.ended(error, self.state is RunState.TURN_ENDED)
        if error is None and self.state is RunState.TURN_ENDED:
            self.state = RunState.CLOSED
            return ev.StreamClosed()
        self.state = RunState.FAILED
        if error is None:
            error = ConnectError("unavailable", "the backend ended the Run before the turn ended")
        return ev.RunFailed(error)

    def _queue(self, message: agent.AgentClientMessage) -> None:
        self._outgoing += _frame(message)

    def _handle(self, payload: bytes, out: list[ev.Event]) -> None:
        """Decode one server message, appending its events to `out` (the per-token path:
        no generators, one oneof lookup per level)."""
        message = agent.AgentServerMessage()
        try:
            message.ParseFromString(payload)
        except DecodeError as exc:
            raise UpstreamProtocolError(f"undecodable AgentServerMessage: {exc}") from exc
        if self.surprises is not None:
            first = len(out)
            self._dispatch(payload, message, out)
            self.surprises.message(message, out[first:])
        else:
            self._dispatch(payload, message, out)

    def _dispatch(
        self, payload: bytes, message: agent.AgentServerMessage, out: list[ev.Event]
    ) -> None:
        kind = message.WhichOneof("message")
        if kind == "interaction_update":
            self._on_update(message.interaction_update, out)
        elif kind == "kv_server_message":
            out.extend(self._on_kv(message.kv_server_message))
        elif kind == "exec_server_message":
            out.extend(self._on_exec(message.exec_server_message))
        elif kind == "conversation_checkpoint_update":
            out.append(self._on_checkpoint(payload, message.conversation_checkpoint_update))
        elif kind == "exec_server_control_message":
            control = message.exec_server_control_message
            if control.WhichOneof("message") == "abort":
                self.pending_execs.pop(control.abort.id, None)
                out.append(ev.ExecAborted(control.abort.id))
        elif kind == "interaction_query":
            answer = answer_query(message.interaction_query, field_bytes(payload, _QUERY_FIELD))
            self._outgoing += encode_envelope(answer.message)
            out.append(ev.QueryAnswered(answer.kind, answer.decision))
        # Anything else is newer than our schema and needs no answer (display-only).

    def _on_update(self, update: agent.InteractionUpdate, out: list[ev.Event]) -> None:
        kind = update.WhichOneof("message")
        if kind == "text_delta":
            text = update.text_delta.text
            if text:
                out.append(ev.TextDelta(text))
        elif kind == "token_delta":
            tokens = update.token_delta.tokens
            self.output_token_deltas += tokens
            out.append(ev.TokenDelta(tokens))
        elif kind == "thinking_delta":
            text = update.thinking_delta.text
            if text:
                out.append(ev.ThinkingDelta(text))
        elif kind == "thinking_completed":
            out.append(ev.ThinkingCompleted(update.thinking_completed.thinking_duration_ms))
        elif kind == "heartbeat":
            out.append(ev.ServerHeartbeat())
        elif kind == "summary":
            out.append(ev.Summary(update.summary.summary))
        elif kind == "step_completed":
            out.append(ev.StepCompleted(update.step_completed.step_id))
        elif kind == "turn_ended":
            self.state = RunState.TURN_ENDED
            out.append(ev.TurnEnded(self.usage(update.turn_ended)))
        elif kind == "tool_call_completed":
            todos = _todos(update.tool_call_completed.tool_call)
            if todos is not None:
                out.append(todos)

    def usage(self, turn_ended: agent.TurnEndedUpdate) -> ev.Usage:
        """Token usage for the turn.

        Newer backends put counters on `turn_ended`; older ones leave it empty, and then the
        fallback is: output = sum of token deltas, input = checkpoint occupancy - output.
        """
        if turn_ended.input_tokens or turn_ended.output_tokens:
            return ev.Usage(
                input_tokens=turn_ended.input_tokens,
                output_tokens=turn_ended.output_tokens,
                cache_read_tokens=turn_ended.cache_read,
                cache_write_tokens=turn_ended.cache_write,
                reasoning_tokens=turn_ended.reasoning_tokens,
            )
        output = self.output_token_deltas
        return ev.Usage(input_tokens=max(self.used_tokens - output, 0), output_tokens=output)

    def _on_checkpoint(
        self, payload: bytes, state: agent.ConversationStateStructure
    ) -> ev.Checkpoint:
        raw = field_bytes(payload, _CHECKPOINT_FIELD)
        self.last_checkpoint = raw
        self.used_tokens = state.token_details.used_tokens
        self.max_tokens = state.token_details.max_tokens
        return ev.Checkpoint(raw, self.used_tokens, self.max_tokens)

    def _on_kv(self, kv: agent.KvServerMessage) -> Iterator[ev.Event]:
        kind = kv.WhichOneof("message")
        if kind == "get_blob_args":
            key = kv.get_blob_args.blob_id
            data = self.blobs.get(key)
            if data is None and len(key) != BLOB_ID_SIZE:
                # "Content-as-id": a seed put inline content where an id goes; echo it.
                data = key
            if data is None:
                self.missing_blob = key
                yield ev.BlobServed(key, False)
                return
            result = agent.GetBlobResult(blob_data=data)
            self._queue(
                agent.AgentClientMessage(
                    kv_client_message=agent.KvClientMessage(id=kv.id, get_blob_result=result)
                )
            )
            yield ev.BlobServed(key, True)
        elif kind == "set_blob_args":
            key, data = kv.set_blob_args.blob_id, kv.set_blob_args.blob_data
            self.blobs.put(key, data)
            self._queue(
                agent.AgentClientMessage(
                    kv_client_message=agent.KvClientMessage(
                        id=kv.id, set_blob_result=agent.SetBlobResult()
                    )
                )
            )
            yield ev.BlobStored(key, len(data))

    def _on_exec(self, request: agent.ExecServerMessage) -> Iterator[ev.Event]:
        kind = request.WhichOneof("message")
        if kind in ("request_context_args", "mcp_state_exec_args"):
            # Answered from the context we sent; the current client sends no stream_close
            # after these two (current-client.md §5).
            reply = agent.ExecClientMessage(id=request.id, exec_id=request.exec_id)
            if kind == "request_context_args":
                reply.request_context_result.success.request_context.CopyFrom(self.request_context)
            else:
                success = reply.mcp_state_exec_result.success
                success.SetInParent()
                success.servers.extend(mcp_state_servers(self.request_context))
            self._queue(agent.AgentClientMessage(exec_client_message=reply))
            return
        self.pending_execs[request.id] = request.exec_id
        if kind is None:
            # A variant newer than our schema: refuse it so the backend does not wait forever.
            self.pending_execs.pop(request.id)
            throw = agent.ExecClientThrow(
                id=request.id, error="This client does not support that tool."
            )
            self._queue(
                agent.AgentClientMessage(
                    exec_client_control_message=agent.ExecClientControlMessage(throw=throw)
                )
            )
            yield ev.ExecRequested(request.id, request.exec_id, "unknown")
            return
        yield _exec_event(request, kind)


def mcp_state_servers(context: agent.RequestContext) -> list[agent.McpStateServer]:
    """The answer to an MCP-state probe, from the descriptors the context names: one server
    per descriptor with its full tool definitions (as the current client answers, §3)."""
    descriptors = list(context.mcp_meta_tool_options.mcp_descriptors)
    servers = []
    for descriptor in descriptors:
        tools = [
            tool
            for tool in context.tools
            if tool.provider_identifier == descriptor.server_identifier
        ]
        servers.append(
            agent.McpStateServer(
                server_name=descriptor.server_name,
                server_identifier=descriptor.server_identifier,
                tools=tools,
            )
        )
    return servers


def _todos(call: agent.ToolCall) -> ev.TodosUpdated | None:
    """The list after an `update_todos` call: the result's (merged) list, else the args'."""
    if call.WhichOneof("tool") != "update_todos_tool_call":
        return None
    update = call.update_todos_tool_call
    items = update.result.success.todos if update.result.HasField("success") else update.args.todos
    return ev.TodosUpdated(
        tuple(
            ev.Todo(item.id, item.content, _TODO_STATUS.get(item.status, "pending"))
            for item in items
        )
    )


_TODO_STATUS: dict[int, str] = {
    agent.TODO_STATUS_PENDING: "pending",
    agent.TODO_STATUS_IN_PROGRESS: "in_progress",
    agent.TODO_STATUS_COMPLETED: "completed",
    agent.TODO_STATUS_CANCELLED: "cancelled",
}


def _exec_event(request: agent.ExecServerMessage, kind: str) -> ev.ExecRequested:
    variant = getattr(request, kind)
    if kind == "mcp_args":
        args = {key: value_bytes_to_json(raw) for key, raw in variant.args.items()}
        return ev.ExecRequested(
            request.id,
            request.exec_id,
            kind,
            args,
            tool_call_id=variant.tool_call_id,
            tool_name=variant.tool_name or variant.name,
            wire_name=variant.name,
            provider=variant.provider_identifier,
        )
    args = json_format.MessageToDict(variant, preserving_proto_field_name=True)
    return ev.ExecRequested(
        request.id, request.exec_id, kind, args, tool_call_id=args.get("tool_call_id", "")
    )


def _frame(message: agent.AgentClientMessage) -> bytes:
    return encode_envelope(message.SerializeToString())


def _error_from_trailers(trailers: list[tuple[str, str]]) -> ConnectError | None:
    """gRPC-style `grpc-status` / `grpc-message` trailers (some backends report errors so)."""
    values = dict(trailers)
    status = values.get("grpc-status")
    if status is None or status == "0":
        return None
    try:
        code = GRPC_TO_CONNECT.get(int(status), "unknown")
    except ValueError:
        code = "unknown"
    return ConnectError(code, unquote(values.get("grpc-message", "")))
