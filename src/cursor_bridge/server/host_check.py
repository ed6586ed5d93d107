"""DNS-rebinding defence: the `Host` header must name this bridge.

A web page can make a name it controls resolve to 127.0.0.1 and then read the bridge's
answers as same-origin. The browser still sends the page's name in `Host`, so a request
whose `Host` is not the address the connection arrived on, a loopback name, or a name the
user configured (`--allow-host`) is refused (400, in the caller's dialect).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import Scope

from .errors import Refusal

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_KEPT_HOSTS = 64


def host_name(value: str) -> str:
    """The name in a Host header, without port or IPv6 brackets, lower-cased."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostCheck:
    """Refuses requests whose Host is not one of the bridge's names."""

    def __init__(self, allowed_hosts: Iterable[str] = ()) -> None:
        self.allowed = LOOPBACK_NAMES | {host_name(h) for h in allowed_hosts}
        # Raw Host values seen to name one of `allowed` (whatever the connection): a client
        # sends the same one on every request. Bounded: a few are ever seen.
        self._known: set[bytes] = set()

    def refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> Refusal | None:
        raw = headers.get(b"host")
        if raw is None or raw in self._known:
            return None
        name = host_name(raw.decode("latin-1"))
        if name in self.allowed:
            if len(self._known) < _KEPT_HOSTS:
                self._known.add(raw)
            return None
        if self._allowed(name, scope):
            return None
        message = (
            f"Host {raw.decode('latin-1')!r} is not this bridge's address. If you reach the "
            "bridge under that name, allow it with --allow-host NAME "
            "(CURSOR_BRIDGE_ALLOWED_HOSTS)."
        )
        return Refusal(400, message, "invalid_host")

    def _allowed(self, name: str, scope: Scope) -> bool:
        if name in self.allowed:
            return True
        # The address the connection arrived on (with a wildcard bind: the interface's).
        server = scope.get("server")
        return server is not None and name == host_name(str(server[0]))
