"""Drive one RunMachine over one HTTP/2 stream: the I/O loop around the pure protocol core.

Everything that can go wrong below the protocol (connect failure, HTTP status, idle stream,
lost connection, broken framing) leaves here as a ConnectError with a Connect code, so the
server maps one exception type to the client's dialect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator

from ..protocol import events as ev
from ..protocol.errors import ConnectError, UpstreamProtocolError, http_error
from ..protocol.messages import agent
from ..protocol.run import RunMachine
from ..transport import DuplexStream, TransportError, TransportTimeout
from ..wiretrace import RunTap

log = logging.getLogger(__name__)

# Events after which a batch needs more than passing on: the turn or the Run ends.
_RUN_ENDINGS = frozenset({ev.TurnEnded, ev.RunFailed, ev.StreamClosed})


class UpstreamRun:
    """One Run on an open stream. Iterate `events()`; `aclose()` cancels if unfinished."""

    def __init__(
        self,
        stream: DuplexStream,
        machine: RunMachine,
        run_request: agent.AgentRunRequest,
        *,
        heartbeat_interval: float = 5.0,
        idle_timeout: float = 120.0,
        tap: RunTap | None = None,
        raw_state: bytes | None = None,
    ) -> None:
        self.stream = stream
        # Records every frame both ways (`--record`): this is the one place that sees both.
        self.tap = tap
        self.machine = machine
        self.run_request = run_request
        # A checkpoint echoed byte for byte as conversation_state (see RunMachine.start).
        self.raw_state = raw_state
        self.half_closed = False
        self.heartbeat_interval = heartbeat_interval
        self.idle_timeout = idle_timeout
        self.finished = False
        self._send_lock = asyncio.Lock()
        # The loop, looked up once per Run (each lookup costs a getpid() system call).
        self._loop = asyncio.get_running_loop()
        # Heartbeats: a timer per interval, a task only while one is being sent (a Run that
        # ends within the interval, most of them, costs no task).
        self._beating = False
        self._beat_timer: asyncio.TimerHandle | None = None
        self._beat_task: asyncio.Task[None] | None = None
        # What the receive callback read in place (see `_read_inline`), for the next batch.
        self._inline: list[ev.Event] = []
        self._inline_error: Exception | None = None
        # Whether `_read_inline` is the stream's consumer now (it is re-armed only when not).
        self._inline_on = False
        # Set when the response headers took longer than `idle_timeout` (see _wait_headers);
        # the deadline's timer, and its time while the heartbeat timer carries it.
        self._headers_late = False
        self._headers_timer: asyncio.TimerHandle | None = None
        self._headers_due: float | None = None
        self._closing: asyncio.Task[None] | None = None

    async def batches(self) -> AsyncGenerator[list[ev.Event], None]:
        """Yield the Run's events, one list per chunk received, until the Run closes.

        Batching lets the server write one response chunk per upstream read. Raises
        ConnectError on failure, after yielding the events that preceded it.
        """
        try:
            request = self.machine.start(self.run_request, self.raw_state)
            if not self._send_request_now(request):
                await self._send(request)
            self._start_heartbeats()
            status, headers = await self._wait_headers()
            if self.tap is not None:
                self.tap.response(status, headers)
            if status != 200:
                error = await self._http_error(status, headers)
                if self.machine.surprises is not None:
                    self.machine.surprises.http_error(status, error.code)
                raise error
            self.stream.consume_inline(self._read_inline)
            self._inline_on = True
            while True:
                try:
                    chunk = await self.stream.receive(idle_timeout=self.idle_timeout)
                except TransportTimeout as exc:
                    raise ConnectError(
                        "deadline_exceeded",
                        f"the backend sent nothing for {self.idle_timeout:g} s",
                    ) from exc
                except TransportError as exc:
                    if self.tap is not None:
                        self.tap.lost(str(exc))
                    raise ConnectError(
                        "unavailable", f"connection to the backend lost: {exc}"
                    ) from exc
                events = self._take_inline()
                if self._inline_error is not None:
                    if events:
                        yield events
                    raise self._inline_error
                if self.tap is not None:
                    if chunk is None:
                        self.tap.eof(self.stream.trailers)
                    elif chunk:
                        self.tap.received(chunk)
                try:
                    if chunk is None:
                        events += self.machine.receive_eof(self.stream.trailers)
                    elif chunk:
                        events += self.machine.receive_data(chunk)
                except UpstreamProtocolError as exc:
                    raise ConnectError(
                        "internal", f"the backend broke the protocol: {exc}"
                    ) from exc
                if self.machine.outgoing:
                    await self.flush()
                # Where the turn or the Run ends, if it does in this batch: everything before
                # passes on as it is (a new conversation's last batch carries the KV events
                # read in place ahead of its end); only the rest needs looking at.
                ending = 0
                for event in events:
                    if type(event) in _RUN_ENDINGS:
                        break
                    ending += 1
                else:  # the usual batch: model output, passed on as it is
                    if events:
                        yield events
                    if chunk is None or self.finished:
                        self.finished = True
                        return
                    continue
                batch = events[:ending]
                for event in events[ending:]:
                    kind = type(event)
                    if kind is ev.TurnEnded:
                        if self._beat_task is not None:
                            await self._stop_heartbeats()
                        else:
                            self._stop_beat_timer()
                        await self._half_close()
                    elif isinstance(event, ev.RunFailed):
                        self.finished = True
                        if chunk is not None:
                            # The machine gave up (e.g. a blob we no longer have) while the
                            # stream is still open: stop it upstream.
                            with contextlib.suppress(Exception):
                                await self.stream.cancel()
                        if batch:
                            yield batch
                        raise event.error
                    batch.append(event)
                    if kind is ev.StreamClosed:
                        self.finished = True
                        break
                if batch:
                    yield batch
                if chunk is None or self.finished:
                    self.finished = True
                    return
        finally:
            await self.aclose()

    def _take_inline(self) -> list[ev.Event]:
        """The events read in place since the last call; reading in place resumes."""
        events, self._inline = self._inline, []
        if not self._inline_on and self._inline_error is None:
            self.stream.consume_inline(self._read_inline)
            self._inline_on = True
        return events

    def _read_inline(self, chunk: bytes) -> bool:
        """Read a chunk in the socket callback and answer what the machine answers on its
        own (KV blobs, the request context) in the same callback, so a Run's start costs no
        task wake-up per KV round trip. True (and no more reading in place until the reader
        caught up) when the reader must wake: any event beyond KV traffic, an error, or
        owed bytes that cannot go out at once."""
        machine = self.machine
        if self.tap is not None:
            self.tap.received(chunk)
        try:
            events = machine.receive_data(chunk)
        except UpstreamProtocolError as exc:
            return self._stop_inline(
                ConnectError("internal", f"the backend broke the protocol: {exc}")
            )
        except Exception as exc:  # raised in the reader's task, not in the socket callback
            return self._stop_inline(exc)
        self._inline += events
        if machine.outgoing:
            try:
                if self.finished or not self._send_now():
                    return self._stop_inline()
            except TransportError as exc:
                return self._stop_inline(
                    ConnectError("unavailable", f"connection to the backend lost: {exc}")
                )
        for event in events:
            if type(event) is not ev.BlobStored and type(event) is not ev.BlobServed:
                return self._stop_inline()
        return False

    def _send_now(self) -> bool:
        """Send what the machine owes at once if no other send is in progress and it fits
        the stream's window (no lock, no wait for the socket); False when it cannot.
        Raises TransportError."""
        if self.half_closed or self._send_lock.locked():
            return False
        machine, stream = self.machine, self.stream
        if self.tap is None and stream.try_send_now(machine.outgoing):
            # The usual answer, one frame, sent in one call (it copies the bytes owed).
            machine.outgoing.clear()
            return True
        if not stream.can_send_now(len(machine.outgoing)):
            return False
        owed = machine.data_to_send()
        if self.tap is not None:
            self.tap.sent(owed)
        stream.send_now(owed)
        return True

    def _send_request_now(self, data: bytes) -> bool:
        """Queue the run_request's bytes as `_send` would, without its lock and coroutines,
        when nothing else is sending and they fit the stream's window with the socket not
        paused (a new stream: nearly always); False otherwise (then `_send` sends them)."""
        stream = self.stream
        if self._send_lock.locked() or not stream.can_send_now(len(data)):
            return False
        if self.tap is not None:
            self.tap.sent(data)
        try:
            stream.send_now(data)
        except TransportError as exc:
            raise ConnectError("unavailable", f"connection to the backend lost: {exc}") from exc
        return True

    def _stop_inline(self, error: Exception | None = None) -> bool:
        if error is not None and self._inline_error is None:
            self._inline_error = error
        self.stream.consume_inline(None)
        self._inline_on = False
        return True

    def close_now(self) -> bool:
        """`aclose` here and now when it needs no waiting: the Run's end is read and no
        heartbeat is being sent (so nothing is left to cancel or to wait for). False, with
        nothing done, otherwise."""
        if not self.finished or self._beat_task is not None:
            return False
        self._stop_reading_in_place()
        if self._beating or self._beat_timer is not None:
            self._stop_beat_timer()
        return True

    def _stop_reading_in_place(self) -> None:
        if self._inline_on:
            self.stream.consume_inline(None)
            self._inline_on = False

    async def aclose(self) -> None:
        """Stop heartbeats and, if the Run did not finish, cancel the stream upstream.
        (Called twice per Run, by its reader and by its owner: what is done is skipped.)"""
        if self.close_now():
            return
        self._stop_reading_in_place()
        if self._beat_task is not None:
            await self._stop_heartbeats()
        elif self._beating or self._beat_timer is not None:
            self._stop_beat_timer()
        if not self.finished:
            self.finished = True
            if self.tap is not None:
                self.tap.cancelled()
            with contextlib.suppress(Exception):
                await self.stream.cancel()

    async def _wait_headers(self) -> tuple[int, list[tuple[str, str]]]:
        """The response status and headers, within `idle_timeout` s.

        The deadline is a plain timer that cancels the stream (what the Run does on any
        failure): `asyncio.timeout` would cost a Timeout object, a task lookup and two
        getpid() system calls per Run for a deadline that almost never fires. While the
        heartbeat timer is armed to fire earlier, it carries the deadline: the deadline's
        own timer, for the same moment, is armed only if the headers are still awaited
        when that timer fires or stops (`_hand_over_deadline`), so the usual Run, whose
        headers come within milliseconds, arms one timer instead of two."""
        due = self._loop.time() + self.idle_timeout
        if self._beat_timer is not None and self.heartbeat_interval < self.idle_timeout:
            self._headers_due = due
        else:
            self._headers_timer = self._loop.call_at(due, self._headers_overdue)
        try:
            answer = await self.stream.response_headers()
        except TransportError as exc:
            if self._headers_late:
                raise ConnectError("deadline_exceeded", "the backend did not answer") from exc
            raise ConnectError("unavailable", f"connection to the backend lost: {exc}") from exc
        finally:
            self._headers_due = None
            timer, self._headers_timer = self._headers_timer, None
            if timer is not None:
                timer.cancel()
        if self._headers_late:  # they came in the very tick the deadline passed
            raise ConnectError("deadline_exceeded", "the backend did not answer")
        return answer

    def _hand_over_deadline(self) -> None:
        """The heartbeat timer fired or stopped while the headers are still awaited: the
        deadline gets its own timer, for the moment it was set for."""
        due, self._headers_due = self._headers_due, None
        if due is not None:
            self._headers_timer = self._loop.call_at(due, self._headers_overdue)

    def _headers_overdue(self) -> None:
        self._headers_timer = None
        self._headers_late = True
        cancelling = self._loop.create_task(self.stream.cancel())
        self._closing = cancelling  # held until done (the loop keeps only a weak reference)

    async def _http_error(self, status: int, headers: list[tuple[str, str]]) -> ConnectError:
        body = b""
        with contextlib.suppress(Exception):
            while len(body) < 65536:
                chunk = await self.stream.receive(idle_timeout=5)
                if chunk is None:
                    break
                body += chunk
        self.finished = True
        return http_error(status, body, headers)

    async def flush(self) -> None:
        """Send whatever the machine owes the backend (after queuing an exec result).

        Bytes that fit the stream's window while no other send is in progress go out at
        once (`send_now`), as in the receive callback: no lock, no wait for the socket."""
        machine = self.machine
        if not machine.outgoing:
            return
        try:
            if self._send_now():
                return
        except TransportError as exc:
            raise ConnectError("unavailable", f"connection to the backend lost: {exc}") from exc
        owed = machine.data_to_send()
        if owed and self.half_closed:
            log.warning("dropped %d bytes owed to the backend after the turn ended", len(owed))
        elif owed:
            await self._send(owed)

    async def _half_close(self) -> None:
        """End our side at turn end, as the current client does (current-client.md §7): a
        finished Run left half-open keeps counting against the connection's stream limit."""
        if self.machine.owes_data:
            await self.flush()
        self.half_closed = True
        if self.tap is not None:
            self.tap.half_closed()
        # try/except, not contextlib.suppress: three calls fewer at every turn end.
        try:
            await self.stream.end()
        except TransportError:
            return  # the stream is gone already: there is nothing to end

    async def _send(self, data: bytes) -> None:
        async with self._send_lock:
            if self.tap is not None:
                self.tap.sent(data)
            try:
                await self.stream.send(data)
            except TransportError as exc:
                raise ConnectError("unavailable", f"connection to the backend lost: {exc}") from exc

    def _start_heartbeats(self) -> None:
        self._beating = True
        self._arm_heartbeat()

    def _arm_heartbeat(self) -> None:
        self._beat_timer = self._loop.call_later(self.heartbeat_interval, self._heartbeat_due)

    def _heartbeat_due(self) -> None:
        self._beat_timer = None
        if self._headers_due is not None:
            self._hand_over_deadline()
        if self._beating:
            self._beat_task = asyncio.create_task(self._heartbeat())

    async def _heartbeat(self) -> None:
        """Send one heartbeat (it may wait for the stream's window), then wait for the next;
        a lost connection stops them."""
        try:
            await self._send(self.machine.heartbeat())
        except ConnectError:
            self._beating = False
            return
        finally:
            self._beat_task = None
        if self._beating:
            self._arm_heartbeat()

    def _stop_beat_timer(self) -> None:
        """Stop heartbeats when none is being sent (no coroutine needed)."""
        self._beating = False
        timer, self._beat_timer = self._beat_timer, None
        if timer is not None:
            timer.cancel()
        if self._headers_due is not None:
            self._hand_over_deadline()

    async def _stop_heartbeats(self) -> None:
        self._stop_beat_timer()
        task, self._beat_task = self._beat_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
