"""The bridge's CPU per upstream DATA frame of a Run: one read through `Connection`, `h2`,
the stream, the Run's in-place reader and the RunMachine, and the KV answer written back.

    uv run python benchmarks/kv_cycle.py [--cycles 20000] [--words 3] [--repeat 7]

For instruction counts (robust to other load), run it under callgrind with `--repeat 1`
at two `--cycles` (or `--text-reads`) values and divide the difference.

No sockets and no emulator: a Connection over a fake socket, one open Run stream, fed
the frames a new conversation brings (a `set_blob` request per read, as the backend sends
them, each answered before the next; and reads of text deltas), timed per read (best of
`--repeat` runs, in microseconds of this process's CPU time, so comparisons hold under
load). For A/B comparisons of the receive path, run it on both checkouts back to back.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time

from hpack import Encoder
from hyperframe.frame import DataFrame, HeadersFrame, SettingsFrame

from cursor_bridge.engine.turn_state import TurnBlobs
from cursor_bridge.engine.upstream import UpstreamRun
from cursor_bridge.protocol.blobs import MemoryBlobStore
from cursor_bridge.protocol.framing import encode_envelope
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.run import RunMachine
from cursor_bridge.transport.connection import Connection
from cursor_bridge.transport.origin import parse_url


class _Wire:
    """The socket under the Connection: counts what is written."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str) -> None:
        return None

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def _data(stream_id: int, payload: bytes) -> bytes:
    frame = DataFrame(stream_id)
    frame.data = payload
    return frame.serialize()


def _set_blob(kv_id: int, data: bytes) -> bytes:
    args = agent.SetBlobArgs(blob_id=hashlib.sha256(data).digest(), blob_data=data)
    message = agent.AgentServerMessage(
        kv_server_message=agent.KvServerMessage(id=kv_id, set_blob_args=args)
    )
    return encode_envelope(message.SerializeToString())


def _words(count: int) -> bytes:
    out = b""
    for n in range(count):
        text = agent.InteractionUpdate(text_delta=agent.TextDeltaUpdate(text=f" w{n % 10}"))
        tokens = agent.InteractionUpdate(token_delta=agent.TokenDeltaUpdate(tokens=1))
        for update in (text, tokens):
            message = agent.AgentServerMessage(interaction_update=update)
            out += encode_envelope(message.SerializeToString())
    return out


async def _run(cycles: int, words: int, text_reads: int) -> tuple[float, float]:
    """(µs per set_blob read and answer, µs per read of `words` words)."""
    origin, _ = parse_url("http://backend.invalid")
    loop = asyncio.get_running_loop()
    connection = Connection(origin, loop)
    wire = _Wire()
    connection.connection_made(wire)  # type: ignore[arg-type]
    connection.data_received(SettingsFrame(0).serialize())
    stream = connection.start_stream("/run", [])
    sid = stream.stream_id
    headers = HeadersFrame(sid)
    headers.data = Encoder().encode([(":status", "200")])
    headers.flags.add("END_HEADERS")
    connection.data_received(headers.serialize())
    await stream.response_headers()
    context = agent.RequestContext()
    machine = RunMachine(blobs=TurnBlobs(MemoryBlobStore()), request_context=context)
    machine.start(agent.AgentRunRequest())
    run = UpstreamRun(stream, machine, agent.AgentRunRequest())
    stream.consume_inline(run._read_inline)
    blobs = [bytes([n % 251]) * (200 + 37 * (n % 6) * 20) for n in range(6)]
    kinds = [_data(sid, _set_blob(n + 1, blob)) for n, blob in enumerate(blobs)]
    reads = [kinds[n % 6] for n in range(cycles)]
    # Room to answer them all: the windows we send in (the server's credit) made large.
    h2 = connection._h2
    h2.outbound_flow_control_window = h2.streams[sid].outbound_flow_control_window = 1 << 30
    text = _data(sid, _words(words))
    # Each read is answered (its bytes queued and flushed) before the next arrives.
    receive = connection.data_received
    started = time.process_time()
    for read in reads:
        receive(read)
    kv = time.process_time() - started
    run._take_inline()
    word_reads = max(1, text_reads)
    started = time.process_time()
    for _ in range(word_reads):
        receive(text)
        run._take_inline()  # (the reader's part: take the events, read in place again)
    text_time = time.process_time() - started
    assert wire.written > 0
    return kv / max(1, cycles) * 1e6, text_time / word_reads * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--words", type=int, default=3)
    parser.add_argument("--text-reads", type=int, default=5000)
    args = parser.parse_args()
    try:  # the bridge runs on uvloop when it is installed (listen.py)
        import uvloop

        run = uvloop.run
    except ModuleNotFoundError:
        run = asyncio.run
    kv: list[float] = []
    text: list[float] = []
    for _ in range(args.repeat):
        one, two = run(_run(args.cycles, args.words, args.text_reads))
        kv.append(one)
        text.append(two)
    print(f"set_blob read + answer: {min(kv):.2f} us (best of {args.repeat})")
    print(f"read of {args.words} words: {min(text):.2f} us (best of {args.repeat})")


if __name__ == "__main__":
    main()
