"""Streamed words on the cheap path (emulator/words.py, pacer.py) are what the message path sends.

The reference is the per-message path (`plain_updates` off: every delta and token delta a
protobuf object through `send_update`, a sleep per word), which is how every word went out
before; the bytes each Run queues on its stream are recorded and compared frame by frame.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from emulator_client import H2Client, run_headers
from run_driver import TurnDriver, user_request

from cursor_bridge.emulator import EmulatorOptions, EmulatorServer, turn
from cursor_bridge.emulator.connection import ServerStream
from cursor_bridge.emulator.run import RunSession
from cursor_bridge.emulator.words import TOKEN_DELTA_ONE, text_delta, thinking_delta
from cursor_bridge.protocol.framing import FLAG_COMPRESSED, FLAG_END_STREAM, EnvelopeDecoder
from cursor_bridge.protocol.messages import agent

TEXTS = ["", "a", "alpha ", "naïve — ünïcode ✓ ", "x" * 127, "y" * 128, "z" * 20_000]


def _message(**update: object) -> bytes:
    message = agent.AgentServerMessage(interaction_update=agent.InteractionUpdate(**update))
    return message.SerializeToString()


@pytest.mark.parametrize("text", TEXTS)
def test_hand_encoded_deltas_are_what_protobuf_serialises(text: str) -> None:
    assert text_delta(text) == _message(text_delta=agent.TextDeltaUpdate(text=text))
    assert thinking_delta(text) == _message(thinking_delta=agent.ThinkingDeltaUpdate(text=text))
    # /trace: ttft_breakdown (field 8 of AgentServerMessage) after the update
    traced = agent.AgentServerMessage.FromString(text_delta(text, trace=True))
    assert traced.interaction_update.text_delta.text == text
    assert text_delta(text, trace=True) == text_delta(text) + b"\x42\x02\x08\x0c"


def test_token_delta_frame_is_what_protobuf_serialises() -> None:
    assert _message(token_delta=agent.TokenDeltaUpdate(tokens=1)) == TOKEN_DELTA_ONE


# -- the same frames as the message path --------------------------------------------------

Writes = dict[int, list[tuple[float, bytes]]]


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Writes]:
    """Every write a Run queues on its stream, with the monotonic time it was queued."""
    recorded: Writes = defaultdict(list)
    original = ServerStream.write_nowait

    def write_nowait(self: ServerStream, data: bytes) -> None:
        recorded[self.stream_id].append((time.monotonic(), bytes(data)))
        original(self, data)

    monkeypatch.setattr(ServerStream, "write_nowait", write_nowait)
    yield recorded


def _frames(chunks: list[tuple[float, bytes]]) -> list[tuple[int, bytes]]:
    """(flags, payload) of each frame (payloads decompressed)."""
    data = b"".join(data for _, data in chunks)
    return [(envelope.flags, envelope.payload) for envelope in EnvelopeDecoder().feed(data)]


@pytest.fixture
def still_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Step and thinking durations (and so the blobs holding them) of 0 ms in every Run."""
    monkeypatch.setattr(turn, "time", SimpleNamespace(monotonic=lambda: 0.0))


async def _turn(
    options: EmulatorOptions, text: str, writes: Writes, headers: list[tuple[str, str]]
) -> tuple[list[tuple[int, bytes]], dict[str, int]]:
    """The frames of one Run of *text* on a fresh emulator, and its counters after it."""
    writes.clear()
    server = EmulatorServer(options=options)
    await server.start()
    try:
        async with await H2Client.connect(server.port) as client:
            context = agent.RequestContext()
            driver = TurnDriver(client, headers=headers)
            await driver.run(user_request(text, request_context=context))
        [chunks] = writes.values()
        return _frames(chunks), server.counters.as_dict()
    finally:
        await server.stop()


SCRIPTS = [
    "/think a few thoughts first\n/tokens 12",
    "/trace\n/tokens 5",
    "/compress\n/think zipped\n/tokens 4",
    "/tokens 6\n/fault end-early",
    "/tokens 6\n/fault disconnect",
    "/tokens 2\n/fault error unavailable",
]


