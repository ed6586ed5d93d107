"""What the request guards allow, and how to put them in front of an app.

The guards, in the order they run (gate.py): the Host check (DNS rebinding), CORS for
explicitly allowed origins only (answers their preflights), the Origin check (other web
pages), client keys, the body limits (size, read deadline) and the JSON-only rule. Each is
its own module; the gate runs them as plain checks in one ASGI layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.applications import Starlette

from .client_keys import ClientKeys
from .limits import DEFAULT_BODY_READ_TIMEOUT, DEFAULT_MAX_BODY


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
    """The guards in front of any Starlette app's routes (as its outermost middleware)."""
    from .gate import Gate  # the gate builds on Guards

    app.add_middleware(Gate, guards=guards)
