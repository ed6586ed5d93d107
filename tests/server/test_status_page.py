"""`/status` for a person: accounts (one cooling), a parked Run, recent requests and the
chart, rendered by headless Chromium (Debian's package; skipped where absent) with a
screenshot kept as an artifact; hostile model names are escaped."""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from click.testing import CliRunner

from cursor_bridge.access import AccessRecord
from cursor_bridge.cli import main
from cursor_bridge.compose import open_live_backend
from cursor_bridge.config import Settings
from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
from cursor_bridge.emulator.limits import EmulatedAccount
from cursor_bridge.server.app import create_app
from cursor_bridge.server.status_page import chart

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
ACCOUNTS = (
    EmulatedAccount("crsr_status_alice", "alice", "alice@example.com"),
    EmulatedAccount("crsr_status_bob", "bob", "bob@example.com"),
)
HOSTILE = "<img src=x onerror=alert(1)>"
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


def login_both(url: str) -> None:
    for account in ACCOUNTS:
        args = ["login", "--api-key", account.api_key, "--label", account.account_id]
        result = CliRunner().invoke(main, [*args, "--backend-url", url])
        assert result.exit_code == 0, result.output


@pytest.fixture
async def bridge_url() -> AsyncIterator[str]:
    options = EmulatorOptions(accounts=ACCOUNTS, run_limit=2, run_limit_window=300)
    emulator = EmulatorServer("127.0.0.1", 0, options)
    await emulator.start()
    await asyncio.to_thread(login_both, emulator.url)
    live = await open_live_backend(
        Settings(backend_url=emulator.url, persist_state=False), discover=False
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    app = create_app(live.backend, mode="cursor")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes only a flag
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        await live.aclose()
        await emulator.stop()
        sock.close()


async def traffic(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for i in range(3):
            body = {"model": "gpt-5.4", "messages": [{"role": "user", "content": f"/reply {i}"}]}
            assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
        hostile = {"model": HOSTILE, "messages": [{"role": "user", "content": "hi"}]}
        assert (await client.post("/v1/chat/completions", json=hostile)).status_code == 404
        parked = {
            "model": "gpt-5.4",
            "tools": TOOLS,
            "messages": [{"role": "user", "content": "/tool lookup {}"}],
        }
        reply = await client.post("/v1/chat/completions", json=parked)
        assert reply.json()["choices"][0]["finish_reason"] == "tool_calls"
        # Both accounts have used their 2 Runs: the next is refused, one account cools.
        refused = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "/reply x"}]}
        assert (await client.post("/v1/chat/completions", json=refused)).status_code == 429


async def reported_page(url: str) -> str:
    """/status once both accounts' usage reports, re-read after their limit, are in: 2 Runs
    each at the emulator's 4 cents a Run, of a $20.00 plan."""
    deadline = time.monotonic() + 15
    async with httpx.AsyncClient(base_url=url) as client:
        while True:
            html = (await client.get("/status")).text
            if html.count("<td class='num'>$0.08 / $20.00</td>") == 2:
                return html
            assert time.monotonic() < deadline, "the usage reports never showed"
            await asyncio.sleep(0.05)


async def test_status_page_shows_accounts_runs_and_requests(bridge_url: str) -> None:
    await traffic(bridge_url)
    await reported_page(bridge_url)
    async with httpx.AsyncClient(base_url=bridge_url) as client:
        page = await client.get("/status")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<table id='accounts'>" in html and "alice" in html and "bob" in html
    assert "cooling" in html and "limit hits" in html
    assert "<h2>Parked Runs (1)</h2>" in html and "<table id='parked'>" in html
    assert html.count("<td>openai-chat</td>") == 6
    assert "<td class='bad'>404</td>" in html and "<td class='bad'>429</td>" in html
    assert HOSTILE not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<svg id='chart'" in html and "<polyline id='ttft'" in html
    assert "<th>plan used / limit</th>" in html and "<th>usage report</th>" in html


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package)")
async def test_status_page_in_headless_chromium(bridge_url: str) -> None:
    await traffic(bridge_url)
    await reported_page(bridge_url)
    assert CHROMIUM is not None
    profile = tempfile.mkdtemp(prefix="cb-chromium-")
    artifacts = Path(tempfile.mkdtemp(prefix="cb-status-"))
    shot = artifacts / "status.png"
    try:
        dom = await _chromium(f"--user-data-dir={profile}", "--dump-dom", bridge_url + "/status")
        assert '<svg id="chart"' in dom and 'id="accounts"' in dom and 'id="recent"' in dom
        # The backend's usage report of each account, as the browser got it.
        assert dom.count('<td class="num">$0.08 / $20.00</td>') == 2
        assert "<th>period ends</th>" in dom and " ago</td>" in dom
        assert "onerror=alert" not in dom.replace("&lt;img src=x onerror=alert(1)&gt;", "")
        await _chromium(
            f"--user-data-dir={profile}",
            f"--screenshot={shot}",
            "--window-size=1200,1500",
            bridge_url + "/status",
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000
    print(f"status page screenshot: {shot}")


async def _chromium(*args: str) -> str:
    assert CHROMIUM is not None
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM,
        *FLAGS,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 90)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode(errors="replace")


def test_chart_places_requests_by_minute() -> None:
    now = time.time()

    def record(ago: float, status: int = 200, ttft: float | None = 0.2) -> AccessRecord:
        started = time.monotonic() - ago
        first = None if ttft is None else started + ttft
        return AccessRecord(
            "POST",
            "/v1/messages",
            "anthropic",
            started,
            now - ago,
            status=status,
            first_output=first,
        )

    svg = chart([record(5), record(10, 500), record(125, ttft=0.4), record(4000)], now)
    assert svg.count("class='bar'") == 2  # two minutes with requests; the old one is out
    assert "<title>2 requests</title>" in svg and "<title>1 requests</title>" in svg
    assert "fill='#d92d20'" in svg  # the error share
    assert ">400 ms<" in svg  # the slowest median labels the latency axis
    assert "<polyline" not in chart([], now)
