"""Replaying the server side of a recorded wire trace (`cursor-bridge emulator --replay FILE`,
`EmulatorOptions.replay`), so a failure a user recorded becomes a regression test.

Each Run opened on the emulator plays the next Run of the trace (a Run beyond the last one
recorded is refused with `unavailable`). What it reproduces:
- the HTTP status of the Run response; when it is not 200, the response ends there;
- every frame the backend sent, in order, rebuilt from its shape (protocol/wire_shape.py):
  the same message kinds, field numbers (unknown ones included), wire types, numbers (ids,
  exec and KV ids, token counts, flags, enums), kept identifiers (blob ids, exec ids, tool
  names) and lengths; redacted text and bytes come back as `x` repeated to their length.
  A compressed frame is sent compressed; a frame the bridge could not decode is sent as
  undecodable bytes of the same size;
- the order against the client: before the frame that followed a client message in the
  recording (a KV or exec answer, a tool result), the replay waits for the client to send a
  message of the same kind (client heartbeats are not waited for);
- the end: the end-stream frame with the recorded error code (and the message as far as the
  trace kept it), a clean end-stream, a body that ended without one, or a lost connection.
What it does not: the recorded timing (frames go out as fast as the client takes them),
content that was redacted, trailers, unary calls (served by the emulator as usual), or any
frame the bridge never saw (bytes that were not yet a whole frame when the Run ended).
"""

from __future__ import annotations

import asyncio
from collections import deque

from ..protocol.errors import ConnectError
from ..protocol.framing import FLAG_COMPRESSED, encode_end_stream, encode_envelope
from ..protocol.messages import agent
from ..protocol.wire_shape import rebuild
from ..wiretrace.format import Record, RunTrace, Trace
from .connection import ServerStream
from .run import RunEnded, RunEnvironment, RunError, RunSession

_UNDECODABLE = b"\xff"
_NOT_WAITED = frozenset({"client_heartbeat", "run_request"})


class TraceReplay:
    """Hands out the recorded Runs, one per Run stream, in order."""

    def __init__(self, trace: Trace) -> None:
        self._runs: deque[RunTrace] = deque(trace.runs)

    def next_run(self) -> RunTrace | None:
        return self._runs.popleft() if self._runs else None


class ReplaySession(RunSession):
    """A RunSession that notes the kind of every client message, for `wait_client`."""

    def __init__(
        self, stream: ServerStream, env: RunEnvironment, recorded: RunTrace, *, compress: bool
    ) -> None:
        self.recorded = recorded
        self._seen: deque[str] = deque()
        self._arrived: asyncio.Event | None = None
        super().__init__(stream, env, play_recorded, compress=compress)

    def _on_message(self, message: agent.AgentClientMessage) -> None:
        self._seen.append(message.WhichOneof("message") or "")
        if self._arrived is not None:
            self._arrived.set()
        super()._on_message(message)

    async def wait_client(self, kind: str) -> None:
        """Until the client sends a message of *kind* (others before it are passed over)."""
        while True:
            while self._seen:
                if self._seen.popleft() == kind:
                    return
            self._arrived = asyncio.Event()
            waiter = asyncio.ensure_future(self._arrived.wait())
            try:
                await self.wait_for(waiter, heartbeats=False)
            finally:
                waiter.cancel()


async def play_recorded(session: RunSession, request: agent.AgentRunRequest) -> None:
    assert isinstance(session, ReplaySession)
    ended = False
    for record in session.recorded.records:
        event = record["ev"]
        if event == "frame" and record.get("dir") == "out":
            kind = str(record.get("path", "")).split(".", 1)[0]
            if kind and kind not in _NOT_WAITED:
                await session.wait_client(kind)
        elif event == "frame" and "end" in record:
            _raise_end(record["end"])
            ended = True
            break
        elif event == "frame":
            await _send_recorded(session, record)
        elif event == "undecodable" and record.get("dir") == "in":
            await session.send_raw(bytes((0x40,)) + (1).to_bytes(4, "big") + _UNDECODABLE)
        elif event == "eof":
            # The body ended without an end-stream frame.
            session.stream.finish()
            raise RunEnded
        elif event == "lost":
            session.stream.conn.close()
            raise RunEnded
        elif event == "cancel":
            await session.stall()  # the bridge reset the stream: wait for it to do so again
    if not ended:
        await session.stall()  # the recording stops here: nothing more was seen


def _raise_end(end: Record) -> None:
    error = end.get("error")
    if "undecodable" in end:
        raise RunError("internal", "malformed end-stream frame")
    if error is not None:
        raise RunError(str(error.get("code", "unknown")), str(error.get("message", "")))
    # A clean end: RunSession ends the response with `{}` when the player returns.


async def _send_recorded(session: RunSession, record: Record) -> None:
    shape = record.get("shape")
    size = max(int(record.get("size", 1)), 1)
    payload = rebuild(shape) if shape is not None else _UNDECODABLE * size
    compress = bool(int(record.get("flags", 0)) & FLAG_COMPRESSED)
    if record.get("path") == "interaction_update.turn_ended":
        session.turn_ended = True
    await session.send_raw(encode_envelope(payload, compress=compress))


def _recorded_header(recorded: RunTrace, name: str) -> str | None:
    for record in recorded.records:
        if record["ev"] == "headers":
            value = record.get("headers", {}).get(name)
            return str(value) if value else None
    return None


def open_replay_run(
    stream: ServerStream, env: RunEnvironment, replay: TraceReplay, *, compress: bool
) -> ReplaySession | None:
    """The session for a new Run stream, after answering its headers; None when the
    recording says the response ended at the headers (then the stream is answered)."""
    recorded = replay.next_run()
    if recorded is None:
        stream.respond(200, [("content-type", "application/connect+proto")])
        stream.write_nowait(
            encode_end_stream(ConnectError("unavailable", "replay: no more recorded Runs"))
        )
        stream.finish()
        return None
    status = recorded.status or 200
    if status != 200:
        stream.respond(status, [("content-type", "application/json")], end_stream=True)
        return None
    headers = [("content-type", "application/connect+proto")]
    encoding = _recorded_header(recorded, "connect-content-encoding")
    if encoding or compress:
        headers.append(("connect-content-encoding", encoding or "gzip"))
    stream.respond(200, headers)
    return ReplaySession(stream, env, recorded, compress=compress)
