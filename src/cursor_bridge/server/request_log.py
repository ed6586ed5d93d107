"""The recent model requests, and running totals of every model request, in memory.

The access log hands each request's `AccessRecord` over when the response has ended; the
model requests (POST to a chat route) are kept: the last `size` for the status page, and
totals by dialect and status, tokens and a time-to-first-output histogram for `/metrics`.
Nothing here is written to disk.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, deque

from ..access import AccessRecord

MODEL_DIALECTS = frozenset({"openai-chat", "openai-responses", "anthropic", "cursor-chat"})
# Upper bounds (seconds) of the time-to-first-output histogram.
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def dialect_of(path: str) -> str:
    if path.startswith("/v1/chat/completions"):
        return "openai-chat"
    if path.startswith("/v1/responses"):
        return "openai-responses"
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith("/cursor/"):
        return "cursor-chat"
    if path.startswith("/v1/models"):
        return "models"
    return "-"


def is_model_request(record: AccessRecord) -> bool:
    """A POST to a chat route (what the status page lists and the forwarder looks at)."""
    return record.method == "POST" and record.dialect in MODEL_DIALECTS


class RequestLog:
    """The last `size` model requests, oldest first, and totals since the start."""

    def __init__(self, size: int = 2000) -> None:
        self.records: deque[AccessRecord] = deque(maxlen=size)
        self.by_status: Counter[tuple[str, int]] = Counter()  # (dialect, status)
        self.tokens: Counter[tuple[str, str]] = Counter()  # (dialect, input|output)
        self.ttft_counts: dict[str, list[int]] = {}  # dialect -> count per bucket, +Inf last
        self.ttft_sums: dict[str, float] = {}

    def add(self, record: AccessRecord) -> None:
        if not is_model_request(record):
            return
        self.records.append(record)
        dialect = record.dialect
        self.by_status[dialect, record.status] += 1
        self.tokens[dialect, "input"] += record.input_tokens or 0
        self.tokens[dialect, "output"] += record.output_tokens or 0
        ttft = record.ttft
        if ttft is not None:
            counts = self.ttft_counts.get(dialect)
            if counts is None:  # (not setdefault: no list built per request)
                counts = self.ttft_counts[dialect] = [0] * (len(TTFT_BUCKETS) + 1)
            slot = bisect_left(TTFT_BUCKETS, ttft)  # the first bucket with ttft <= its bound
            counts[slot] += 1
            self.ttft_sums[dialect] = self.ttft_sums.get(dialect, 0.0) + ttft

    def since(self, start: float) -> list[AccessRecord]:
        return [r for r in self.records if r.at >= start]
