"""Live mode: who we say we are to Cursor's backend, and where its Run host is (the
backend for a stored account is assembled in compose.py).

- The device id for `x-cursor-checksum` (run-stream.md §1.6, variant A) is derived once from
  the OS machine id (else a MAC, else a random id) and kept in `<bridge home>/device.json`
  (0600), so it stays stable: the backend counts devices by it.
- The client version is the user's override, else the newest installed cursor-agent build,
  else the build named by Cursor's installer script (fetched only for Cursor's real backend,
  cached a day), else a built-in recent one.
- The Run host comes from `GetServerConfig` (`agentUrlConfig.agentnUrl`, else `agentUrl`),
  asked once per process and backend.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .auth.store import normalize_backend
from .paths import bridge_home, write_private
from .protocol.auth import CURSOR_API_URL
from .protocol.headers import (
    DEFAULT_CLIENT_VERSION,
    SERVER_CONFIG_PATH,
    ClientIdentity,
    machine_id_from,
    unary_headers,
)
from .transport import BackendPool, TransportError

log = logging.getLogger(__name__)

INSTALLER_URL = "https://cursor.com/install"
VERSION_CACHE_TTL = 86400.0
_BUILD = re.compile(r"^(\d{4}\.\d{2}\.\d{2}-[0-9a-f]{7,})$")
_INSTALLER_BUILD = re.compile(r"downloads\.cursor\.com/lab/(\d{4}\.\d{2}\.\d{2}-[0-9a-f]{7,})/")


# -- device id ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceIds:
    machine_id: str
    mac_machine_id: str = ""


def _os_machine_id() -> str | None:
    """The OS's own machine id: Linux machine-id files, macOS IOPlatformUUID, Windows
    MachineGuid (best effort; None when unavailable)."""
    if sys.platform.startswith("linux"):
        for candidate in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
            try:
                text = Path(candidate).read_text().strip()
            except OSError:
                continue
            if text:
                return text
    if sys.platform == "darwin":
        import subprocess

        try:
            out = subprocess.run(
                ["/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        match = re.search(r'"IOPlatformUUID" = "([^"]+)"', out)
        return match.group(1).lower() if match else None
    if sys.platform.startswith("win"):
        try:
            import winreg

            key = winreg.OpenKey(  # type: ignore[attr-defined,unused-ignore]
                winreg.HKEY_LOCAL_MACHINE,  # type: ignore[attr-defined,unused-ignore]
                r"SOFTWARE\Microsoft\Cryptography",
            )
            value, _ = winreg.QueryValueEx(key, "MachineGuid")  # type: ignore[attr-defined,unused-ignore]
            return str(value)
        except OSError:
            return None
    return None


def _mac_address() -> str | None:
    node = uuid.getnode()
    if (node >> 40) & 1:  # multicast bit: uuid made the number up
        return None
    return ":".join(f"{(node >> shift) & 0xFF:02x}" for shift in range(40, -1, -8))


def device_ids(home: Path | None = None) -> DeviceIds:
    """This machine's ids, created on first use and then read from `device.json`."""
    path = (home or bridge_home()) / "device.json"
    try:
        raw: Any = json.loads(path.read_bytes())
        if isinstance(raw, dict) and isinstance(raw.get("machine_id"), str) and raw["machine_id"]:
            return DeviceIds(raw["machine_id"], str(raw.get("mac_machine_id") or ""))
    except (OSError, ValueError):
        pass
    mac = _mac_address()
    source = _os_machine_id() or mac or str(uuid.uuid4())
    ids = DeviceIds(machine_id_from(source), machine_id_from(mac) if mac else "")
    stored = {"machine_id": ids.machine_id, "mac_machine_id": ids.mac_machine_id}
    write_private(path, json.dumps(stored).encode())
    return ids


# -- client version -----------------------------------------------------------------------


def installed_agent_version(home: Path | None = None) -> str | None:
    """The newest cursor-agent build in `~/.local/share/cursor-agent/versions/`."""
    versions = (home or Path.home()) / ".local" / "share" / "cursor-agent" / "versions"
    try:
        builds = sorted(p.name for p in versions.iterdir() if _BUILD.match(p.name))
    except OSError:
        return None
    return f"cli-{builds[-1]}" if builds else None


