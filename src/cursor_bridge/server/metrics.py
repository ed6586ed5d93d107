"""`GET /metrics`: Prometheus text exposition of the engine's counters.

Values are read from the backend and the request log at scrape time (custom collectors), so
the engine keeps plain counters and knows nothing about Prometheus. Accounts are labelled by
their pool label only (what `status` shows), never by token or e-mail unless the label is one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from ..auth.pool import AccountStatus
from ..engine.backend import CursorBackend
from ..engine.hosted import HostedServerStats
from .request_log import TTFT_BUCKETS, RequestLog

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class BackendCollector(Collector):
    def __init__(self, backend: CursorBackend) -> None:
        self.backend = backend

    def collect(self) -> Iterator[Metric]:
        backend = self.backend
        runs = CounterMetricFamily(
            "cursor_bridge_upstream_runs", "Runs opened to the backend (AgentService/Run)."
        )
        runs.add_metric([], backend.runs_opened)
        yield runs
        parked = GaugeMetricFamily(
            "cursor_bridge_parked_sessions", "Runs held open, waiting for tool results."
        )
        parked.add_metric([], len(backend.sessions))
        yield parked
        rounds = CounterMetricFamily(
            "cursor_bridge_tool_rounds",
            "Follow-up requests carrying tool results: continued in the parked Run, or fallen "
            "back to a fresh Run.",
            labels=["outcome"],
        )
        for outcome in ("continued", "fallback"):
            rounds.add_metric([outcome], backend.tool_rounds[outcome])
        yield rounds
        resumes = CounterMetricFamily(
            "cursor_bridge_checkpoint_resumes",
            "New turns started from the stored checkpoint of the previous one, or fallen back "
            "to a seeded Run because the backend missed a blob.",
            labels=["outcome"],
        )
        for outcome in ("resumed", "blob_missing"):
            resumes.add_metric([outcome], backend.checkpoint_resumes[outcome])
        yield resumes
        compactions = CounterMetricFamily(
            "cursor_bridge_compactions",
            "Conversations summarised by the backend before a turn that would fill the "
            "model's context window (or where that failed).",
            labels=["outcome"],
        )
        for outcome in ("summarized", "failed"):
            compactions.add_metric([outcome], backend.compactions[outcome])
        yield compactions
        stats = backend.state.stats()
        stored = GaugeMetricFamily(
            "cursor_bridge_state_bytes", "Bytes of KV blobs and checkpoints in the state store."
        )
        stored.add_metric([], stats.total_bytes)
        yield stored
        reasons = CounterMetricFamily(
            "cursor_bridge_session_events",
            "Why parked sessions were continued, refused or closed.",
            labels=["reason"],
        )
        for reason, count in sorted(backend.sessions.outcomes.items()):
            reasons.add_metric([reason], count)
        yield reasons
        surprises = CounterMetricFamily(
            "cursor_bridge_protocol_surprises",
            "What the backend sent that the bridge did not expect: unknown fields and oneof "
            "members, blob requests for ids never stored, Runs ended before turn_ended, "
            "backend error codes (where: message path and field number).",
            labels=["where", "what"],
        )
        for (where, what), count in sorted(backend.surprises.counts.items()):
            surprises.add_metric([where, what], count)
        yield surprises
        if backend.config.accounts is not None:
            yield from _account_metrics(backend.config.accounts.snapshot())
        if backend.config.hosted is not None:
            yield from _hosted_metrics(backend.config.hosted.stats())


def _account_metrics(rows: list[AccountStatus]) -> Iterator[Metric]:
    """Per pool account: health, cooldown, Runs in flight, requests, tokens, limit hits."""
    gauges = {
        "healthy": ("cursor_bridge_account_healthy", "1 when the account takes new turns."),
        "cooling_seconds": (
            "cursor_bridge_account_cooldown_seconds",
            "Seconds until a cooling account takes new turns again (0: not cooling).",
        ),
        "in_flight": ("cursor_bridge_account_in_flight", "Turns running on the account."),
    }
    counters = {
        "requests": ("cursor_bridge_account_requests", "Turns sent to the account."),
        "input_tokens": ("cursor_bridge_account_input_tokens", "Input tokens of its turns."),
        "output_tokens": ("cursor_bridge_account_output_tokens", "Output tokens of its turns."),
        "limit_hits": (
            "cursor_bridge_account_limit_hits",
            "Times the backend refused the account for a rate or usage limit.",
        ),
    }
    for key, (name, text) in gauges.items():
        gauge = GaugeMetricFamily(name, text, labels=["account"])
        for row in rows:
            gauge.add_metric([row.label], float(getattr(row, key)))
        yield gauge
    for key, (name, text) in counters.items():
        counter = CounterMetricFamily(name, text, labels=["account"])
        for row in rows:
            counter.add_metric([row.label], float(getattr(row, key)))
        yield counter
    yield from _period_metrics(rows)


# The backend's own report (GetCurrentPeriodUsage): PeriodUsage attribute -> metric.
_PERIOD_GAUGES = {
    "plan_used": ("plan_used", "Plan usage spent this billing period"),
    "plan_limit": ("plan_limit", "Plan usage included per billing period"),
    "plan_remaining": ("plan_remaining", "Plan usage left this billing period"),
    "on_demand_used": ("on_demand_used", "On-demand (usage-based) spend this period"),
    "on_demand_limit": ("on_demand_limit", "On-demand spend limit"),
    "cycle_end": ("billing_cycle_end_timestamp_seconds", "When the billing period ends"),
}


def _period_metrics(rows: list[AccountStatus]) -> Iterator[Metric]:
    """Gauges from each account's last usage report (money in the backend's unit, believed
    to be US cents); an account without a report, or without that figure, is left out."""
    now = time.time()
    for key, (suffix, text) in _PERIOD_GAUGES.items():
        unit = "" if key == "cycle_end" else " (backend's unit, believed US cents)"
        gauge = GaugeMetricFamily(
            f"cursor_bridge_account_{suffix}",
            f"{text}{unit}, as the backend last reported it.",
            labels=["account"],
        )
        for row in rows:
            value = getattr(row.period_usage, key) if row.period_usage is not None else None
            if value is not None:
                gauge.add_metric([row.label], float(value))
        yield gauge
    ok = GaugeMetricFamily(
        "cursor_bridge_account_usage_report_ok",
        "1 when the last usage report call succeeded, 0 when it failed (absent: none yet).",
        labels=["account"],
    )
    age = GaugeMetricFamily(
        "cursor_bridge_account_usage_report_age_seconds",
        "Seconds since the account's usage report was last asked for.",
        labels=["account"],
    )
    for row in rows:
        if row.usage_checked_at:
            ok.add_metric([row.label], 0.0 if row.usage_error else 1.0)
            age.add_metric([row.label], max(now - row.usage_checked_at, 0.0))
    yield from (ok, age)


class RequestLogCollector(Collector):
    """Model requests by dialect and status, their tokens, and time to first output."""

    def __init__(self, log: RequestLog) -> None:
        self.log = log

    def collect(self) -> Iterator[Metric]:
        log = self.log
        requests = CounterMetricFamily(
            "cursor_bridge_requests", "Model requests answered.", labels=["dialect", "status"]
        )
        for (dialect, status), count in sorted(log.by_status.items()):
            requests.add_metric([dialect, str(status)], count)
        tokens = CounterMetricFamily(
            "cursor_bridge_request_tokens",
            "Tokens of model requests as reported to clients.",
            labels=["dialect", "direction"],
        )
        for (dialect, direction), count in sorted(log.tokens.items()):
            tokens.add_metric([dialect, direction], count)
        ttft = HistogramMetricFamily(
            "cursor_bridge_time_to_first_output_seconds",
            "Seconds from a model request's arrival to its first output.",
            labels=["dialect"],
        )
        for dialect, counts in sorted(log.ttft_counts.items()):
            bounds = [*(f"{b:g}" for b in TTFT_BUCKETS), "+Inf"]
            cumulative = [sum(counts[: i + 1]) for i in range(len(counts))]
            ttft.add_metric(
                [dialect],
                list(zip(bounds, map(float, cumulative), strict=True)),
                log.ttft_sums[dialect],
            )
        yield from (requests, tokens, ttft)


def _hosted_metrics(servers: list[HostedServerStats]) -> Iterator[Metric]:
    calls = CounterMetricFamily(
        "cursor_bridge_mcp_calls", "Calls to hosted MCP servers' tools.", labels=["server"]
    )
    failures = CounterMetricFamily(
        "cursor_bridge_mcp_call_failures",
        "Hosted MCP tool calls that failed (tool error, timeout, server gone).",
        labels=["server"],
    )
    up = GaugeMetricFamily(
        "cursor_bridge_mcp_server_up",
        "1 when the hosted MCP server is connected.",
        labels=["server"],
    )
    for server in servers:
        calls.add_metric([server.name], server.calls)
        failures.add_metric([server.name], server.failures)
        up.add_metric([server.name], 1 if server.status == "ready" else 0)
    yield from (calls, failures, up)


async def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE)


def metrics_registry(backend: CursorBackend, log: RequestLog | None = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(BackendCollector(backend))
    if log is not None:
        registry.register(RequestLogCollector(log))
    return registry
