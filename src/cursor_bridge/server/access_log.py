"""One access-log line per request, and the header naming the Cursor model that served it.

Pure ASGI middleware (no body buffering): it opens the request's `AccessRecord`, stamps the
status and `x-cursor-bridge-model` on the response start, and when the response has ended
(a stream's last byte, or the client going away) logs it and hands a model request's record
to the RequestLog (the status page's recent requests and the request metrics). `/health`
and `/metrics` are logged at debug level only, so probes do not flood the log.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import access
from .request_log import RequestLog, dialect_of

log = logging.getLogger("cursor_bridge.access")

MODEL_HEADER = "x-cursor-bridge-model"
_QUIET = ("/health", "/metrics")


def format_line(fields: dict[str, Any]) -> str:
    """`POST /v1/chat/completions openai-chat gpt-5 -> gpt-5.4 200 ttft=12ms 340ms ...`."""
    parts = [fields["method"], fields["path"], fields["dialect"]]
    if "cursor_model" in fields:
        parts.append(f"{fields.get('model', '?')} -> {fields['cursor_model']}")
    elif "model" in fields:
        parts.append(fields["model"])
    parts.append(str(fields["status"]))
    if "ttft_ms" in fields:
        parts.append(f"ttft={fields['ttft_ms']:g}ms")
    parts.append(f"{fields['duration_ms']:g}ms")
    if "input_tokens" in fields:
        parts.append(f"tokens={fields['input_tokens']}in/{fields.get('output_tokens', 0)}out")
    if "run" in fields:
        parts.append(f"run={fields['run']}")
    if "error" in fields:
        parts.append(f"error={fields['error']!r}")
    return " ".join(parts)


class AccessLog:
    def __init__(self, app: ASGIApp, requests: RequestLog | None = None) -> None:
        self.app = app
        self.requests = requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        record = access.AccessRecord(scope["method"], path, dialect_of(path))
        access.start(record)

        async def send_stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                if record.cursor_model:
                    headers = list(message.get("headers", []))
                    headers.append((MODEL_HEADER.encode(), record.cursor_model.encode()))
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_stamped)
        except BaseException:
            if not record.status:
                record.status = 500
            raise
        finally:
            if not record.status:
                record.status = 499  # the client went away before any answer
            record.finished = time.monotonic()
            fields = record.fields(record.finished)
            level = logging.DEBUG if path in _QUIET else logging.INFO
            log.log(level, format_line(fields), extra={"access": fields})
            if self.requests is not None:
                self.requests.add(record)