def _installer_version(cache: Path, timeout: float = 5.0) -> str | None:
    """The build Cursor's installer script downloads, cached for a day."""
    try:
        cached: Any = json.loads(cache.read_bytes())
        if time.time() - float(cached["fetched_at"]) < VERSION_CACHE_TTL:
            return str(cached["version"]) or None
    except (OSError, ValueError, KeyError, TypeError):
        pass
    import httpx  # only live mode against Cursor's real backend gets here

    try:
        script = httpx.get(INSTALLER_URL, timeout=timeout, follow_redirects=True).text
    except httpx.HTTPError as exc:
        log.info("cannot read the current client version from %s: %s", INSTALLER_URL, exc)
        return None
    match = _INSTALLER_BUILD.search(script)
    if match is None:
        return None
    version = f"cli-{match.group(1)}"
    payload = {"version": version, "fetched_at": time.time()}
    write_private(cache, json.dumps(payload).encode())
    return version


def resolve_client_version(override: str | None, *, fetch: bool, home: Path | None = None) -> str:
    """The `x-cursor-client-version` to send (`fetch`: may ask Cursor's installer)."""
    if override:
        return override
    found = installed_agent_version()
    if found is None and fetch:
        found = _installer_version((home or bridge_home()) / "client-version.json")
    return found or DEFAULT_CLIENT_VERSION


def live_identity(
    client_version: str | None, ghost_mode: bool, *, fetch_version: bool
) -> ClientIdentity:
    ids = device_ids()
    return ClientIdentity(
        client_version=resolve_client_version(client_version, fetch=fetch_version),
        ghost_mode=ghost_mode,
        machine_id=ids.machine_id,
        mac_machine_id=ids.mac_machine_id,
    )


# -- Run host -----------------------------------------------------------------------------

_agent_urls: dict[str, str] = {}


async def discover_agent_url(
    pool: BackendPool, api_url: str, token: str | None, identity: ClientIdentity
) -> str | None:
    """The account's Run host from GetServerConfig (memoised per API URL); None on failure."""
    if api_url in _agent_urls:
        return _agent_urls[api_url]
    headers = unary_headers(token, identity, now_ms=int(time.time() * 1000), json_codec=True)
    body = json.dumps({"telem_enabled": False}).encode()
    try:
        response = await pool.unary(api_url + SERVER_CONFIG_PATH, headers, body, timeout=10)
    except (TransportError, ValueError) as exc:
        log.warning("GetServerConfig failed (%s); sending Runs to %s", exc, api_url)
        return None
    if response.status != 200:
        log.warning("GetServerConfig: HTTP %s; sending Runs to %s", response.status, api_url)
        return None
    url = _agent_url_from(response.body)
    if url is None:
        log.warning("GetServerConfig named no Run host; sending Runs to %s", api_url)
        return None
    _agent_urls[api_url] = url
    return url


def _agent_url_from(body: bytes) -> str | None:
    try:
        config: Any = json.loads(body)
        section = config.get("agentUrlConfig") or {}
        raw = section.get("agentnUrl") or section.get("agentUrl")
    except (ValueError, AttributeError):
        return None
    if not isinstance(raw, str) or not raw.strip():
        return None
    raw = raw.strip().rstrip("/")
    if "://" not in raw:
        raw = f"https://{raw}"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


# -- reachability -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reachability:
    reachable: bool
    token_accepted: bool | None
    detail: str


async def probe(api_url: str, token: str | None, identity: ClientIdentity) -> Reachability:
    """Ask GetServerConfig once: is the backend there, and does it take our token?"""
    headers = unary_headers(token, identity, now_ms=int(time.time() * 1000), json_codec=True)
    async with BackendPool(connect_timeout=5) as pool:
        try:
            response = await pool.unary(
                api_url + SERVER_CONFIG_PATH, headers, b'{"telem_enabled":false}', timeout=10
            )
        except (TransportError, ValueError) as exc:
            return Reachability(False, None, f"unreachable: {exc}")
    if response.status == 200:
        return Reachability(True, True if token else None, "reachable")
    if response.status in (401, 403):
        detail = f"reachable, but it refused the token (HTTP {response.status})"
        return Reachability(True, False, detail)
    return Reachability(True, None, f"reachable, answered HTTP {response.status}")


# -- a backend for the stored account -----------------------------------------------------


def is_cursor(backend_url: str) -> bool:
    """Whether *backend_url* is Cursor's real API (not an emulator)."""
    return normalize_backend(backend_url) == normalize_backend(CURSOR_API_URL)
