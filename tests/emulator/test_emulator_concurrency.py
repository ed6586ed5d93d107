"""Many Runs at once, on one connection and on several; TLS with ALPN h2."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest
from emulator_client import H2Client, run_headers
from run_driver import TurnDriver, user_request

from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
from cursor_bridge.protocol.headers import RUN_PATH
from cursor_bridge.transport import BackendPool


@pytest.mark.parametrize("options", [EmulatorOptions(max_runs_per_connection=100)])
async def test_hundred_concurrent_runs_on_one_connection(
    emulator: EmulatorServer, client: H2Client
) -> None:
    async def one(i: int) -> str:
        transcript = await TurnDriver(client).run(user_request(f"/tokens 30\n/reply run {i}"))
        assert transcript.end is not None and transcript.end.error is None
        return transcript.text

    texts = await asyncio.gather(*(one(i) for i in range(100)))
    for i, text in enumerate(texts):
        assert text.endswith(f"\nrun {i}") and len(text.split()) == 32
    counters = emulator.counters
    assert counters.runs_opened == counters.runs_completed == 100
    assert counters.blobs_set == 600  # 3 root entries, user message, step, turn


async def test_concurrent_runs_over_several_connections(emulator: EmulatorServer) -> None:
    clients = [await H2Client.connect(emulator.port) for _ in range(5)]
    try:
        runs = [TurnDriver(clients[i % 5]).run(user_request(f"/reply {i}")) for i in range(50)]
        transcripts = await asyncio.gather(*runs)
        assert [t.text for t in transcripts] == [str(i) for i in range(50)]
    finally:
        for c in clients:
            await c.close()
    assert emulator.counters.connections == 5


async def test_large_answer_respects_flow_control(client: H2Client) -> None:
    # Far more than the 64 KiB default stream window the client advertises.
    transcript = await TurnDriver(client).run(user_request("/tokens 40000"))
    assert transcript.kinds.count("update.text_delta") == 40000
    assert transcript.turn_ended is not None


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_tls_with_alpn_h2(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    async with EmulatorServer(ssl_context=server_context) as server:
        assert server.url.startswith("https://127.0.0.1:")
        client_context = ssl.create_default_context(cafile=str(cert))
        client_context.set_alpn_protocols(["h2"])
        async with await H2Client.connect(server.port, ssl_context=client_context) as client:
            transcript = await TurnDriver(client).run(user_request("/reply secure"))
            assert transcript.text == "secure"


async def test_tls_with_alpn_http1_serves_the_login_page(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    async with EmulatorServer(ssl_context=server_context) as server:
        client_context = ssl.create_default_context(cafile=str(cert))
        url = f"https://localhost:{server.port}/emulator/counters"
        async with httpx.AsyncClient(verify=client_context) as client:  # ALPN http/1.1
            response = await client.get(url)
    assert response.status_code == 200 and response.http_version == "HTTP/1.1"
    assert response.json()["http1_requests"] == 1


async def test_runs_reset_as_they_open_leave_the_connection_usable(client: H2Client) -> None:
    # HEADERS then RST_STREAM in one write, twice: by the time the server handles the first
    # request, h2 has already dropped that stream. Other Runs on the connection go on.
    request = [(":method", "POST"), (":scheme", "http"), (":authority", "localhost")]
    for _ in range(2):
        stream_id = client.conn.get_next_available_stream_id()
        client.conn.send_headers(stream_id, [*request, (":path", RUN_PATH), *run_headers()])
        client.conn.reset_stream(stream_id, 8)
    client._flush()
    transcript = await TurnDriver(client).run(user_request("/reply still here"))
    assert transcript.text == "still here"


@pytest.mark.parametrize("options", [EmulatorOptions(max_runs_per_connection=2)])
async def test_a_run_past_the_connection_ceiling_closes_the_connection(
    emulator: EmulatorServer, client: H2Client
) -> None:
    """Cursor closes a whole connection carrying too many Runs (current-client.md §7)."""
    first = await client.open(RUN_PATH, run_headers(), end=False)
    second = await client.open(RUN_PATH, run_headers(), end=False)
    assert await first.status() == 200 and await second.status() == 200
    await client.open(RUN_PATH, run_headers(), end=False)
    for _ in range(200):
        if emulator.counters.runs_over_connection_ceiling and not emulator._connections:
            break
        await asyncio.sleep(0.01)
    assert emulator.counters.runs_over_connection_ceiling == 1
    assert not emulator._connections  # the whole connection is gone


async def test_the_bridge_pool_stays_below_the_ceiling(emulator: EmulatorServer) -> None:
    """The bridge opens another connection instead of crossing its per-connection cap."""
    async with BackendPool(max_streams_per_connection=2) as pool:
        streams = [await pool.open_stream(emulator.url + RUN_PATH, run_headers()) for _ in range(3)]
        assert pool.connections_opened == 2
        for stream in streams:
            await stream.cancel()
