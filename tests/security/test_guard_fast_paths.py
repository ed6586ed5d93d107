"""The gate's checks answer as before on their fast paths: a Host value already seen to
name the bridge, a request with no browser marks, an exact `application/json`."""

from __future__ import annotations

import itertools

import pytest

from cursor_bridge.server.host_check import HostCheck, host_name
from cursor_bridge.server.json_only import is_json
from cursor_bridge.server.origin_check import OriginCheck

HOSTS = [
    b"127.0.0.1:8787",
    b"localhost",
    b"LOCALHOST:1",
    b"[::1]:8787",
    b"evil.example",
    b"evil.example:8787",
    b"10.0.0.5:8787",
    b"bridge.lan",
    b" localhost ",
    b"",
]


def slow_host_ok(check: HostCheck, raw: bytes, server: str) -> bool:
    """The check without what it remembers: the name, else the connection's address."""
    name = host_name(raw.decode("latin-1"))
    return name in check.allowed or name == host_name(server)


@pytest.mark.parametrize("order", [HOSTS, HOSTS[::-1]])
def test_host_answers_are_the_same_twice_on_any_connection(order: list[bytes]) -> None:
    check = HostCheck(["bridge.lan"])
    servers = ["10.0.0.5", "127.0.0.1"]
    for raw, server, _ in itertools.product(order, servers, range(2)):
        scope = {"server": (server, 8787)}
        allowed = check.refusal(scope, {b"host": raw}) is None
        assert allowed == slow_host_ok(check, raw, server), (raw, server)


def test_a_host_allowed_only_by_the_connections_address_is_not_remembered() -> None:
    check = HostCheck()
    assert check.refusal({"server": ("10.0.0.5", 8787)}, {b"host": b"10.0.0.5:8787"}) is None
    refusal = check.refusal({"server": ("127.0.0.1", 8787)}, {b"host": b"10.0.0.5:8787"})
    assert refusal is not None and refusal.status == 400


HEADER_SETS: list[dict[bytes, bytes]] = [
    {},
    {b"host": b"127.0.0.1:8787"},
    {b"origin": b""},
    {b"origin": b"https://evil.example"},
    {b"origin": b"http://127.0.0.1:8787", b"host": b"127.0.0.1:8787"},
    {b"origin": b"https://app.example/"},
    {b"sec-fetch-site": b"cross-site"},
    {b"sec-fetch-site": b"same-origin"},
    {b"sec-fetch-site": b" Same-Site "},
    {b"origin": b"", b"sec-fetch-site": b"cross-site"},
]


def slow_origin_refused(check: OriginCheck, headers: dict[bytes, bytes]) -> bool:
    """The origin rule spelled out (module doc of origin_check.py)."""
    origin = headers.get(b"origin", b"").decode("latin-1").strip().rstrip("/").lower()
    if origin:
        host = headers.get(b"host", b"").decode("latin-1").strip().lower()
        return origin not in check.allowed and origin != f"http://{host}"
    site = headers.get(b"sec-fetch-site", b"").decode("latin-1").strip().lower()
    return site in ("cross-site", "same-site")


@pytest.mark.parametrize("headers", HEADER_SETS)
def test_origin_answers_follow_the_rule(headers: dict[bytes, bytes]) -> None:
    check = OriginCheck(["https://app.example"])
    refused = check.refusal({"scheme": "http"}, headers) is not None
    assert refused == slow_origin_refused(check, headers)


@pytest.mark.parametrize(
    ("content_type", "json"),
    [
        (b"application/json", True),
        (b"application/json; charset=utf-8", True),
        (b"Application/JSON", True),
        (b" application/json ", True),
        (b"application/json-patch", False),
        (b"text/plain", False),
        (b"", False),
    ],
)
def test_json_media_types(content_type: bytes, json: bool) -> None:
    assert is_json(content_type) is json
