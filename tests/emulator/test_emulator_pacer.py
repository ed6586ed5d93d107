"""The Pacer's edge cases (emulator/pacer.py): back-pressure, a Run that ends, a stream
that goes, a task that is cancelled; and a reset mid-answer on a real emulator."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import cast

import pytest
from emulator_client import H2Client
from run_driver import TurnDriver, user_request

from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
from cursor_bridge.emulator.connection import HIGH_WATER, StreamGone
from cursor_bridge.emulator.counters import EmulatorCounters
from cursor_bridge.emulator.pacer import ENDED, Pacer
from cursor_bridge.emulator.run import RunSession
from cursor_bridge.protocol.messages import agent


@dataclass
class _Stream:
    sent: list[bytes] = field(default_factory=list)
    buffered: int = 0
    gone_after: int | None = None

    def write_nowait(self, data: bytes) -> None:
        if self.gone_after is not None and len(self.sent) >= self.gone_after:
            raise StreamGone(1)
        self.sent.append(data)
        self.buffered += len(data)


@dataclass
class _Session:
    stream: _Stream = field(default_factory=_Stream)
    counters: EmulatorCounters = field(default_factory=EmulatorCounters)
    outcome: str | None = None


def _play(pacer: Pacer, session: _Session, words: int) -> asyncio.Future[int]:
    frames = [f"w{n}".encode() for n in range(words)]
    return pacer.play(cast(RunSession, session), frames, 0, 2, 0.001)


async def test_plays_every_word_and_counts_two_frames_each() -> None:
    session = _Session()
    assert await _play(Pacer(), session, 5) == 5
    assert session.stream.sent == [b"w0", b"w1", b"w2", b"w3", b"w4"]
    assert session.counters.frames_out == 10


async def test_stops_early_when_the_send_buffer_is_over_its_high_water_mark() -> None:
    session = _Session()
    session.stream.buffered = HIGH_WATER - 1  # the second word crosses it
    assert await _play(Pacer(), session, 5) == 1
    assert session.stream.sent == [b"w0"]


async def test_a_run_that_ended_or_a_stream_that_went_gets_ended() -> None:
    pacer = Pacer()
    gone = _Session(stream=_Stream(gone_after=2))
    ended = _Session()
    ending = _play(pacer, ended, 50)
    assert await _play(pacer, gone, 5) == ENDED
    assert gone.stream.sent == [b"w0", b"w1"]
    ended.outcome = "cancelled"
    assert await ending == ENDED
    assert len(ended.stream.sent) < 50


async def test_a_cancelled_wait_is_dropped_and_the_others_play_on() -> None:
    pacer = Pacer()
    dropped, kept = _Session(), _Session()
    cancelled = _play(pacer, dropped, 50)
    playing = _play(pacer, kept, 10)
    cancelled.cancel()
    assert await playing == 10
    assert len(dropped.stream.sent) == 1  # only the word sent at once


@pytest.mark.parametrize("options", [EmulatorOptions(token_latency=0.01)])
async def test_a_reset_mid_answer_cancels_the_run_and_the_next_run_streams(
    emulator: EmulatorServer, client: H2Client
) -> None:
    async def reset_after_three(message: agent.AgentServerMessage, driver: TurnDriver) -> None:
        if driver.transcript.kinds.count("update.text_delta") == 3:
            driver.cancel()

    cut = await TurnDriver(client, on_message=reset_after_three).run(user_request("/tokens 50"))
    assert cut.kinds.count("update.text_delta") == 3
    await asyncio.wait_for(emulator.wait_runs_settled(), 10)
    assert emulator.counters.runs_cancelled == 1

    whole = await TurnDriver(client).run(user_request("/tokens 6"))
    assert whole.text == "alpha bravo charlie delta echo foxtrot"
    assert emulator.counters.runs_completed == 1
