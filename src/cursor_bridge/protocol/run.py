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

from google.protobuf.message import DecodeError

from . import events as ev
from .blobs import BLOB_ID_SIZE, BlobStore
from .deltas import Deltas, read_delta
from .errors import ConnectError, LocalProtocolError, UpstreamProtocolError
from .framing import (
    DEFAULT_MAX_FRAME_SIZE,
    FLAG_END_STREAM,
    HEADER_SIZE,
    EnvelopeDecoder,
    encode_envelope,
    parse_end_stream,
)
from .hot_messages import (
    HOT_FIRST_BYTES,
    KV_GET,
    KV_SET,
    SET_REPLIES,
    SET_REPLIES_KEPT,
    STEP_COMPLETED,
    STEP_STARTED,
    TURN_ENDED,
    Hot,
    get_blob_reply,
    read_hot,
    read_hot_at,
    set_blob_reply,
)
from .message_events import exec_event, mcp_state_servers, todos, trailers_error
from .messages import agent
from .queries import answer_query
from .surprises import SurpriseWatch
from .wire import field_bytes, len_field, only_field

# AgentServerMessage.conversation_checkpoint_update: we keep its bytes verbatim.
_CHECKPOINT_FIELD = 3
_CHECKPOINT_TAG = 0x1A  # field 3, LEN
_QUERY_FIELD = agent.AgentServerMessage.DESCRIPTOR.fields_by_name["interaction_query"].number
_RUN_REQUEST_FIELD = agent.AgentClientMessage.DESCRIPTOR.fields_by_name["run_request"].number
_STATE_FIELD = agent.AgentRunRequest.DESCRIPTOR.fields_by_name["conversation_state"].number


