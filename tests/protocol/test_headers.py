"""Request headers and `x-cursor-checksum` (run-stream.md §1.4; the bytes per current-client.md §6)."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cursor_bridge.protocol.headers import (
    DEFAULT_CLIENT_VERSION,
    RUN_PATH,
    ClientIdentity,
    checksum,
    checksum_stamp,
    machine_id_from,
    obfuscate,
    run_headers,
    unary_headers,
)

NOW_MS = 1_760_000_000_000  # t = floor(now_ms / 1e6) = 1_760_000 = 0x1ADB00
MACHINE = hashlib.sha256(b"machine").hexdigest()
MAC = hashlib.sha256(b"aa:bb:cc:dd:ee:ff").hexdigest()


def spec_obfuscate(data: bytes) -> list[int]:
    """§1.6 written out again: k = 165; b[i] = ((b[i] XOR k) + i) mod 256; k = b[i]."""
    b = list(data)
    k = 165
    for i in range(len(b)):
        b[i] = ((b[i] ^ k) + i) % 256
        k = b[i]
    return b


def test_obfuscate_hand_computed_vector() -> None:
    # t = 0x1ADB00 as 6 bytes big-endian: 00 00 00 1a db 00
    #   i=0: (0x00 ^ 165) + 0 = 165 = a5          k = 165
    #   i=1: (0x00 ^ 165) + 1 = 166 = a6          k = 166
    #   i=2: (0x00 ^ 166) + 2 = 168 = a8          k = 168
    #   i=3: (0x1a ^ 168) + 3 = 178 + 3 = 181 = b5  k = 181
    #   i=4: (0xdb ^ 181) + 4 = 110 + 4 = 114 = 72  k = 114
    #   i=5: (0x00 ^ 114) + 5 = 119 = 77
    stamp = bytes.fromhex("0000001adb00")
    assert obfuscate(stamp) == bytes.fromhex("a5a6a8b57277")
    assert spec_obfuscate(stamp) == list(bytes.fromhex("a5a6a8b57277"))


def test_obfuscate_wraps_modulo_256() -> None:
    # i=0: 0x5a ^ 165 = 0xff; i=1: (0x00 ^ 0xff) + 1 = 256 -> 0x00; i=2: (0x00 ^ 0x00) + 2 = 2
    assert obfuscate(b"\x5a\x00\x00") == bytes((0xFF, 0x00, 0x02))
    assert obfuscate(b"") == b""


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_obfuscate_matches_the_spec_formula(data: bytes) -> None:
    assert list(obfuscate(data)) == spec_obfuscate(data)


def test_checksum_hand_computed_prefix() -> None:
    # n = 0x1ADB00; JS bytes [n>>8, n, n>>24, n>>16, n>>8, n] & 255 = db 00 00 1a db 00
    # obfuscated 7e 7f 81 9e 49 4e -> base64 "fn+BnklO"
    identity = ClientIdentity(machine_id=MACHINE)
    assert checksum_stamp(NOW_MS) == bytes.fromhex("db00001adb00")
    assert checksum(identity, now_ms=NOW_MS) == "fn+BnklO" + MACHINE


def test_checksum_worked_example_of_the_current_client() -> None:
    """current-client.md §6: 2026-08-11T12:00:00Z gives the prefix `57e5peu/`."""
    now_ms = int(datetime(2026, 8, 11, 12, 0, 0, tzinfo=UTC).timestamp() * 1000)
    assert now_ms == 1_786_449_600_000
    assert checksum_stamp(now_ms) == bytes.fromhex("4251001b4251")
    assert obfuscate(checksum_stamp(now_ms)) == bytes.fromhex("e7b7b9a5ebbf")
    assert checksum(ClientIdentity(machine_id="m"), now_ms=now_ms) == "57e5peu/m"
    # Not the big-endian reading (the older notes' `paaotviu`).
    assert not checksum(ClientIdentity(machine_id="m"), now_ms=now_ms).startswith("paaotviu")


def test_checksum_matches_the_live_value_o_sent() -> None:
    """current-client.md §6: at n = 1796160 O sent `zY6Qjuqv...`."""
    identity = ClientIdentity(machine_id="m")
    assert checksum(identity, now_ms=1_796_160 * 1_000_000).startswith("zY6Qjuqv")


def test_checksum_can_be_omitted() -> None:
    identity = ClientIdentity(machine_id=MACHINE, send_checksum=False)
    assert "x-cursor-checksum" not in as_dict(run_headers("t", identity, now_ms=NOW_MS))


def test_checksum_with_mac_machine_id() -> None:
    identity = ClientIdentity(machine_id=MACHINE, mac_machine_id=MAC)
    assert checksum(identity, now_ms=NOW_MS) == f"fn+BnklO{MACHINE}/{MAC}"


@settings(max_examples=200, deadline=None)
@given(now_ms=st.integers(min_value=0, max_value=2**47 * 1_000_000 - 1), mac=st.booleans())
def test_checksum_format(now_ms: int, mac: bool) -> None:
    identity = ClientIdentity(machine_id=MACHINE, mac_machine_id=MAC if mac else "")
    value = checksum(identity, now_ms=now_ms)
    pattern = rf"[A-Za-z0-9+/]{{8}}{MACHINE}" + (rf"/{MAC}" if mac else "")
    assert re.fullmatch(pattern, value), value


def test_checksum_changes_only_every_million_ms() -> None:
    identity = ClientIdentity(machine_id=MACHINE)
    window = (NOW_MS // 1_000_000) * 1_000_000
    same = {checksum(identity, now_ms=window + d) for d in (0, 1, 999_999)}
    assert len(same) == 1
    assert checksum(identity, now_ms=window + 1_000_000) not in same


def test_machine_id_from_is_sha256_hex_of_the_trimmed_id() -> None:
    expected = hashlib.sha256(b"0123456789abcdef").hexdigest()
    assert machine_id_from("0123456789abcdef\n") == expected
    assert re.fullmatch(r"[0-9a-f]{64}", expected)


# --- run headers ------------------------------------------------------------------------------


def as_dict(headers: list[tuple[str, str]]) -> dict[str, str]:
    names = [name for name, _ in headers]
    assert len(names) == len(set(names)), f"duplicate headers: {names}"
    assert all(name == name.lower() for name in names), "HTTP/2 header names are lower-case"
    return dict(headers)


def test_run_headers_carry_the_mandatory_set() -> None:
    identity = ClientIdentity(machine_id=MACHINE)
    headers = as_dict(run_headers("tok", identity, now_ms=NOW_MS))
    assert headers["authorization"] == "Bearer tok"
    assert headers["content-type"] == "application/connect+proto"
    assert headers["connect-protocol-version"] == "1"
    assert headers["x-cursor-client-version"] == DEFAULT_CLIENT_VERSION
    assert re.fullmatch(r"cli-\d{4}\.\d{2}\.\d{2}-[0-9a-f]{7,}", DEFAULT_CLIENT_VERSION)
    assert headers["x-cursor-client-type"] == "cli"
    assert headers["x-ghost-mode"] == "true"
    assert uuid.UUID(headers["x-request-id"]).version == 4
    assert headers["x-cursor-checksum"] == "fn+BnklO" + MACHINE
    assert headers["x-cursor-streaming"] == "true"


def test_run_headers_only_advertise_encodings_we_decode() -> None:
    headers = as_dict(run_headers("tok", ClientIdentity(), now_ms=NOW_MS))
    encodings = {e.strip() for e in headers["connect-accept-encoding"].split(",")}
    assert encodings == {"gzip"}  # the decoder inflates gzip only (no br)


def test_run_headers_follow_the_identity() -> None:
    identity = ClientIdentity(
        client_version="cli-2026.01.09-231024f",
        ghost_mode=False,
        timezone="Europe/Berlin",
        machine_id=MACHINE,
        mac_machine_id=MAC,
    )
    headers = as_dict(run_headers("tok", identity, now_ms=NOW_MS))
    assert headers["x-cursor-client-version"] == "cli-2026.01.09-231024f"
    assert headers["x-ghost-mode"] == "false"
    assert headers["x-cursor-timezone"] == "Europe/Berlin"
    assert headers["x-cursor-checksum"] == f"fn+BnklO{MACHINE}/{MAC}"


def test_no_checksum_without_a_machine_id() -> None:
    headers = as_dict(run_headers("tok", ClientIdentity(), now_ms=NOW_MS))
    assert "x-cursor-checksum" not in headers


@pytest.mark.parametrize("token", [None, ""])
def test_authorization_only_with_a_token(token: str | None) -> None:
    for headers in (
        run_headers(token, ClientIdentity(), now_ms=NOW_MS),
        unary_headers(token, ClientIdentity(), now_ms=NOW_MS, json_codec=True),
    ):
        assert "authorization" not in as_dict(headers)


def test_fresh_request_id_each_call() -> None:
    identity = ClientIdentity()
    ids = {as_dict(run_headers("t", identity, now_ms=NOW_MS))["x-request-id"] for _ in range(50)}
    assert len(ids) == 50
    unary = {
        as_dict(unary_headers("t", identity, now_ms=NOW_MS, json_codec=False))["x-request-id"]
        for _ in range(50)
    }
    assert len(unary) == 50 and not unary & ids


def test_explicit_request_id_is_used() -> None:
    headers = as_dict(run_headers("t", ClientIdentity(), now_ms=NOW_MS, request_id="rid-1"))
    assert headers["x-request-id"] == "rid-1"


@pytest.mark.parametrize(
    ("json_codec", "content_type"), [(True, "application/json"), (False, "application/proto")]
)
def test_unary_headers(json_codec: bool, content_type: str) -> None:
    identity = ClientIdentity(machine_id=MACHINE)
    headers = as_dict(unary_headers("tok", identity, now_ms=NOW_MS, json_codec=json_codec))
    assert headers["content-type"] == content_type
    assert headers["accept"] == content_type
    assert headers["connect-protocol-version"] == "1"
    assert headers["authorization"] == "Bearer tok"
    assert headers["x-cursor-client-type"] == "cli"
    assert headers["x-cursor-checksum"] == "fn+BnklO" + MACHINE
    assert "x-cursor-streaming" not in headers


def test_run_path() -> None:
    assert RUN_PATH == "/agent.v1.AgentService/Run"
