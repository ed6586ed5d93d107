"""Stored responses (`previous_response_id`) in Redis, so a follow-up may land on any of
the bridge's processes. The same synchronous interface as the in-process store, on the
official client's synchronous `redis.Redis` (a local Redis answers in well under a
millisecond). Each entry holds the response body and the history up to its output.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

from ..engine.request import ChatMessage, ImageInput, ToolCallRecord
from ..store.redis import DEFAULT_PREFIX, connect
from .response_store import ResponseStore, StoredResponse


class RedisResponseStore(ResponseStore):
    """Stored responses in Redis (`resp:<id>`, expiring `ttl` seconds after they finish),
    so a follow-up may land on any process. `max_entries` is Redis's to enforce (maxmemory);
    0 still means: keep nothing."""

    def __init__(
        self,
        url: str,
        max_entries: int = 1000,
        ttl: float = 3600.0,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(max_entries, ttl, clock)
        self.client = connect(url)
        self.prefix = prefix

    def __len__(self) -> int:
        return sum(1 for _ in self.client.scan_iter(match=f"{self.prefix}resp:*", count=1000))

    def put(self, response_id: str, body: dict[str, Any], history: tuple[ChatMessage, ...]) -> None:
        if self.max_entries == 0:
            return
        value = json.dumps({"body": body, "history": [_message_json(m) for m in history]})
        self.client.set(self._key(response_id), value, ex=max(int(self.ttl), 1))

    def get(self, response_id: str) -> StoredResponse | None:
        raw: Any = self.client.get(self._key(response_id))
        if raw is None:
            return None
        data = json.loads(raw)
        history = tuple(_message_from(m) for m in data["history"])
        return StoredResponse(data["body"], history, self._clock() + self.ttl)

    def delete(self, response_id: str) -> bool:
        return bool(self.client.delete(self._key(response_id)))

    def _key(self, response_id: str) -> str:
        return f"{self.prefix}resp:{response_id}"


def _message_json(message: ChatMessage) -> dict[str, Any]:
    return {
        "role": message.role,
        "text": message.text,
        "images": [[i.mime_type, base64.b64encode(i.data).decode()] for i in message.images],
        "tool_calls": [[c.id, c.name, c.arguments] for c in message.tool_calls],
        "tool_call_id": message.tool_call_id,
        "name": message.name,
        "reasoning": message.reasoning,
        "is_error": message.is_error,
    }


def _message_from(raw: dict[str, Any]) -> ChatMessage:
    return ChatMessage(
        role=raw["role"],
        text=raw["text"],
        images=tuple(ImageInput(m, base64.b64decode(d)) for m, d in raw["images"]),
        tool_calls=tuple(ToolCallRecord(i, n, a) for i, n, a in raw["tool_calls"]),
        tool_call_id=raw["tool_call_id"],
        name=raw["name"],
        reasoning=raw["reasoning"],
        is_error=raw["is_error"],
    )
