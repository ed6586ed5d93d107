"""CPU per paced word on the receive path, in this process, without sockets: from the bytes
of one HTTP/2 DATA frame (one word: a text_delta and a token_delta message) arriving alone
on one of many streams, through the transport, the Run's state machine and the engine, to
the output batch `EngineService.stream_turn` hands the HTTP server.

    uv run python -m benchmarks.paced_read [--streams 200] [--words 300] [--repeat 3]
                                           [--depth engine run transport]

This is the bridge's share of what a burst of paced conversations costs per word (issue 17):
`benchmarks.cpu` and `relay.py --burst` measure it end to end, with an emulator and a load
generator beside the bridge, so their figures move with whatever else runs on the machine.
Here one process plays the backend by feeding prepared frames to `Connection.data_received`
(streams spread over connections of 24, as the pool does) and lets each stream's reader run
after each frame, as the event loop does when frames arrive one per socket read. CPU time of
one thread (`time.process_time`), so before/after comparisons hold under load. The conversation
start and end are not counted. Runs on uvloop when it is installed (as `serve` does).
Reports microseconds per word (the best of `--repeat` rounds) at each `--depth`: what the
HTTP server reads (`engine`), the Run's event batches (`run`), the stream's bytes
(`transport`); informational, no target.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from hpack import Encoder

from benchmarks.run_start import NullTransport
from cursor_bridge.engine.backend import BackendConfig, CursorBackend
from cursor_bridge.engine.catalog import ModelChoice, ModelInfo
from cursor_bridge.engine.request import ChatMessage, ChatRequest
from cursor_bridge.engine.service import EngineService
from cursor_bridge.engine.upstream import UpstreamRun
from cursor_bridge.protocol.blobs import MemoryBlobStore
from cursor_bridge.protocol.framing import encode_end_stream, encode_envelope
from cursor_bridge.protocol.headers import RUN_PATH
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.run import RunMachine
from cursor_bridge.transport import BackendPool, DuplexStream
from cursor_bridge.transport.connection import Connection
from cursor_bridge.transport.origin import parse_url

DEPTHS = ("engine", "run", "transport")

STREAMS_PER_CONNECTION = 24
"""As `BackendPool` caps them (current-client.md §7)."""

_DATA, _HEADERS = 0, 1
_END_STREAM, _END_HEADERS = 0x1, 0x4


def _connection(loop: asyncio.AbstractEventLoop) -> Connection:
    origin, _ = parse_url("http://backend.invalid")
    connection = Connection(origin, loop)
    connection.connection_made(NullTransport())  # type: ignore[arg-type]
    connection.data_received(_frame(4, 0, 0, b""))  # the server's (empty) SETTINGS
    return connection


class _InProcessPool(BackendPool):
    """Streams on in-process connections, a new one every STREAMS_PER_CONNECTION streams."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop
        self.connections: list[Connection] = []
        self.streams: list[tuple[Connection, DuplexStream]] = []

    async def open_stream(self, url: str, headers: list[tuple[str, str]]) -> DuplexStream:
        if not self.connections or self.connections[-1].stream_count >= STREAMS_PER_CONNECTION:
            self.connections.append(_connection(self.loop))
        connection = self.connections[-1]
        _, path = parse_url(url)
        stream = connection.start_stream(path, headers)
        self.streams.append((connection, stream))
        return stream


def _frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    """One HTTP/2 frame (RFC 9113 §4.1)."""
    return (
        len(payload).to_bytes(3, "big")
        + bytes((kind, flags))
        + stream_id.to_bytes(4, "big")
        + payload
    )


def _message(**update: Any) -> bytes:
    message = agent.AgentServerMessage(interaction_update=agent.InteractionUpdate(**update))
    return encode_envelope(message.SerializeToString())


def _word_body(index: int) -> bytes:
    """What the emulator sends per paced word, in one DATA frame: the text, then its count."""
    text = _message(text_delta=agent.TextDeltaUpdate(text=f" word{index % 10}"))
    return text + _message(token_delta=agent.TokenDeltaUpdate(tokens=1))


def _end_body() -> bytes:
    ended = _message(turn_ended=agent.TurnEndedUpdate(input_tokens=5, output_tokens=1))
    return ended + encode_end_stream()


