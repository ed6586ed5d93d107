"""The worker-to-worker forwarder in isolation: whose Run a body names, pass-through when
the owner is this worker or unknown or unreachable, no second hop."""

from __future__ import annotations

import socket

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cursor_bridge.server.forwarding import FORWARDED_HEADER, FollowUpForwarder, owner_in


def test_owner_is_the_newest_call_id() -> None:
    body = b'{"messages":[{"tool_call_id":"call_w0_ab01"},{"tool_call_id":"call_w1_cd02"}]}'
    assert owner_in(body) == "w1"
    assert owner_in(b'{"messages":[{"role":"user","content":"hi"}]}') is None
    assert owner_in(b'"call_abc123"') is None  # an id without an owner


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unknown_or_unreachable_owner_is_served_here() -> None:
    seen: list[bytes] = []

    async def chat(request: Request) -> JSONResponse:
        seen.append(await request.body())
        forwarded = request.headers.get(FORWARDED_HEADER.decode())
        return JSONResponse({"here": True, "forwarded": forwarded})

    ports = {"w1": closed_port()}

    async def lookup(instance: str) -> int | None:
        return ports.get(instance)

    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    app.add_middleware(FollowUpForwarder, instance="w0", lookup=lookup)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://w0") as client:
        for owner in ("w0", "w1", "w9"):  # mine, unreachable, unknown
            body = f'{{"tool_call_id":"call_{owner}_x1"}}'.encode()
            reply = await client.post("/v1/chat/completions", content=body)
            assert reply.json() == {"here": True, "forwarded": None}
        assert seen[-1] == b'{"tool_call_id":"call_w9_x1"}', "the body reaches the route whole"
        hop = await client.post(
            "/v1/chat/completions",
            content=b'{"tool_call_id":"call_w1_x1"}',
            headers={FORWARDED_HEADER.decode(): "w2"},
        )
        assert hop.json()["forwarded"] == "w2", "a forwarded request is never sent on"
