"""The httpx side of passthrough: POST `{base_url}/chat/completions` streamed, read as events.

One `OpenAIUpstream` per app holds one pooled `httpx.AsyncClient`. `open()` sends the
request and fails with UpstreamError (and a status for our client) unless the upstream
answers 2xx with an event stream; `UpstreamStream.batches()` then yields OutputEvent
batches, one per SSE event read, and `aclose()` drops the upstream response (so a client
that goes away cancels the upstream request). The API key is sent, never logged.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

from ..engine.output import OutputEvent
from .chunks import ChunkReader, UpstreamError, error_from_body

log = logging.getLogger(__name__)

_MAX_ERROR_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """`base_url` as given to the OpenAI SDK (e.g. `http://localhost:4000/v1`)."""

    base_url: str
    api_key: str | None = None
    connect_timeout: float = 10.0
    # Longest silence between two chunks before the upstream counts as stalled.
    read_timeout: float = 300.0

    def __repr__(self) -> str:  # keep the key out of logs and tracebacks
        key = "set" if self.api_key else "none"
        return f"UpstreamConfig(base_url={self.base_url!r}, api_key={key})"


class OpenAIUpstream:
    def __init__(
        self, config: UpstreamConfig, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.config = config
        self.url = config.base_url.rstrip("/") + "/chat/completions"
        timeout = httpx.Timeout(config.read_timeout, connect=config.connect_timeout)
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport)

    @property
    def label(self) -> str:
        """The upstream's URL for messages, without any credentials it may embed."""
        url = httpx.URL(self.config.base_url)
        port = f":{url.port}" if url.port else ""
        return f"{url.scheme}://{url.host}{port}{url.path}"

    async def open(self, body: dict[str, Any]) -> UpstreamStream:
        """Start a streamed completion of *body* (forced to stream, with usage)."""
        payload = dict(body)
        payload["stream"] = True
        options = payload.get("stream_options")
        payload["stream_options"] = {**(options if isinstance(options, dict) else {})}
        payload["stream_options"]["include_usage"] = True
        headers = {"accept": "text/event-stream", "cache-control": "no-store"}
        if self.config.api_key:
            headers["authorization"] = f"Bearer {self.config.api_key}"
        request = self._client.build_request("POST", self.url, json=payload, headers=headers)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.label) from exc
        try:
            await self._check(response)
        except BaseException:
            await response.aclose()
            raise
        return UpstreamStream(response, self.label)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _check(self, response: httpx.Response) -> None:
        if response.status_code >= 300:
            text = await _read_limited(response)
            try:
                body: Any = json.loads(text)
            except json.JSONDecodeError:
                body = None
            error = error_from_body(body, response.status_code, text)
            error.message = f"Upstream error (HTTP {response.status_code}): {error.message}"
            error.retry_after = response.headers.get("retry-after")
            raise error
        content_type = response.headers.get("content-type", "")
        if "text/event-stream" not in content_type:
            raise UpstreamError(
                502,
                f"The upstream answered with {content_type or 'no content type'}, "
                "not an event stream.",
            )


def transport_error(exc: httpx.HTTPError, label: str) -> UpstreamError:
    """A connection-level failure as the status our client should see."""
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamError(504, f"The upstream at {label} did not answer in time.")
    if isinstance(exc, httpx.ConnectError):
        return UpstreamError(502, f"Cannot connect to the upstream at {label}: {exc}.")
    return UpstreamError(502, f"The connection to the upstream at {label} failed: {exc}.")


async def _read_limited(response: httpx.Response) -> str:
    data = bytearray()
    with contextlib.suppress(httpx.HTTPError):
        async for piece in response.aiter_bytes():
            data += piece
            if len(data) >= _MAX_ERROR_BODY:
                break
    return bytes(data[:_MAX_ERROR_BODY]).decode("utf-8", "replace")


class UpstreamStream:
    """One streamed completion; iterate `batches()` once, always `aclose()`."""

    def __init__(self, response: httpx.Response, label: str) -> None:
        self._response = response
        self._label = label
        self._events = self._read()
        self._first: list[OutputEvent] = []

    async def prefetch(self) -> None:
        """Read up to the first output, so early upstream errors raise before we answer."""
        async for batch in self._events:
            if batch:
                self._first = batch
                return

    async def batches(self) -> AsyncIterator[list[OutputEvent]]:
        first, self._first = self._first, []
        if first:
            yield first
        async for batch in self._events:
            yield batch

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self._events.aclose()
        await self._response.aclose()

    async def _read(self) -> AsyncGenerator[list[OutputEvent], None]:
        reader = ChunkReader()
        try:
            async for event in EventSource(self._response).aiter_sse():
                if not event.data:
                    continue
                batch = reader.feed(event.data)
                if batch:
                    yield batch
                if reader.finished:
                    return
            tail = reader.end()
        except httpx.HTTPError as exc:
            raise transport_error(exc, self._label) from exc
        except SSEError as exc:
            raise UpstreamError(502, f"Bad event stream from the upstream: {exc}") from exc
        if tail:
            yield tail