async def _settle(done: Callable[[], bool]) -> None:
    for _ in range(10_000):
        if done():
            return
        await asyncio.sleep(0)
    raise RuntimeError("the readers did not catch up")


def _reader(
    depth: str, pool: _InProcessPool, counts: list[int]
) -> Callable[[int], Awaitable[None]]:
    """A conversation read at `depth`: what the HTTP server reads (`engine`), the Run's
    event batches (`run`: UpstreamRun), or the stream's bytes (`transport`)."""
    url = "http://backend.invalid" + RUN_PATH
    if depth == "engine":
        backend = CursorBackend(
            BackendConfig(api_url=url, agent_url="http://backend.invalid"), pool
        )
        service = EngineService(backend)
        choice = ModelChoice(ModelInfo("bench-model", "Bench"), "bench-model")

        async def conversation(index: int) -> None:
            request = ChatRequest("bench-model", (ChatMessage("user", f"hello {index}"),))
            async with contextlib.aclosing(service.stream_turn(request, choice)) as turn:
                async for _batch in turn:
                    counts[index] += 1
            await backend.aclose()

        return conversation
    if depth == "run":

        async def run(index: int) -> None:
            machine = RunMachine(blobs=MemoryBlobStore(), request_context=agent.RequestContext())
            stream = await pool.open_stream(url, [])
            upstream = UpstreamRun(stream, machine, agent.AgentRunRequest())
            async with contextlib.aclosing(upstream.batches()) as batches:
                async for _batch in batches:
                    counts[index] += 1

        return run

    async def transport(index: int) -> None:
        stream = await pool.open_stream(url, [])
        while await stream.receive(idle_timeout=120.0) is not None:
            counts[index] += 1

    return transport


async def per_word(streams: int, words: int, depth: str) -> float:
    """Microseconds of CPU per paced word, `streams` conversations at once, read at `depth`."""
    loop = asyncio.get_running_loop()
    pool = _InProcessPool(loop)
    batches = [0] * streams
    conversation = _reader(depth, pool, batches)
    tasks = [loop.create_task(conversation(i)) for i in range(streams)]
    await _settle(lambda: len(pool.streams) == streams)
    encoders = {id(c): Encoder() for c in pool.connections}  # HPACK state is per connection
    for connection, stream in pool.streams:
        head = encoders[id(connection)].encode(
            [(":status", "200"), ("content-type", "application/connect+proto")]
        )
        connection.data_received(_frame(_HEADERS, _END_HEADERS, stream.stream_id, head))
    await _settle(lambda: all(s._status is not None for _, s in pool.streams))
    await _settle(lambda: all(s._inbound_waiter is not None for _, s in pool.streams))
    bodies = [_word_body(w) for w in range(10)]
    frames = [
        [(c.data_received, _frame(_DATA, 0, s.stream_id, bodies[w % 10])) for c, s in pool.streams]
        for w in range(words)
    ]
    gc.collect()
    started = time.process_time()
    for round_ in frames:
        for deliver, frame in round_:
            deliver(frame)
            await asyncio.sleep(0)  # the reader runs, as it would before the next socket read
    used = time.process_time() - started
    if sum(batches) < streams * words:  # one per word (the first one also starts the turn)
        raise RuntimeError(f"only {sum(batches)} of {streams * words} batches arrived")
    for connection, stream in pool.streams:
        connection.data_received(_frame(_DATA, _END_STREAM, stream.stream_id, _end_body()))
    await asyncio.gather(*tasks)
    return used / (streams * words) * 1e6


def _run(main: Coroutine[Any, Any, float]) -> float:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=200, help="conversations at once")
    parser.add_argument("--words", type=int, default=300, help="paced words per conversation")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is reported")
    parser.add_argument(
        "--depth",
        nargs="+",
        choices=DEPTHS,
        default=["engine"],
        help="where the words are read: the engine's output batches (what the HTTP server "
        "reads), the Run's event batches, or the HTTP/2 stream's bytes",
    )
    args = parser.parse_args()
    for depth in args.depth:
        figures = [_run(per_word(args.streams, args.words, depth)) for _ in range(args.repeat)]
        print(
            f"paced word, {args.streams} streams, read at {depth:>9}: {min(figures):6.1f} us "
            f"CPU per word (rounds: {', '.join(f'{f:.1f}' for f in figures)})"
        )


if __name__ == "__main__":
    main()
