"""Request headers Cursor's backend expects, and the `x-cursor-checksum` value.

Pure: time, ids and machine identity are passed in, so tests can pin them.

`x-cursor-checksum` (current-client.md §6): computed exactly as the current client computes
it, JavaScript's 32-bit shift semantics included (`checksum_stamp`). Decision: it is sent on
every call when a device id is known, as O (the peer that claims parity with CLI
2026.08.11, verified against its live value) does. E and P omit it and work too; D's claim
that the CLI sends it only on its cloud-worker bridge is corroboration only, so it does not
outweigh O. `send_checksum` in ClientIdentity turns it off.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass

from .ids import new_uuid

# A recent cursor-agent CLI build; an outdated version is refused by the backend
# (ERROR_OUTDATED_CLIENT), so users can override it (settings: client_version).
DEFAULT_CLIENT_VERSION = "cli-2026.07.09-a3815c0"
CONNECT_USER_AGENT = "connect-es/1.6.1"

RUN_PATH = "/agent.v1.AgentService/Run"
GET_USABLE_MODELS_PATH = "/agent.v1.AgentService/GetUsableModels"
AVAILABLE_MODELS_PATH = "/aiserver.v1.AiService/AvailableModels"
SERVER_CONFIG_PATH = "/aiserver.v1.ServerConfigService/GetServerConfig"


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """Who we say we are: stable per machine (the backend counts devices by these ids)."""

    client_version: str = DEFAULT_CLIENT_VERSION
    client_type: str = "cli"
    ghost_mode: bool = True
    timezone: str = "UTC"
    machine_id: str = ""
    mac_machine_id: str = ""
    send_checksum: bool = True


def obfuscate(data: bytes) -> bytes:
    """Cursor's rolling-XOR step: k starts at 165; b[i] = ((b[i] ^ k) + i) & 0xFF; k = b[i]."""
    out = bytearray(data)
    key = 165
    for i, byte in enumerate(out):
        out[i] = ((byte ^ key) + i) & 0xFF
        key = out[i]
    return bytes(out)


def _int32(value: int) -> int:
    """JavaScript's ToInt32."""
    value &= 0xFFFFFFFF
    return value - 0x1_0000_0000 if value & 0x8000_0000 else value


def _js_shift_right(value: int, count: int) -> int:
    """JavaScript's `value >> count`: int32 operand, shift count modulo 32."""
    return _int32(value) >> (count % 32)


def checksum_stamp(now_ms: int) -> bytes:
    """The six time bytes as the client's JavaScript writes them (current-client.md §6):
    `[(n>>40)&255, (n>>32)&255, (n>>24)&255, (n>>16)&255, (n>>8)&255, n&255]` with
    n = floor(ms / 1e6). JS shifts count modulo 32, so the first two bytes are n>>8 and n,
    not the zeros a true 48-bit big-endian write gives."""
    n = now_ms // 1_000_000
    return bytes(_js_shift_right(n, shift) & 0xFF for shift in (40, 32, 24, 16, 8, 0))


def checksum(identity: ClientIdentity, *, now_ms: int) -> str:
    """The `x-cursor-checksum` header (variant A of the spec: time stamp + machine ids)."""
    return _checksum(identity, now_ms // 1_000_000)


@functools.lru_cache(maxsize=16)
def _checksum(identity: ClientIdentity, period: int) -> str:
    """The checksum of one ~16.7-minute period (its time bytes depend on nothing else)."""
    prefix = base64.b64encode(obfuscate(checksum_stamp(period * 1_000_000))).decode().rstrip("=")
    suffix = identity.machine_id
    if identity.mac_machine_id:
        suffix = f"{suffix}/{identity.mac_machine_id}"
    return prefix + suffix


def machine_id_from(raw: str) -> str:
    """Hash an OS machine id (or MAC, or host name) the way the CLI does: sha256 hex."""
    return hashlib.sha256(raw.strip().encode()).hexdigest()


def base_headers(
    token: str | None,
    identity: ClientIdentity,
    *,
    now_ms: int,
    request_id: str | None = None,
) -> list[tuple[str, str]]:
    """Headers shared by every backend call (Run and unary RPCs)."""
    headers = [
        ("x-cursor-client-version", identity.client_version),
        ("x-cursor-client-type", identity.client_type),
        ("x-ghost-mode", "true" if identity.ghost_mode else "false"),
        ("x-request-id", request_id or new_uuid()),
        ("x-cursor-timezone", identity.timezone),
    ]
    if identity.machine_id and identity.send_checksum:
        headers.append(("x-cursor-checksum", checksum(identity, now_ms=now_ms)))
    if token:
        headers.insert(0, ("authorization", f"Bearer {token}"))
    return headers


def run_headers(
    token: str | None,
    identity: ClientIdentity,
    *,
    now_ms: int,
    request_id: str | None = None,
) -> list[tuple[str, str]]:
    """Headers for the bidirectional `AgentService/Run` stream (Connect streaming, binary)."""
    return [
        ("content-type", "application/connect+proto"),
        ("connect-protocol-version", "1"),
        ("connect-accept-encoding", "gzip"),
        ("x-cursor-streaming", "true"),
        ("te", "trailers"),
        ("user-agent", CONNECT_USER_AGENT),
        *base_headers(token, identity, now_ms=now_ms, request_id=request_id),
    ]


def unary_headers(
    token: str | None,
    identity: ClientIdentity,
    *,
    now_ms: int,
    json_codec: bool,
    request_id: str | None = None,
) -> list[tuple[str, str]]:
    """Headers for a Connect unary call, JSON or binary (`application/proto`)."""
    content_type = "application/json" if json_codec else "application/proto"
    return [
        ("content-type", content_type),
        ("accept", content_type),
        ("connect-protocol-version", "1"),
        ("user-agent", CONNECT_USER_AGENT),
        *base_headers(token, identity, now_ms=now_ms, request_id=request_id),
    ]
