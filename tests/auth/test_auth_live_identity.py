"""Live-mode identity: a stable 0600 device id, the client version, Run host discovery."""

from __future__ import annotations

import stat
from pathlib import Path

from cursor_bridge.emulator import EmulatorServer
from cursor_bridge.live import (
    _agent_url_from,
    device_ids,
    discover_agent_url,
    installed_agent_version,
    resolve_client_version,
)
from cursor_bridge.paths import bridge_home
from cursor_bridge.protocol.headers import DEFAULT_CLIENT_VERSION, ClientIdentity, run_headers
from cursor_bridge.transport import BackendPool


def test_device_id_is_created_once_and_kept_private() -> None:
    first = device_ids()
    path = bridge_home() / "device.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.machine_id) == 64
    assert device_ids() == first
    identity = ClientIdentity(machine_id=first.machine_id, mac_machine_id=first.mac_machine_id)
    checksum = dict(run_headers("t", identity, now_ms=1_700_000_000_000))["x-cursor-checksum"]
    assert checksum[8:].startswith(first.machine_id)


def test_client_version_prefers_override_then_installed_agent(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_client_version(None, fetch=False) == DEFAULT_CLIENT_VERSION
    versions = tmp_path / ".local/share/cursor-agent/versions"
    for name in ("2026.01.09-231024f", "2026.07.09-a3815c0", "not-a-build"):
        (versions / name).mkdir(parents=True)
    assert installed_agent_version(tmp_path) == "cli-2026.07.09-a3815c0"
    assert resolve_client_version(None, fetch=False) == "cli-2026.07.09-a3815c0"
    assert resolve_client_version("cli-2099.01.01-abcdef0", fetch=False) == "cli-2099.01.01-abcdef0"


def test_agent_url_is_normalised_to_an_origin() -> None:
    assert _agent_url_from(b'{"agentUrlConfig":{"agentnUrl":"agentn.us.api5.cursor.sh"}}') == (
        "https://agentn.us.api5.cursor.sh"
    )
    assert _agent_url_from(b'{"agentUrlConfig":{"agentUrl":"https://a.cursor.sh/x/"}}') == (
        "https://a.cursor.sh"
    )
    assert _agent_url_from(b'{"agentUrlConfig":{}}') is None
    assert _agent_url_from(b"not json") is None


async def test_run_host_is_discovered_from_the_emulator() -> None:
    async with EmulatorServer() as emulator, BackendPool() as pool:
        url = await discover_agent_url(pool, emulator.url, None, ClientIdentity())
    assert url == emulator.url
