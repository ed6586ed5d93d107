"""Stored responses for `previous_response_id` and `GET`/`DELETE /v1/responses/{id}`.

In-process only (a restart forgets everything), bounded by entry count (least recently used
first out) and by age (`ttl` seconds after the response finished). A response sent with
`store: false` is never kept. Each entry holds the response object as returned and the
conversation up to and including its output (without `instructions`, which OpenAI does not
carry over), so a follow-up request resolves its full history with one lookup. Entries of
one chain share their message objects, so a long chain costs pointers, not copies.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..engine.request import ChatMessage

DEFAULT_MAX_ENTRIES = 1000
DEFAULT_TTL = 3600.0


@dataclass(frozen=True, slots=True)
class StoredResponse:
    body: dict[str, Any]
    history: tuple[ChatMessage, ...]
    expires_at: float


class ResponseStore:
    def __init__(
        self,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must be >= 0")
        self.max_entries = max_entries
        self.ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[str, StoredResponse] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, response_id: str, body: dict[str, Any], history: tuple[ChatMessage, ...]) -> None:
        if self.max_entries == 0:
            return
        self._entries[response_id] = StoredResponse(body, history, self._clock() + self.ttl)
        self._entries.move_to_end(response_id)
        now = self._clock()
        while self._entries and (
            len(self._entries) > self.max_entries
            or next(iter(self._entries.values())).expires_at <= now
        ):
            self._entries.popitem(last=False)

    def get(self, response_id: str) -> StoredResponse | None:
        entry = self._entries.get(response_id)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            del self._entries[response_id]
            return None
        self._entries.move_to_end(response_id)
        return entry

    def delete(self, response_id: str) -> bool:
        return self.get(response_id) is not None and self._entries.pop(response_id) is not None