@pytest.mark.parametrize("latency", [0.002, 0.0])
@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.usefixtures("still_clock")
async def test_cheap_path_sends_the_frames_of_the_message_path(
    script: str, latency: float, writes: Writes, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = EmulatorOptions(token_latency=latency, gzip_min_size=64)
    headers = run_headers(**{"connect-accept-encoding": "gzip"})
    cheap, cheap_counters = await _turn(options, script, writes, headers)
    monkeypatch.setattr(RunSession, "plain_updates", False)
    reference, reference_counters = await _turn(options, script, writes, headers)

    assert cheap == reference
    assert cheap_counters == reference_counters
    kinds = [_kind(payload) for flags, payload in cheap if not flags & FLAG_END_STREAM]
    assert "text_delta" in kinds and "token_delta" in kinds  # streamed words were compared
    if script.startswith("/compress"):
        assert all(flags & FLAG_COMPRESSED for flags, _ in cheap[:-1])


def _kind(payload: bytes) -> str | None:
    return agent.AgentServerMessage.FromString(payload).interaction_update.WhichOneof("message")


@pytest.mark.usefixtures("still_clock")
async def test_unpaced_words_beyond_the_yield_batch_are_the_same(
    writes: Writes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More words than one batch between yields (64), thinking and answer sharing the count."""
    script = "/think " + " ".join(f"t{n}" for n in range(70)) + "\n/tokens 200"
    cheap, cheap_counters = await _turn(EmulatorOptions(), script, writes, run_headers())
    monkeypatch.setattr(RunSession, "plain_updates", False)
    reference, reference_counters = await _turn(EmulatorOptions(), script, writes, run_headers())
    assert cheap == reference
    assert cheap_counters == reference_counters
    assert sum(1 for _, p in cheap if p == TOKEN_DELTA_ONE) == 270


# -- pacing ---------------------------------------------------------------------------------


def _word_times(chunks: list[tuple[float, bytes]]) -> list[float]:
    """When each text delta was queued (a word and its token delta go in one write)."""
    times = []
    for at, data in chunks:
        for envelope in EnvelopeDecoder().feed(data):
            if not envelope.end_stream and _kind(envelope.payload) == "text_delta":
                times.append(at)
    return times


@pytest.mark.parametrize("options", [EmulatorOptions(token_latency=0.01)])
async def test_each_stream_keeps_its_own_pace(client: H2Client, writes: Writes) -> None:
    """Two Runs at once: each one's words are at least a pause apart (the pacer never sends
    a stream's next word early), and the Runs stream side by side, not one after the other."""
    long_run = TurnDriver(client).run(user_request("/tokens 30"))
    short_run = TurnDriver(client).run(user_request("/tokens 8"))
    long_text, short_text = await asyncio.gather(long_run, short_run)
    assert len(long_text.text.split()) == 30 and len(short_text.text.split()) == 8

    by_stream = sorted((_word_times(chunks) for chunks in writes.values()), key=len)
    short, long = by_stream
    assert len(short) == 8 and len(long) == 30
    for times in by_stream:
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.01 - 0.002, gaps  # the loop clock's resolution at most
    # Side by side: the short Run's words went out while the long Run was streaming.
    assert long[0] < short[-1] < long[-1]


@pytest.mark.parametrize("options", [EmulatorOptions(token_latency=0.002)])
async def test_a_short_pause_still_spaces_every_word(client: H2Client, writes: Writes) -> None:
    """Pauses near the timer's resolution: the words still come one pause apart, not in a
    burst (a word queued again in a tick waits for the next one)."""
    transcript = await TurnDriver(client).run(user_request("/tokens 30"))
    assert len(transcript.text.split()) == 30
    [times] = [_word_times(chunks) for chunks in writes.values()]
    assert times[-1] - times[0] >= 29 * 0.002 - 0.002
