"""`GET /metrics`: Prometheus text exposition of the engine's counters.

Values are read from the backend at scrape time (a custom collector), so the engine keeps
plain counters and knows nothing about Prometheus.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from ..auth.pool import AccountStatus
from ..engine.backend import CursorBackend
from ..engine.hosted import HostedServerStats

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


def metrics_registry(backend: CursorBackend) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(BackendCollector(backend))
    return registry
