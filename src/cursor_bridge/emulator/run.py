"""Server side of one `AgentService/Run` stream: frames in and out, replies awaited.

`RunSession` is the stream's handler. It decodes the client's Connect frames as they arrive
(full duplex: also while its task is streaming), correlates KV and exec replies with the
requests by id, counts heartbeats, and turns a client reset, half-close or `cancel_action`
into a cancelled Run. Its task awaits the first frame (the run_request), then hands the Run to
the turn player (emulator/turn.py) through the small API below: `send`, `get_blobs`,
`store_blob`, `start_exec` / `wait_exec`, `request_context`, and the fault helpers. Every wait
on the client sends heartbeats and enforces the client idle timeout.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, TypeVar

from google.protobuf.message import DecodeError, Message

from ..protocol.errors import ConnectError, UpstreamProtocolError
from ..protocol.framing import EnvelopeDecoder, encode_end_stream, encode_envelope
from ..protocol.messages import agent
from ..protocol.wire import field_bytes, len_field
from .connection import ServerStream, StreamGone
from .exec_call import ExecCall
from .pacer import Pacer
from .queries import decision, query_message

if TYPE_CHECKING:
    from .catalog import Catalog
    from .counters import EmulatorCounters
    from .history import KnownBlobs
    from .options import EmulatorOptions

log = logging.getLogger(__name__)
T = TypeVar("T")
_RESPONSE_FIELD = agent.AgentClientMessage.DESCRIPTOR.fields_by_name["interaction_response"].number
_EXEC_FIELD = agent.AgentServerMessage.DESCRIPTOR.fields_by_name["exec_server_message"].number
_SPAN_CONTEXT_FIELD = 19  # ExecServerMessage.span_context, deliberately undeclared
_EMPTY_BLOB_ID = hashlib.sha256(b"").digest()


class RunError(Exception):
    """End the Run with this Connect error (an end-stream error frame)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


class RunEnded(Exception):
    """The Run is already over (stream gone, fault injected, cancelled): unwind quietly."""


@dataclass(slots=True)
class RunEnvironment:
    """What all Runs of one server share."""

    options: EmulatorOptions
    counters: EmulatorCounters
    catalog: Catalog
    known_blobs: KnownBlobs
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    outcome_waiters: list[asyncio.Future[None]] = field(default_factory=list)
    pacer: Pacer = field(default_factory=Pacer)

    def run_ended(self) -> None:
        waiters, self.outcome_waiters = self.outcome_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


PlayFn = Callable[["RunSession", agent.AgentRunRequest], Awaitable[None]]