# The third byte of a text_delta or token_delta payload (InteractionUpdate's tag for it).
_DELTA_TAGS = frozenset({0x0A, 0x42})


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
        self._out: list[ev.Event] = []  # the events of the receive_data in progress
        # What the machine owes the backend: drain it with `data_to_send()`. Public so the
        # per-chunk callers can test it (`if machine.outgoing`) without a property call.
        self.outgoing = bytearray()

    # -- client -> server ------------------------------------------------------------------

    def start(self, run_request: agent.AgentRunRequest, raw_state: bytes | None = None) -> bytes:
        """The run_request frame. `raw_state`: a checkpoint to send as `conversation_state`
        byte for byte (re-encoding would reorder its fields, current-client.md §8)."""
        if self.state is not RunState.IDLE:
            raise LocalProtocolError("start() called twice")
        self.state = RunState.STREAMING
        if raw_state is None:
            # The AgentClientMessage holding it, encoded without copying it into one.
            return encode_envelope(len_field(_RUN_REQUEST_FIELD, run_request.SerializeToString()))
        rest = agent.AgentRunRequest()
        rest.CopyFrom(run_request)
        rest.ClearField("conversation_state")
        body = len_field(_STATE_FIELD, raw_state) + rest.SerializeToString()
        return encode_envelope(len_field(_RUN_REQUEST_FIELD, body))

    @property
    def owes_data(self) -> bool:
        """Whether `data_to_send()` has bytes for the backend (cheap to ask per chunk)."""
        return bool(self.outgoing)

    def data_to_send(self) -> bytes:
        out = bytes(self.outgoing)
        self.outgoing.clear()
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
        # Text and token deltas read together are merged (one event each per read); they
        # and the other common messages (see `_skim`) are read from the chunk in place.
        deltas = self._deltas
        merge = self.merge_deltas
        if merge:
            # Most chunks hold nothing else (a paced word is one text and one token delta; a
            # new conversation's blobs come one per chunk): no decoder generator for them.
            self._out = out
            skimmed = self._decoder.skim_whole(data, self._skim)
            if skimmed and skimmed == len(data):
                if deltas.text or deltas.tokens:
                    self.output_token_deltas += deltas.flush(out)
                return out
            data = data[skimmed:]
        for envelope in self._decoder.frames(data, self._skim if merge else None):
            payload = envelope.payload
            if not envelope.flags & FLAG_END_STREAM:
                delta = read_delta(payload)
                if delta is not None:
                    deltas.add(delta)
                    if not merge:
                        self.output_token_deltas += deltas.flush(out)
                    continue
            if deltas.text or deltas.tokens:
                self.output_token_deltas += deltas.flush(out)
            if envelope.flags & FLAG_END_STREAM:
                out.append(self._end(parse_end_stream(payload).error))
            else:
                hot = read_hot(payload) if payload and payload[0] in HOT_FIRST_BYTES else None
                if hot is None:
                    self._handle(payload, out)
                else:
                    self._on_hot(hot, out)
            if self.missing_blob is not None and self.state is RunState.STREAMING:
                # Never answered with an empty blob (the backend reads that as an empty
                # history, current-client.md §8): the Run ends here and the caller cancels it.
                self.state = RunState.FAILED
                message = f"Blob not found: {self.missing_blob.hex()} (no longer stored here)"
                out.append(ev.RunFailed(ConnectError("internal", message)))
                break
        if deltas.text or deltas.tokens:
            self.output_token_deltas += deltas.flush(out)
        return out

    def receive_eof(self, trailers: list[tuple[str, str]] | None = None) -> list[ev.Event]:
        """The response body ended. gRPC-style trailers may still carry an error."""
        if self.state in (RunState.CLOSED, RunState.FAILED):
            return []
        error = trailers_error(trailers or [])
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
        self.outgoing += _frame(message)

    def _skim(self, data: bytes, pos: int, end: int) -> int:
        """The decoder's skimmer (`framing.Skimmer`): consume the plain, whole frames at
        `data[pos:end]` that are deltas (`Deltas.skim`) or that `read_hot` reads, handling
        them in order into `self._out`, up to the first frame that is anything else (or a
        get_blob we cannot answer: the general path reports it). Frames over the decoder's
        size limit are left to it, to refuse."""
        deltas = self._deltas
        limit = self._decoder.max_frame_size
        out = self._out
        while end - pos >= HEADER_SIZE:
            if data[pos]:
                return pos  # compressed or the end of the stream: the decoder's
            if end - pos > 7 and data[pos + 7] in _DELTA_TAGS:  # text or token delta, maybe
                # (`Deltas.skim` checks the whole frame, and takes none over the limit)
                skimmed = deltas.skim(data, pos, end)
                if skimmed != pos:
                    pos = skimmed
                    continue
            length = int.from_bytes(data[pos + 1 : pos + HEADER_SIZE], "big")
            stop = pos + HEADER_SIZE + length
            if stop > end or length > limit:
                return pos
            if length < 3 or data[pos + HEADER_SIZE] not in HOT_FIRST_BYTES:
                return pos  # (what `read_hot` refuses first: a checkpoint, an exec request)
            hot = read_hot_at(data, pos + HEADER_SIZE, stop)  # (in place: no payload copy)
            if hot is None:
                return pos
            kind = hot[0]
            if kind == KV_SET:
                # Handled here, not by `_on_hot` (half a dozen per new conversation): as it.
                if deltas.text or deltas.tokens:
                    self.output_token_deltas += deltas.flush(out)
                _, kv_id, key, value = hot  # (`data` is the chunk)
                self.blobs.put(key, value)
                if kv_id < SET_REPLIES_KEPT:  # (never negative: `read_hot` refuses those)
                    self.outgoing += SET_REPLIES[kv_id]
                else:
                    self.outgoing += set_blob_reply(kv_id)
                out.append(ev.BlobStored(key, len(value)))
            elif kind == KV_GET:
                blob = self.blobs.get(hot[2])
                if blob is None:
                    return pos
                if deltas.text or deltas.tokens:
                    self.output_token_deltas += deltas.flush(out)
                self.outgoing += get_blob_reply(hot[1], blob)
                out.append(ev.BlobServed(hot[2], True))
            else:
                # Deltas before any step/turn message go out first, a step_started's too
                # (it makes no event itself, but words never merge across it).
                if deltas.text or deltas.tokens:
                    self.output_token_deltas += deltas.flush(out)
                if kind != STEP_STARTED:
                    self._on_hot(hot, out)
            pos = stop
        return pos

    def _on_hot(self, hot: Hot, out: list[ev.Event]) -> None:
        """Handle a message `read_hot` read, as `_handle` would handle it decoded. It holds
        only fields of our schema, so the surprise walk is skipped: it would find nothing."""
        kind = hot[0]
        if kind == KV_SET:
            key, data = hot[2], hot[3]
            self.blobs.put(key, data)
            self.outgoing += set_blob_reply(hot[1])
            out.append(ev.BlobStored(key, len(data)))
        elif kind == KV_GET:
            key = hot[2]
            data = self._blob(key)
            if data is None:
                if self.surprises is not None:
                    self.surprises.blob_not_stored()
                out.append(ev.BlobServed(key, False))
            else:
                self.outgoing += get_blob_reply(hot[1], data)
                out.append(ev.BlobServed(key, True))
        elif kind == STEP_COMPLETED:
            out.append(ev.StepCompleted(hot[1]))
        elif kind == TURN_ENDED:
            self.state = RunState.TURN_ENDED
            out.append(ev.TurnEnded(self._usage(*hot[1])))
        # STEP_STARTED: no event.

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
            self.outgoing += encode_envelope(answer.message)
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
            listed = todos(update.tool_call_completed.tool_call)
            if listed is not None:
                out.append(listed)

    def usage(self, turn_ended: agent.TurnEndedUpdate) -> ev.Usage:
        """Token usage for the turn.

        Newer backends put counters on `turn_ended`; older ones leave it empty, and then the
        fallback is: output = sum of token deltas, input = checkpoint occupancy - output.
        """
        return self._usage(
            turn_ended.input_tokens,
            turn_ended.output_tokens,
            turn_ended.cache_read,
            turn_ended.cache_write,
            turn_ended.reasoning_tokens,
        )

    def _usage(
        self,
        input_tokens: int,
        output_tokens: int,
        cache_read: int,
        cache_write: int,
        reasoning: int,
    ) -> ev.Usage:
        if input_tokens or output_tokens:
            return ev.Usage(
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cache_read_tokens=cache_read,
                cache_write_tokens=cache_write,
                reasoning_tokens=reasoning,
            )
        output = self.output_token_deltas
        return ev.Usage(input_tokens=max(self.used_tokens - output, 0), output_tokens=output)

    def _on_checkpoint(
        self, payload: bytes, state: agent.ConversationStateStructure
    ) -> ev.Checkpoint:
        raw = only_field(payload, _CHECKPOINT_TAG)
        if raw is None:
            raw = field_bytes(payload, _CHECKPOINT_FIELD)
        self.last_checkpoint = raw
        self.used_tokens = state.token_details.used_tokens
        self.max_tokens = state.token_details.max_tokens
        return ev.Checkpoint(raw, self.used_tokens, self.max_tokens)

    def _on_kv(self, kv: agent.KvServerMessage) -> Iterator[ev.Event]:
        kind = kv.WhichOneof("message")
        if kind == "get_blob_args":
            key = kv.get_blob_args.blob_id
            data = self._blob(key)
            if data is None:
                yield ev.BlobServed(key, False)
                return
            self.outgoing += get_blob_reply(kv.id, data)
            yield ev.BlobServed(key, True)
        elif kind == "set_blob_args":
            key, data = kv.set_blob_args.blob_id, kv.set_blob_args.blob_data
            self.blobs.put(key, data)
            self.outgoing += set_blob_reply(kv.id)
            yield ev.BlobStored(key, len(data))

    def _blob(self, key: bytes) -> bytes | None:
        """The blob the backend asked for; None (and `missing_blob` set) when we lack it."""
        data = self.blobs.get(key)
        if data is None:
            if len(key) != BLOB_ID_SIZE:
                # "Content-as-id": a seed put inline content where an id goes; echo it.
                return key
            self.missing_blob = key
        return data

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
        yield exec_event(request, kind)


def _frame(message: agent.AgentClientMessage) -> bytes:
    return encode_envelope(message.SerializeToString())
