"""The emulator's account service: login page and poll, API keys, refresh calls, expired and
invalid tokens, HTTP/1.1 beside HTTP/2, clock control."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from emulator_client import H2Client, run_headers
from run_driver import TurnDriver, user_request

from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
from cursor_bridge.protocol import auth as pa
from cursor_bridge.protocol.framing import EnvelopeDecoder, encode_envelope, parse_end_stream
from cursor_bridge.protocol.messages import agent, aiserver

AUTH = EmulatorOptions(require_auth=True, token_lifetime=60)


@pytest.fixture
async def http(emulator: EmulatorServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emulator.url, timeout=10) as client:
        yield client


def login_link(base: str) -> tuple[str, str, str]:
    verifier, login_id = pa.new_verifier(), str(uuid.uuid4())
    return pa.login_url(base, pa.challenge_for(verifier), login_id), login_id, verifier


async def test_login_page_approves_and_poll_hands_tokens_out_once(
    emulator: EmulatorServer, http: httpx.AsyncClient
) -> None:
    url, login_id, verifier = login_link(emulator.url)
    poll = f"{pa.POLL_PATH}?{pa.poll_query(login_id, verifier)}"
    assert (await http.get(poll)).status_code == 404
    page = await http.get(url)
    assert page.status_code == 200 and page.http_version == "HTTP/1.1"
    assert "text/html" in page.headers["content-type"]
    wrong = f"{pa.POLL_PATH}?{pa.poll_query(login_id, pa.new_verifier())}"
    assert (await http.get(wrong)).status_code == 404
    done = await http.get(poll)
    assert done.status_code == 200
    pair = pa.parse_token_pair(done.content)
    assert (await http.get(poll)).status_code == 404, "tokens are handed out once"
    assert emulator.counters.login_pages == 1 and emulator.counters.logins == 1
    claims = json.loads(base64.urlsafe_b64decode(pair.access_token.split(".")[1] + "=="))
    assert claims["sub"] == "auth0|user_emulator0001"
    assert claims["exp"] - claims["iat"] == int(emulator.options.token_lifetime)


async def test_bad_login_links_and_methods(http: httpx.AsyncClient) -> None:
    assert (await http.get(pa.LOGIN_PAGE_PATH + "?challenge=x&uuid=y")).status_code == 400
    assert (await http.post(pa.POLL_PATH + "?uuid=x&verifier=y")).status_code == 405
    assert (await http.get(pa.REFRESH_PATH)).status_code == 405


async def test_login_over_http2_prior_knowledge(emulator: EmulatorServer) -> None:
    url, login_id, verifier = login_link(emulator.url)
    async with httpx.AsyncClient(http1=False, http2=True) as h2:
        page = await h2.get(url)
        assert page.status_code == 200 and page.http_version == "HTTP/2"
        done = await h2.get(f"{emulator.url}{pa.POLL_PATH}?{pa.poll_query(login_id, verifier)}")
    assert done.status_code == 200


@pytest.mark.parametrize("options", [EmulatorOptions(api_keys=("crsr_good",))])
async def test_api_key_exchange(emulator: EmulatorServer, http: httpx.AsyncClient) -> None:
    good = await http.post(
        pa.EXCHANGE_API_KEY_PATH, headers={"authorization": "Bearer crsr_good"}, json={}
    )
    assert good.status_code == 200 and pa.parse_token_pair(good.content).access_token
    bad = await http.post(
        pa.EXCHANGE_API_KEY_PATH, headers={"authorization": "Bearer crsr_bad"}, json={}
    )
    assert bad.status_code == 401
    assert emulator.counters.api_key_exchanges == 1


@pytest.mark.parametrize("options", [EmulatorOptions(refresh_endpoints=("token",))])
async def test_switched_off_refresh_calls(
    emulator: EmulatorServer, http: httpx.AsyncClient
) -> None:
    pair = emulator.auth.issue()
    bearer = {"authorization": f"Bearer {pair.refresh_token}"}
    assert (await http.post(pa.REFRESH_PATH, headers=bearer, json={})).status_code == 404
    assert (await http.post(pa.EXCHANGE_API_KEY_PATH, headers=bearer, json={})).status_code == 401
    ok = await http.post(pa.TOKEN_PATH, json={"refreshToken": pair.refresh_token})
    assert ok.status_code == 200 and emulator.counters.refreshes_auth_token == 1
    access = {"authorization": f"Bearer {pair.access_token}"}
    assert (
        await http.post(pa.TOKEN_PATH, json={"refreshToken": pair.access_token})
    ).status_code == 401
    assert (await http.post(pa.TOKEN_PATH, headers=access, json={})).status_code == 401


def config_call(token: str | None) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return headers


@pytest.mark.parametrize("options", [AUTH])
async def test_expired_token_is_refused_on_unary_and_run(
    emulator: EmulatorServer, http: httpx.AsyncClient, client: H2Client
) -> None:
    pair = emulator.auth.issue()
    path = "/aiserver.v1.ServerConfigService/GetServerConfig"
    assert (
        await http.post(path, headers=config_call(pair.access_token), content=b"{}")
    ).status_code == 200
    transcript = await TurnDriver(client, headers=run_headers(token=pair.access_token)).run(
        user_request("/reply fresh")
    )
    assert transcript.text == "fresh"

    now = (await http.post("/emulator/clock", json={"advance": 61})).json()["now"]
    assert now >= emulator.auth.now() - 1
    refused = await http.post(path, headers=config_call(pair.access_token), content=b"{}")
    assert refused.status_code == 401
    error = refused.json()
    assert error["code"] == "unauthenticated"
    detail = error["details"][0]
    assert detail["type"] == "aiserver.v1.ErrorDetails"
    parsed = aiserver.ErrorDetails.FromString(base64.b64decode(detail["value"] + "=="))
    assert parsed.error == 12  # ERROR_AUTH_TOKEN_EXPIRED

    stream = await client.open(
        "/agent.v1.AgentService/Run", run_headers(token=pair.access_token), end=False
    )
    frame = agent.AgentClientMessage(run_request=user_request("hi"))
    await stream.send(encode_envelope(frame.SerializeToString()))
    assert await stream.status() == 200
    envelopes = EnvelopeDecoder().feed(await stream.body())
    end = parse_end_stream(envelopes[-1].payload).error
    assert end is not None and end.code == "unauthenticated"
    assert end.details == ("aiserver.v1.ErrorDetails",)
    assert emulator.counters.expired_tokens_rejected == 2


@pytest.mark.parametrize("options", [AUTH])
async def test_missing_foreign_and_refresh_tokens_are_refused(
    emulator: EmulatorServer, http: httpx.AsyncClient
) -> None:
    path = "/aiserver.v1.AiService/AvailableModels"
    foreign = EmulatorServer(options=EmulatorOptions()).auth.issue().access_token
    for token in (None, "garbage", foreign, emulator.auth.issue().refresh_token):
        response = await http.post(path, headers=config_call(token), content=b"{}")
        assert response.status_code == 401, token
    assert emulator.counters.invalid_tokens_rejected == 4


async def test_open_emulator_still_refuses_its_own_expired_tokens(
    emulator: EmulatorServer, http: httpx.AsyncClient
) -> None:
    path = "/aiserver.v1.AiService/AvailableModels"
    assert (await http.post(path, headers=config_call(None), content=b"{}")).status_code == 200
    assert (
        await http.post(path, headers=config_call("anything"), content=b"{}")
    ).status_code == 200
    pair = emulator.auth.issue()
    emulator.auth.advance_clock(emulator.options.token_lifetime + 1)
    assert (
        await http.post(path, headers=config_call(pair.access_token), content=b"{}")
    ).status_code == 401


async def test_run_needs_http2(emulator: EmulatorServer, http: httpx.AsyncClient) -> None:
    response = await http.post("/agent.v1.AgentService/Run", content=b"")
    assert response.status_code == 505
    counters = (await http.get("/emulator/counters")).json()
    assert counters["http1_requests"] == 2 and counters["refreshes"] == 0