class RunSession:
    """One Run stream (StreamHandler), plus the primitives the turn player uses."""

    # Whether `send_update` sends updates as they are; a subclass that rewrites them
    # (inject.py) turns this off and gets every streamed word through `send_update`.
    plain_updates: ClassVar[bool] = True

    def __init__(
        self, stream: ServerStream, env: RunEnvironment, play: PlayFn, *, compress: bool
    ) -> None:
        self.stream = stream
        self.env = env
        self.options = env.options
        self.counters = env.counters
        self._play = play
        self._gzip_ok = compress  # the client accepted gzip
        self._gzip_min = env.options.gzip_min_size
        self._loop = asyncio.get_running_loop()
        self._decoder = EnvelopeDecoder(env.options.max_client_frame_size)
        self._first: asyncio.Future[agent.AgentRunRequest] = self._loop.create_future()
        self._kv: dict[int, asyncio.Future[agent.KvClientMessage]] = {}
        self._execs: dict[int, ExecCall] = {}
        self._next_kv = 1
        self._next_exec = 1
        self._next_query = 0  # query ids are often 0 (current-client.md §4)
        self._queries: dict[int, tuple[int, asyncio.Future[str]]] = {}
        # Set by a /compress turn: every frame from then on carries the compression flag.
        self.compress_all = False
        self._last_client_frame = self._loop.time()
        self.turn_ended = False
        self.outcome: str | None = None
        self.counters.runs_opened += 1
        self._task = self._loop.create_task(self._main())
        env.tasks.add(self._task)
        self._task.add_done_callback(env.tasks.discard)

    # -- StreamHandler ----------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.outcome is not None:
            return
        try:
            envelopes = self._decoder.feed(data)
        except UpstreamProtocolError as exc:
            self._fail_now("invalid_argument", f"malformed request frame: {exc}")
            return
        for envelope in envelopes:
            self.counters.frames_in += 1
            self._last_client_frame = self._loop.time()
            if envelope.end_stream:
                self._fail_now("invalid_argument", "end-stream frame from the client")
                return
            message = agent.AgentClientMessage()
            try:
                message.ParseFromString(envelope.payload)
            except DecodeError:
                self._fail_now("invalid_argument", "request frame is not an AgentClientMessage")
                return
            if message.WhichOneof("message") == "interaction_response" and self._first.done():
                self._on_query_reply(field_bytes(envelope.payload, _RESPONSE_FIELD))
            else:
                self._on_message(message)
            if self.outcome is not None:
                return

    def end_received(self) -> None:
        if self.outcome is None and not self.turn_ended:
            self._cancel("the client closed the request stream before the turn ended")

    def stream_lost(self) -> None:
        self._task.cancel()

    # -- client messages --------------------------------------------------------------

    def _on_message(self, message: agent.AgentClientMessage) -> None:
        which = message.WhichOneof("message")
        if not self._first.done():
            if which == "run_request":
                self._first.set_result(message.run_request)
            else:
                self._fail_now("invalid_argument", "the first message of a Run must be run_request")
            return
        if which == "client_heartbeat":
            self.counters.client_heartbeats += 1
        elif which == "kv_client_message":
            kv = message.kv_client_message
            future = self._kv.pop(kv.id, None)
            if future is not None and not future.done():
                future.set_result(kv)
        elif which == "exec_client_message":
            call = self._execs.get(message.exec_client_message.id)
            if call is not None:
                call.result_received(message.exec_client_message)
        elif which == "exec_client_control_message":
            self._on_exec_control(message.exec_client_control_message)
        elif which == "conversation_action":
            if message.conversation_action.WhichOneof("action") == "cancel_action":
                self._cancel("the client cancelled the run")
        elif which == "run_request":
            self._fail_now("invalid_argument", "run_request after the start of the Run")
        # Unknown members: nothing to do.

    def _on_query_reply(self, raw: bytes) -> None:
        """A reply counts only with a typed decision (strict); otherwise the wait goes on."""
        query_id = agent.InteractionResponse.FromString(raw).id
        pending = self._queries.get(query_id)
        if pending is None:
            return
        number, future = pending
        found = decision(raw, query_id, number)
        if found is None and self.options.strict:
            self.counters.queries_wrong_shape += 1
            return
        self._queries.pop(query_id, None)
        self.counters.queries_answered += 1
        if not future.done():
            future.set_result(found or "(empty reply)")

    def _on_exec_control(self, control: agent.ExecClientControlMessage) -> None:
        which = control.WhichOneof("message")
        if which == "stream_close":
            call = self._execs.get(control.stream_close.id)
            if call is not None:
                call.stream_closed()
        elif which == "throw":
            call = self._execs.get(control.throw.id)
            if call is not None:
                call.throw(control.throw.error or "exec failed")

    # -- the Run task -----------------------------------------------------------------

    async def _main(self) -> None:
        try:
            request = await self.wait_for(self._first, heartbeats=False)
            await self._play(self, request)
            self._end("completed", None)
        except RunError as exc:
            self._end("failed", ConnectError(exc.code, exc.message))
        except (RunEnded, StreamGone, asyncio.CancelledError):
            # Lost after turn_ended went out: the client saw a whole turn.
            self._set_outcome("completed" if self.turn_ended else "cancelled")
        except Exception:
            log.exception("emulated Run failed")
            self._end("failed", ConnectError("internal", "internal emulator error"))

    def _fail_now(self, code: str, message: str) -> None:
        """End with an error from a connection callback (the task is suspended)."""
        self._end("failed", ConnectError(code, message))
        self._task.cancel()

    def _cancel(self, reason: str) -> None:
        for call in self._execs.values():
            if not call.future.done():
                abort = agent.ExecServerControlMessage(abort=agent.ExecServerAbort(id=call.id))
                self._write_nowait(agent.AgentServerMessage(exec_server_control_message=abort))
        self._end("cancelled", ConnectError("canceled", reason))
        self._task.cancel()

    def _set_outcome(self, outcome: str) -> None:
        if self.outcome is not None:
            return
        self.outcome = outcome
        name = f"runs_{outcome}"
        setattr(self.counters, name, getattr(self.counters, name) + 1)
        self.env.run_ended()

    def _end(self, outcome: str, error: ConnectError | None) -> None:
        """Send the end-stream frame (clean or error) and END_STREAM, once."""
        if self.outcome is not None:
            return
        self._set_outcome(outcome)
        if self.stream.closed or self.stream.finished:
            return
        self.counters.frames_out += 1
        self.stream.write_nowait(encode_end_stream(error))
        self.stream.finish()

    # -- primitives for the turn player -----------------------------------------------

    def _frame(self, message: Message) -> bytes:
        return self.frame_bytes(message.SerializeToString())

    def frame_bytes(self, payload: bytes) -> bytes:
        """One Connect frame of *payload*, compressed when the Run compresses frames of its size."""
        compress = self._gzip_ok and (
            self.compress_all or (self._gzip_min is not None and len(payload) >= self._gzip_min)
        )
        return encode_envelope(payload, compress=compress)

    @property
    def can_compress(self) -> bool:
        """Whether the client accepted gzip (`connect-accept-encoding`)."""
        return self._gzip_ok

    async def send_payload(self, payload: bytes) -> None:
        """Send one AgentServerMessage given as bytes (hand-encoded shapes)."""
        if self.outcome is not None:
            raise RunEnded
        self.counters.frames_out += 1
        try:
            await self.stream.write(self.frame_bytes(payload))
        except StreamGone:
            raise RunEnded from None

    async def send_framed(self, data: bytes, frames: int) -> None:
        """Send *frames* Connect frames already encoded together in *data*."""
        if self.outcome is not None:
            raise RunEnded
        self.counters.frames_out += frames
        try:
            await self.stream.write(data)
        except StreamGone:
            raise RunEnded from None

    async def query(self, word: str) -> str:
        """Raise one interaction query (`word`: a /query kind) and wait for a typed decision,
        sending heartbeats meanwhile; returns the decision as text."""
        query_id = self._next_query
        self._next_query += 1
        payload, number = query_message(word, query_id)
        future: asyncio.Future[str] = self._loop.create_future()
        self._queries[query_id] = (number, future)
        self.counters.queries_sent += 1
        await self.send_payload(payload)
        return await self.wait_for(future)

    def _write_nowait(self, message: Message) -> None:
        if self.stream.closed or self.stream.finished:
            return
        self.counters.frames_out += 1
        self.stream.write_nowait(self._frame(message))

    async def send(self, message: agent.AgentServerMessage) -> None:
        """Send one server message (waits while the stream's send buffer is full)."""
        if self.outcome is not None:
            raise RunEnded
        self.counters.frames_out += 1
        try:
            await self.stream.write(self._frame(message))
        except StreamGone:
            raise RunEnded from None

    async def send_update(self, update: agent.InteractionUpdate) -> None:
        await self.send(agent.AgentServerMessage(interaction_update=update))

    async def send_raw(self, data: bytes) -> None:
        """Bytes on the stream as they are (fault injection: broken frames)."""
        self.counters.frames_out += 1
        try:
            await self.stream.write(data)
        except StreamGone:
            raise RunEnded from None

    async def wait_for(self, future: asyncio.Future[T], *, heartbeats: bool = True) -> T:
        """Wait for a client reply, sending heartbeats; `deadline_exceeded` when it goes quiet."""
        interval = self.options.heartbeat_interval if heartbeats else 0.0
        next_beat = self._loop.time() + interval
        while not future.done():
            now = self._loop.time()
            deadline = self._last_client_frame + self.options.client_idle_timeout
            if now >= deadline:
                idle = self.options.client_idle_timeout
                raise RunError("deadline_exceeded", f"no message from the client for {idle:g} s")
            if interval > 0 and now >= next_beat:
                await self.send_update(agent.InteractionUpdate(heartbeat=agent.HeartbeatUpdate()))
                next_beat = now + interval
                continue
            await self._until(future, min(deadline, next_beat) if interval > 0 else deadline)
        return future.result()

    async def _until(self, future: asyncio.Future[T], when: float) -> None:
        """Wait until *future* is done or the loop's clock reaches *when* (what
        `asyncio.wait((future,), timeout=...)` does, without its per-call machinery)."""
        waiter: asyncio.Future[None] = self._loop.create_future()

        def wake(_: object = None) -> None:
            if not waiter.done():
                waiter.set_result(None)

        timer = self._loop.call_at(when, wake)
        future.add_done_callback(wake)
        try:
            await waiter
        finally:
            timer.cancel()
            future.remove_done_callback(wake)

    async def get_blobs(self, blob_ids: Sequence[bytes]) -> list[bytes]:
        """Fetch blobs from the client's KV store (requests pipelined, replies awaited in order).

        Strict (the real backend per current-client.md §8): a reply without data is read as
        an empty blob (the history it held goes blank). Lenient: it ends the Run with
        `internal: Blob not found`.
        """
        futures = []
        for blob_id in blob_ids:
            kv_id = self._next_kv
            self._next_kv += 1
            future: asyncio.Future[agent.KvClientMessage] = self._loop.create_future()
            self._kv[kv_id] = future
            futures.append(future)
            args = agent.GetBlobArgs(blob_id=blob_id)
            self.counters.blobs_get += 1
            await self.send(
                agent.AgentServerMessage(
                    kv_server_message=agent.KvServerMessage(id=kv_id, get_blob_args=args)
                )
            )
        out = []
        for blob_id, future in zip(blob_ids, futures, strict=True):
            reply = await self.wait_for(future)
            result = reply.get_blob_result
            has_data = result.HasField("blob_data") and (
                len(result.blob_data) > 0 or blob_id == _EMPTY_BLOB_ID
            )
            if reply.WhichOneof("message") != "get_blob_result":
                raise RunError("internal", "unexpected reply to get_blob")
            if not has_data:
                self.counters.blobs_missing += 1
                if not self.options.strict:
                    raise RunError("internal", "Blob not found")
            out.append(result.blob_data)
        return out

    async def store_blob(self, blob_id: bytes, data: bytes) -> None:
        """Store one blob in the client's KV store and wait for its acknowledgement."""
        kv_id = self._next_kv
        self._next_kv += 1
        future: asyncio.Future[agent.KvClientMessage] = self._loop.create_future()
        self._kv[kv_id] = future
        self.counters.blobs_set += 1
        args = agent.SetBlobArgs(blob_id=blob_id, blob_data=data)
        await self.send(
            agent.AgentServerMessage(
                kv_server_message=agent.KvServerMessage(id=kv_id, set_blob_args=args)
            )
        )
        reply = await self.wait_for(future)
        if reply.WhichOneof("message") != "set_blob_result":
            raise RunError("internal", "unexpected reply to set_blob")
        if reply.set_blob_result.HasField("error"):
            raise RunError(
                "internal", f"failed to store blob: {reply.set_blob_result.error.message}"
            )
        self.env.known_blobs.add(blob_id)

    async def start_exec(self, kind: str, args: Message, *, span: bytes | None = None) -> ExecCall:
        """Send `exec_server_message{id, exec_id, <kind>: args}`; the reply comes later.

        `span`: the raw value of `span_context` (19) to add (a SpanContext or a string)."""
        exec_id = self._next_exec
        self._next_exec += 1
        message = agent.ExecServerMessage(id=exec_id, exec_id=str(uuid.uuid4()))
        getattr(message, kind).CopyFrom(args)
        call = ExecCall(exec_id, kind, self._loop.create_future())
        self._execs[exec_id] = call
        self.counters.exec_requests += 1
        body = message.SerializeToString()
        if span is not None:
            body += len_field(_SPAN_CONTEXT_FIELD, span)
        await self.send_payload(len_field(_EXEC_FIELD, body))
        return call

    async def wait_exec(self, call: ExecCall) -> ExecCall:
        await self.wait_for(call.future)
        self._execs.pop(call.id, None)
        return call

    async def request_context(self) -> agent.RequestContext | None:
        """Ask the client for its RequestContext (exec `request_context_args`)."""
        self.counters.request_context_asked += 1
        call = await self.start_exec("request_context_args", agent.RequestContextArgs())
        await self.wait_exec(call)
        for result in call.results:
            if result.WhichOneof("message") == "request_context_result":
                answer = result.request_context_result
                if answer.WhichOneof("result") == "success":
                    return answer.success.request_context
        return None

    # -- faults -----------------------------------------------------------------------

    # A fault that ends the Run from our side makes it `faulted`; after the others (stall,
    # broken frames, graceful GOAWAY) the Run ends as the client or the turn decides.

    def reset_stream(self) -> None:
        self._set_outcome("faulted")
        self.stream.reset()
        raise RunEnded

    def end_early(self) -> None:
        self._end("faulted", None)
        raise RunEnded

    async def stall(self) -> None:
        """Send nothing more; the Run ends when the client resets or the server stops."""
        await self._loop.create_future()

    def goaway(self, *, close: bool) -> None:
        """GOAWAY; with `close` the connection drops and this Run ends as faulted."""
        if close:
            self._set_outcome("faulted")
            self.stream.conn.close()
            raise RunEnded
        self.stream.conn.goaway()

    def fail(self, code: str, message: str) -> None:
        raise RunError(code, message)
