"""Where a request goes: the origin a connection is keyed by, and the request path."""

from __future__ import annotations

import functools
from typing import NamedTuple
from urllib.parse import urlsplit

__all__ = ["Origin", "parse_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


class Origin(NamedTuple):
    """scheme + host + port: the unit of connection reuse. A named tuple, not a dataclass:
    the pool looks its connections up by origin for every Run, and a tuple hashes and
    compares in C (a dataclass's `__hash__` and `__eq__` are Python functions)."""

    scheme: str
    host: str
    port: int

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def authority(self) -> str:
        """The `:authority` pseudo-header: the default port is left out, IPv6 is bracketed."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == _DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.authority}"


@functools.lru_cache(maxsize=256)
def parse_url(url: str) -> tuple[Origin, str]:
    """Split an absolute http(s) URL into its origin and the `:path` (path plus query).
    Remembered: a bridge asks for the same few URLs on every Run.

    Raises ValueError for anything that is not an absolute http:// or https:// URL.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"unsupported URL scheme {parts.scheme!r} in {url!r}")
    host = parts.hostname
    if not host:
        raise ValueError(f"URL has no host: {url!r}")
    port = parts.port or _DEFAULT_PORTS[scheme]
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Origin(scheme, host, port), path
