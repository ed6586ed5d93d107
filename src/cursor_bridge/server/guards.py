"""The request guards in front of every route, and the order they run in.

Outermost first: the Host check (DNS rebinding), CORS for explicitly allowed origins only
(answers their preflights), the Origin check (other web pages), client keys, the body
limits (size, read deadline) and the JSON-only rule. Each is its own pure ASGI middleware;
this module only decides which run and in which order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware

from .client_auth import ClientAuth
from .client_keys import ClientKeys
from .host_check import HostCheck
from .json_only import JsonBodiesOnly
from .limits import DEFAULT_BODY_READ_TIMEOUT, DEFAULT_MAX_BODY, BodySizeLimit
from .origin_check import OriginCheck


@dataclass(frozen=True)
class Guards:
    """What the guards allow. Default: keys from CURSOR_BRIDGE_HOME and the environment,
    loopback names only, no web origins."""

    keys: ClientKeys = field(default_factory=ClientKeys.from_environment)
    allowed_hosts: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    max_body_size: int = DEFAULT_MAX_BODY
    body_read_timeout: float = DEFAULT_BODY_READ_TIMEOUT


def install_guards(app: Starlette, guards: Guards) -> None:
    # add_middleware puts each new one outside the ones before: innermost first.
    app.add_middleware(JsonBodiesOnly)
    app.add_middleware(
        BodySizeLimit,
        max_body_size=guards.max_body_size,
        read_timeout=guards.body_read_timeout,
    )
    app.add_middleware(ClientAuth, keys=guards.keys)
    app.add_middleware(OriginCheck, allowed_origins=guards.cors_origins)
    if guards.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(guards.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["*"],
        )
    app.add_middleware(HostCheck, allowed_hosts=guards.allowed_hosts)
