"""Request body size limit, enforced while the body streams in (pure ASGI middleware)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    """Answer 413 once a request body passes `max_body_size`: in Anthropic's error shape on
    `/v1/messages`, in OpenAI's everywhere else."""

    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_size:
            await self._reject(send, scope.get("path", ""))
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_size:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            # Handlers read the whole body before answering, so nothing was sent yet.
            await self._reject(send, scope.get("path", ""))

    async def _reject(self, send: Send, path: str) -> None:
        message = f"Request body larger than {self.max_body_size} bytes."
        if path.startswith("/v1/messages"):
            error: dict[str, object] = {
                "type": "error",
                "error": {"type": "request_too_large", "message": message},
            }
        else:
            error = {
                "error": {
                    "message": message,
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "request_too_large",
                }
            }
        body = json.dumps(error).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
