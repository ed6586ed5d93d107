"""Injected faults (`/fault ...`): what the client sees, how the server counts them."""

from __future__ import annotations

import asyncio

import pytest
from emulator_client import H2Client
from run_driver import TurnDriver, user_request

from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
from cursor_bridge.protocol.messages import agent
from tests.support.polling import wait_until


async def test_disconnect_resets_the_stream_after_three_deltas(
    emulator: EmulatorServer, client: H2Client
) -> None:
    transcript = await TurnDriver(client).run(user_request("/tokens 20\n/fault disconnect"))
    assert transcript.reset_code == 8  # CANCEL
    assert transcript.end is None
    assert transcript.kinds.count("update.text_delta") == 3
    await emulator.wait_runs_settled()
    assert emulator.counters.runs_faulted == 1


@pytest.mark.parametrize("options", [EmulatorOptions(heartbeat_interval=0.01)])
async def test_stall_sends_nothing_after_the_first_delta(
    emulator: EmulatorServer, client: H2Client
) -> None:
    first_delta = asyncio.Event()

    async def note(message: agent.AgentServerMessage, driver: TurnDriver) -> None:
        if message.interaction_update.WhichOneof("message") == "text_delta":
            first_delta.set()

    driver = TurnDriver(client, on_message=note)
    reading = asyncio.create_task(driver.run(user_request("/tokens 20\n/fault stall")))
    await first_delta.wait()
    kinds = driver.transcript.kinds
    # The token count goes with the delta; then the stall. (Heartbeats sent while the Run
    # waited for the client before its first delta do not count: a loaded machine may
    # answer slower than the 10 ms period.)
    await wait_until(lambda: kinds[-1:] == ["update.token_delta"])
    sent = emulator.counters.frames_out
    # Absence can only be shown over time: ten heartbeat periods without a frame.
    await asyncio.sleep(0.1)
    assert kinds[kinds.index("update.text_delta") :] == ["update.text_delta", "update.token_delta"]
    assert emulator.counters.frames_out == sent
    driver.cancel()
    reading.cancel()
    await emulator.wait_runs_settled()
    # The client's reset ends a stalled Run: cancelled, like any client reset.
    assert emulator.counters.runs_cancelled == 1
    assert emulator.counters.runs_faulted == 0 and emulator.counters.faults_injected == 1


@pytest.mark.parametrize(
    ("line", "code", "message"),
    [
        ("/fault error resource_exhausted", "resource_exhausted", "You've hit your usage limit"),
        ("/fault error unauthenticated", "unauthenticated", "Not logged in"),
        ("/fault error unavailable try again later", "unavailable", "try again later"),
    ],
)
async def test_error_fault_ends_with_that_connect_error(
    emulator: EmulatorServer, client: H2Client, line: str, code: str, message: str
) -> None:
    transcript = await TurnDriver(client).run(user_request(f"/tokens 5\n{line}"))
    assert transcript.kinds.count("update.text_delta") == 1
    assert transcript.end is not None and transcript.end.error is not None
    assert (transcript.end.error.code, transcript.end.error.message) == (code, message)
    assert emulator.counters.runs_failed == 1


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("/fault malformed", "undecodable AgentServerMessage"),
        ("/fault malformed flags", "unknown envelope flags 0x40"),
        ("/fault huge-frame", "exceeds the 33554432-byte limit"),
    ],
)
async def test_broken_frames_are_rejected_by_the_client_decoder(
    emulator: EmulatorServer, client: H2Client, line: str, complaint: str
) -> None:
    transcript = await TurnDriver(client).run(user_request(f"/tokens 5\n{line}"))
    assert transcript.protocol_error is not None and complaint in transcript.protocol_error
    # The decoder drops the good frames that share a chunk with the bad one: at most one.
    assert transcript.kinds.count("update.text_delta") <= 1
    assert "update.turn_ended" not in transcript.kinds
    await emulator.wait_runs_settled()
    assert emulator.counters.runs_cancelled == 1  # the client reset the stream
    assert emulator.counters.faults_injected == 1


async def test_end_early_sends_a_clean_end_before_turn_ended(
    emulator: EmulatorServer, client: H2Client
) -> None:
    transcript = await TurnDriver(client).run(user_request("/tokens 5\n/fault end-early"))
    assert transcript.end is not None and transcript.end.error is None
    assert transcript.turn_ended is None
    assert transcript.kinds.count("update.text_delta") == 1
    assert emulator.counters.runs_faulted == 1


async def test_goaway_lets_the_run_finish_then_closes_the_connection(
    emulator: EmulatorServer,
) -> None:
    client = await H2Client.connect(emulator.port, tolerate_goaway=True)
    async with client:
        driver = TurnDriver(client)
        transcript = await driver.run(user_request("/tokens 5\n/fault goaway"))
        assert transcript.text.split() == ["alpha", "bravo", "charlie", "delta", "echo"]
        assert transcript.turn_ended is not None
        assert transcript.end is not None and transcript.end.error is None
        goaway = await client.goaway
        assert driver.stream is not None
        assert goaway.error_code == 0 and goaway.last_stream_id == driver.stream.stream_id
        await client.closed.wait()
    assert emulator.counters.runs_completed == 1 and emulator.counters.faults_injected == 1
    async with await H2Client.connect(emulator.port) as fresh:
        transcript = await TurnDriver(fresh).run(user_request("/reply again"))
        assert transcript.text == "again"
    assert emulator.counters.connections == 2


async def test_goaway_close_drops_every_run_on_the_connection(
    emulator: EmulatorServer, client: H2Client
) -> None:
    bystander = TurnDriver(client, reject_context=False)
    parked = asyncio.Event()

    async def park(message: agent.AgentServerMessage, driver: TurnDriver) -> None:
        if message.WhichOneof("message") == "exec_server_message":
            parked.set()

    bystander.on_message = park
    bystander_run = asyncio.create_task(bystander.run(user_request("/tool slow {}")))
    await parked.wait()
    transcript = await TurnDriver(client).run(user_request("/tokens 5\n/fault goaway close"))
    assert transcript.end is None and transcript.turn_ended is None
    await client.closed.wait()
    other = await bystander_run
    assert other.end is None and other.turn_ended is None
    await emulator.wait_runs_settled()
    assert emulator.counters.runs_faulted == 1
    assert emulator.counters.runs_cancelled == 1
