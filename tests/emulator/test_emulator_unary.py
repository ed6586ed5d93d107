"""The unary RPCs: model lists, server config, counters, unknown paths, auth."""

from __future__ import annotations

import json

import pytest
from emulator_client import CLIENT_VERSION, H2Client
from run_driver import TurnDriver, user_request

from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
from cursor_bridge.protocol.messages import agent

JSON = [("content-type", "application/json"), ("accept", "application/json")]
PROTO = [("content-type", "application/proto"), ("accept", "application/proto")]
BASE = [("x-cursor-client-version", CLIENT_VERSION), ("x-cursor-client-type", "cli")]


async def test_get_usable_models_binary(emulator: EmulatorServer, client: H2Client) -> None:
    body = agent.GetUsableModelsRequest().SerializeToString()
    status, headers, raw = await client.unary(
        "/agent.v1.AgentService/GetUsableModels", body, [*PROTO, *BASE]
    )
    assert status == 200 and headers["content-type"] == "application/proto"
    response = agent.GetUsableModelsResponse.FromString(raw)
    by_id = {m.model_id: m for m in response.models}
    assert {"default", "composer-1", "claude-4.6-sonnet", "claude-4.6-opus", "gpt-5.4"} <= set(
        by_id
    )
    assert by_id["claude-4.6-opus"].HasField("thinking_details")
    assert not by_id["composer-1"].HasField("thinking_details")
    assert by_id["default"].display_name == "Auto"
    assert "claude-4.6-opus-high" in by_id["claude-4.6-opus"].aliases
    assert by_id["gpt-5.4"].display_model_id == "gpt-5.4"
    assert emulator.counters.unary_calls == 1


async def test_get_usable_models_json(client: H2Client) -> None:
    status, _, raw = await client.unary("/agent.v1.AgentService/GetUsableModels", b"{}", JSON)
    assert status == 200
    models = json.loads(raw)["models"]
    assert models[0]["modelId"] == "default"


async def test_available_models_json_has_variants_and_parameters(client: H2Client) -> None:
    body = json.dumps(
        {
            "includeLongContextModels": True,
            "useModelParameters": True,
            "useCloudAgentEffortModes": True,
        }
    ).encode()
    status, headers, raw = await client.unary("/aiserver.v1.AiService/AvailableModels", body, JSON)
    assert status == 200 and headers["content-type"] == "application/json"
    models = {m["name"]: m for m in json.loads(raw)["models"]}
    opus = models["claude-4.6-opus"]
    assert opus["clientDisplayName"] == "Claude 4.6 Opus"
    assert opus["serverModelName"] == "claude-4.6-opus"
    assert opus["supportsThinking"] and opus["supportsMaxMode"] and opus["supportsAgent"]
    assert opus["contextTokenLimit"] == 200_000
    assert opus["contextTokenLimitForMaxMode"] == 1_000_000
    assert {"id": "effort", "values": ["low", "medium", "high"]} in opus["parameterDefinitions"]
    default_non_max = [v for v in opus["variants"] if v.get("isDefaultNonMaxConfig")]
    default_max = [v for v in opus["variants"] if v.get("isDefaultMaxConfig")]
    assert [v["parameterValues"] for v in default_non_max] == [
        [{"id": "effort", "value": "high"}, {"id": "context", "value": "200k"}]
    ]
    assert default_max[0]["isMaxMode"] is True
    assert {"id": "context", "value": "1m"} in default_max[0]["parameterValues"]
    assert models["gpt-5.4"]["contextTokenLimit"] == 272_000
    assert models["gemini-3.1-pro"]["contextTokenLimit"] == 1_000_000


async def test_variant_parameters_are_accepted_by_run(client: H2Client) -> None:
    _, _, raw = await client.unary("/aiserver.v1.AiService/AvailableModels", b"{}", JSON)
    gpt = next(m for m in json.loads(raw)["models"] if m["name"] == "gpt-5.4")
    for variant in gpt["variants"]:
        request = user_request("/reply ok", model="gpt-5.4")
        request.requested_model.max_mode = bool(variant.get("isMaxMode"))
        for value in variant["parameterValues"]:
            request.requested_model.parameters.add(id=value["id"], value=value["value"])
        transcript = await TurnDriver(client).run(request)
        assert transcript.text == "ok"
        expected = 1_000_000 if variant.get("isMaxMode") else 272_000
        assert transcript.checkpoint is not None
        assert transcript.checkpoint.token_details.max_tokens == expected


async def test_server_config_points_back_at_the_emulator(client: H2Client) -> None:
    body = json.dumps({"telem_enabled": False}).encode()
    status, _, raw = await client.unary(
        "/aiserver.v1.ServerConfigService/GetServerConfig", body, JSON
    )
    assert status == 200
    assert json.loads(raw)["agentUrlConfig"]["agentnUrl"] == "http://localhost"


async def test_counters_endpoint(emulator: EmulatorServer, client: H2Client) -> None:
    await TurnDriver(client).run(user_request("/reply x"))
    status, _, raw = await client.unary("/emulator/counters", b"", [], method="GET")
    assert status == 200
    counters = json.loads(raw)
    assert counters["runs_opened"] == counters["runs_completed"] == 1
    assert counters["runs_active"] == 0
    assert counters["blobs_set"] == 6  # 3 root entries, user message, step, turn


async def test_unknown_path_is_unimplemented(client: H2Client) -> None:
    status, _, raw = await client.unary("/agent.v1.AgentService/NameAgent", b"{}", JSON)
    assert status == 404
    assert json.loads(raw)["code"] == "unimplemented"


async def test_undecodable_unary_body_is_invalid_argument(client: H2Client) -> None:
    status, _, raw = await client.unary("/agent.v1.AgentService/GetUsableModels", b"{", JSON)
    assert status == 400 and json.loads(raw)["code"] == "invalid_argument"


@pytest.mark.parametrize("options", [EmulatorOptions(expected_token="secret")])
async def test_unary_without_token_is_401(client: H2Client) -> None:
    path = "/aiserver.v1.AiService/AvailableModels"
    status, _, raw = await client.unary(path, b"{}", JSON)
    assert status == 401 and json.loads(raw)["code"] == "unauthenticated"
    status, _, _ = await client.unary(path, b"{}", [*JSON, ("authorization", "Bearer secret")])
    assert status == 200
