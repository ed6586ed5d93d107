"""What a web page can make a browser send to the bridge on loopback, refused before it acts.

Before: a `text/plain` POST (no CORS preflight) was parsed as JSON and answered, with
`--allow-shell` one ran a shell command; any `Host` was served (DNS rebinding); any
`Origin` too. tests/security/test_chromium_attacks.py replays these from a real browser.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from cursor_bridge.server.app import create_app
from cursor_bridge.server.client_keys import ClientKeys
from cursor_bridge.server.guards import Guards
from tests.conftest import Stack
from tests.support.bridge_apps import serve

CHAT = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "/reply hello"}]}


def test_a_text_plain_post_cannot_run_a_shell_command(stack: Stack, shell_workspace: Path) -> None:
    prompt = '/exec shell {"command": "touch pwned"}'
    body = json.dumps({"model": "gpt-5.4", "messages": [{"role": "user", "content": prompt}]})
    response = httpx.post(
        stack.bridge_url + "/v1/chat/completions",
        content=body,
        headers={"content-type": "text/plain;charset=UTF-8", "origin": "null"},
        timeout=20,
    )
    assert response.status_code in (403, 415)
    assert not (shell_workspace / "pwned").exists()
    # The same request declared as JSON from a non-browser client does run (the control).
    ok = httpx.post(
        stack.bridge_url + "/v1/chat/completions",
        content=body,
        timeout=20,
        headers={"content-type": "application/json"},
    )
    assert ok.status_code == 200 and (shell_workspace / "pwned").exists()


@pytest.mark.parametrize(
    ("content_type", "path", "dialect"),
    [
        ("text/plain", "/v1/chat/completions", "openai"),
        ("application/x-www-form-urlencoded", "/v1/responses", "openai"),
        ("multipart/form-data; boundary=x", "/cursor/chat/completions", "openai"),
        ("", "/v1/messages", "anthropic"),
    ],
)
def test_bodies_not_declared_json_get_415(
    stack: Stack, content_type: str, path: str, dialect: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = httpx.post(
        stack.bridge_url + path, content=json.dumps(CHAT), headers=headers, timeout=20
    )
    assert response.status_code == 415
    body = response.json()
    if dialect == "anthropic":
        assert body["type"] == "error" and "application/json" in body["error"]["message"]
    else:
        assert body["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8787", "192.0.2.7"])
def test_a_foreign_host_header_is_refused(stack: Stack, host: str) -> None:
    response = httpx.get(stack.bridge_url + "/v1/models", headers={"host": host}, timeout=20)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_host"
    assert "--allow-host" in response.json()["error"]["message"]


@pytest.mark.parametrize("host", ["localhost", "localhost:1234", "127.0.0.1", "[::1]:8787"])
def test_loopback_host_names_are_served(stack: Stack, host: str) -> None:
    response = httpx.get(stack.bridge_url + "/v1/models", headers={"host": host}, timeout=20)
    assert response.status_code == 200


def test_a_configured_host_name_is_served(stack: Stack) -> None:
    app = create_app(stack.backend, guards=Guards(keys=ClientKeys(), allowed_hosts=("box.lan",)))
    with serve(stack, app) as url:
        assert httpx.get(url + "/health", headers={"host": "box.lan:80"}).status_code == 200
        assert httpx.get(url + "/health", headers={"host": "other.lan"}).status_code == 400


def test_foreign_origins_and_cross_site_loads_are_refused(stack: Stack) -> None:
    for headers in (
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "http://localhost:3000", "sec-fetch-site": "same-site"},
    ):
        response = httpx.post(
            stack.bridge_url + "/v1/messages",
            json={**CHAT, "max_tokens": 10},
            headers=headers,
            timeout=20,
        )
        assert response.status_code == 403, headers
        body = response.json()
        assert body["type"] == "error" and body["error"]["type"] == "permission_error"
        assert "--cors-origin" in body["error"]["message"]


def test_cors_is_off_by_default(stack: Stack) -> None:
    preflight = httpx.options(
        stack.bridge_url + "/v1/chat/completions",
        headers={
            "origin": "https://evil.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
        timeout=20,
    )
    assert "access-control-allow-origin" not in preflight.headers
    plain = httpx.get(stack.bridge_url + "/v1/models", timeout=20)
    assert "access-control-allow-origin" not in plain.headers


def test_an_explicitly_allowed_origin_gets_cors(stack: Stack) -> None:
    origin = "https://app.example"
    guards = Guards(keys=ClientKeys(), cors_origins=(origin,))
    with serve(stack, create_app(stack.backend, guards=guards)) as url:
        preflight = httpx.options(
            url + "/v1/chat/completions",
            headers={"origin": origin, "access-control-request-method": "POST"},
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == origin
        answer = httpx.post(url + "/v1/chat/completions", json=CHAT, headers={"origin": origin})
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == origin
        other = httpx.post(
            url + "/v1/chat/completions", json=CHAT, headers={"origin": "https://evil.example"}
        )
        assert other.status_code == 403
