"""Transport failures, one class per thing the caller might want to react to differently."""

from __future__ import annotations

__all__ = ["ConnectFailed", "TransportError", "TransportTimeout"]


class TransportError(Exception):
    """The HTTP/2 stream or its connection failed; nothing more will arrive on it.

    Raised for RST_STREAM from the peer, connection loss, GOAWAY that excluded the
    stream, protocol violations, and operations on a stream that was cancelled.
    """


class TransportTimeout(TransportError):
    """A deadline passed: no inbound bytes within an idle timeout, or a unary call
    did not complete in time. The stream itself may still be alive."""


class ConnectFailed(TransportError):
    """No usable HTTP/2 connection could be established (DNS, TCP, TLS, ALPN,
    or the server's SETTINGS did not arrive within the connect timeout)."""
