"""Requests the service refuses, and Runs the client ends early."""

from __future__ import annotations

import asyncio

import pytest
from emulator_client import H2Client, run_headers
from run_driver import TurnDriver, user_request

from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
from cursor_bridge.protocol.framing import EnvelopeDecoder, encode_envelope, parse_end_stream
from cursor_bridge.protocol.messages import agent


async def end_stream_error(client: H2Client, headers: list[tuple[str, str]], body: bytes) -> str:
    """Open a Run, send *body*, return `code: message` of the end-stream frame."""
    stream = await client.open("/agent.v1.AgentService/Run", headers, end=False)
    await stream.send(body)
    assert await stream.status() == 200
    envelopes = EnvelopeDecoder().feed(await stream.body())
    assert envelopes[-1].end_stream
    error = parse_end_stream(envelopes[-1].payload).error
    assert error is not None
    return f"{error.code}: {error.message}"


def run_request_frame(model: str = "claude-4.6-sonnet") -> bytes:
    message = agent.AgentClientMessage(run_request=user_request("hi", model=model))
    return encode_envelope(message.SerializeToString())


async def test_unknown_model_is_invalid_argument(
    emulator: EmulatorServer, client: H2Client
) -> None:
    error = await end_stream_error(client, run_headers(), run_request_frame("gpt-0"))
    assert error == "invalid_argument: model not found"
    assert emulator.counters.runs_failed == 1


async def test_model_aliases_and_auto_are_accepted(client: H2Client) -> None:
    for model in ("default", "auto", "claude-4.6-opus-high", "GPT-5.4"):
        transcript = await TurnDriver(client).run(user_request("/reply ok", model=model))
        assert transcript.text == "ok", model


@pytest.mark.parametrize("options", [EmulatorOptions(expected_token="secret")])
async def test_missing_or_wrong_token_is_unauthenticated(client: H2Client) -> None:
    for headers in (run_headers(), run_headers(token="wrong")):
        error = await end_stream_error(client, headers, run_request_frame())
        assert error.startswith("unauthenticated: ")
    transcript = await TurnDriver(client, headers=run_headers(token="secret")).run(
        user_request("/reply in")
    )
    assert transcript.text == "in"


async def test_wrong_content_type_is_415(emulator: EmulatorServer, client: H2Client) -> None:
    stream = await client.open(
        "/agent.v1.AgentService/Run",
        run_headers(**{"content-type": "application/grpc-web+proto"}),
        end=False,
    )
    await stream.send(run_request_frame())
    assert await stream.status() == 415
    assert emulator.counters.runs_failed == 1


async def test_client_version_is_required_and_must_be_a_cli_version(client: H2Client) -> None:
    missing = run_headers(**{"x-cursor-client-version": None})
    assert (await end_stream_error(client, missing, run_request_frame())).startswith(
        "invalid_argument: "
    )
    outdated = run_headers(**{"x-cursor-client-version": "1.2.3"})
    assert (await end_stream_error(client, outdated, run_request_frame())).startswith(
        "failed_precondition: outdated client"
    )


async def test_first_frame_must_be_a_run_request(client: H2Client) -> None:
    heartbeat = agent.AgentClientMessage(client_heartbeat=agent.ClientHeartbeat())
    error = await end_stream_error(
        client, run_headers(), encode_envelope(heartbeat.SerializeToString())
    )
    assert error == "invalid_argument: the first message of a Run must be run_request"


async def test_undecodable_client_frame_is_invalid_argument(client: H2Client) -> None:
    error = await end_stream_error(client, run_headers(), encode_envelope(b"\x0f\xff"))
    assert error.startswith("invalid_argument: ")


async def test_client_reset_cancels_the_run(emulator: EmulatorServer, client: H2Client) -> None:
    async def reset_on_first_delta(message: agent.AgentServerMessage, driver: TurnDriver) -> None:
        if message.interaction_update.WhichOneof("message") == "text_delta":
            driver.cancel()

    await TurnDriver(client, on_message=reset_on_first_delta).run(user_request("/tokens 100000"))
    await emulator.wait_runs_settled()
    assert emulator.counters.runs_cancelled == 1
    assert emulator.counters.runs_completed == 0


async def test_cancel_action_ends_the_run_with_canceled(
    emulator: EmulatorServer, client: H2Client
) -> None:
    async def cancel_on_first_delta(message: agent.AgentServerMessage, driver: TurnDriver) -> None:
        if message.interaction_update.WhichOneof("message") == "step_started":
            action = agent.ConversationAction(cancel_action=agent.CancelAction())
            await driver.send(agent.AgentClientMessage(conversation_action=action))

    transcript = await TurnDriver(client, on_message=cancel_on_first_delta).run(
        user_request("/tokens 100000")
    )
    assert transcript.end is not None and transcript.end.error is not None
    assert transcript.end.error.code == "canceled"
    assert "update.turn_ended" not in transcript.kinds
    assert emulator.counters.runs_cancelled == 1


async def test_client_half_close_before_turn_end_cancels(
    emulator: EmulatorServer, client: H2Client
) -> None:
    stream = await client.open("/agent.v1.AgentService/Run", run_headers(), end=False)
    await stream.send(run_request_frame(), end=True)
    envelopes = EnvelopeDecoder().feed(await stream.body())
    error = parse_end_stream(envelopes[-1].payload).error
    assert error is not None and error.code == "canceled"
    assert emulator.counters.runs_cancelled == 1


@pytest.mark.parametrize(
    "options", [EmulatorOptions(client_idle_timeout=0.05, heartbeat_interval=0.01)]
)
async def test_silent_client_hits_the_idle_timeout(
    emulator: EmulatorServer, client: H2Client
) -> None:
    transcript = await SilentDriver(client).run(user_request("hi"))
    assert transcript.end is not None and transcript.end.error is not None
    assert transcript.end.error.code == "deadline_exceeded"
    assert transcript.kinds.count("update.heartbeat") >= 1


class SilentDriver(TurnDriver):
    """Never answers anything (not even request_context) and sends no heartbeat."""

    async def _answer(self, message: agent.AgentServerMessage) -> None:
        return None


async def test_stop_ends_runs_in_flight(emulator: EmulatorServer, client: H2Client) -> None:
    parked = asyncio.Event()

    async def park(message: agent.AgentServerMessage, driver: TurnDriver) -> None:
        if message.exec_server_message.HasField("mcp_args"):
            parked.set()

    run = asyncio.create_task(TurnDriver(client, on_message=park).run(user_request("/tool x {}")))
    await parked.wait()
    await emulator.stop()
    transcript = await run
    assert transcript.end is None and transcript.turn_ended is None
    assert emulator.counters.runs_cancelled == 1 and emulator.counters.runs_active == 0
