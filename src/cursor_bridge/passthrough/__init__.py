"""An OpenAI-compatible API as the upstream of a route, read into the engine's output events.

`chunks` is the pure part (chat.completion.chunk objects → OutputEvent batches), `client`
the httpx I/O around it. Used by `/cursor/chat/completions` in passthrough mode, so the
Cursor chat renderer serves both upstreams.
"""

from .chunks import ChunkReader, UpstreamError
from .client import OpenAIUpstream, UpstreamConfig, UpstreamStream

__all__ = ["ChunkReader", "OpenAIUpstream", "UpstreamConfig", "UpstreamError", "UpstreamStream"]
