"""asyncio HTTP/2 client over the sans-IO `h2` library: full-duplex streams,
one reused connection per origin.

`httpx`/`httpcore` send the whole request body before reading the response, so
they cannot carry a bidirectional Run; this package can.
"""

from .errors import ConnectFailed, TransportError, TransportTimeout
from .pool import BackendPool, UnaryResponse
from .stream import DuplexStream

__all__ = [
    "BackendPool",
    "ConnectFailed",
    "DuplexStream",
    "TransportError",
    "TransportTimeout",
    "UnaryResponse",
]
