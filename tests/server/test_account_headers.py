"""The `x-cursor-bridge-usage` value in every state of an account's usage report: not read
yet, never read successfully, read, and read once then failing; always one header-safe line."""

from __future__ import annotations

from cursor_bridge.auth.pool import AccountStatus
from cursor_bridge.protocol.period_usage import PeriodUsage
from cursor_bridge.server.account_headers import usage_header

REPORT = PeriodUsage(
    cycle_start=1_796_000_000.0,
    cycle_end=1_798_592_000.0,
    plan_used=120,
    plan_limit=2000,
    plan_remaining=1880,
    on_demand_enabled=False,
    on_demand_used=None,
    on_demand_limit=None,
    on_demand_remaining=None,
    limit_type="",
    message="",
)


def row(**report: object) -> AccountStatus:
    values: dict[str, object] = {
        "account_id": "id",
        "label": "alice",
        "healthy": True,
        "cooling_until": None,
        "cooling_seconds": 0,
        "in_flight": 0,
        "requests": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "limit_hits": 0,
        "last_error": None,
        **report,
    }
    return AccountStatus(**values)  # type: ignore[arg-type]


def test_every_state_of_the_report() -> None:
    now = 1_796_000_100.0
    assert usage_header(row(), now) == "unknown"
    failing = row(usage_checked_at=now - 5, usage_error="HTTP 503 down; really\r\n\u00e9")
    assert usage_header(failing, now) == "unavailable; age=5s; error=HTTP 503 down_ really___"
    read = row(period_usage=REPORT, usage_checked_at=now - 42)
    assert usage_header(read, now) == (
        "plan=120/2000; plan_remaining=1880; cycle_end=2026-12-30T00:53:20Z; age=42s"
    )
    stale = row(period_usage=REPORT, usage_checked_at=now - 1, usage_error="HTTP 401")
    assert usage_header(stale, now).endswith("; age=1s; error=HTTP 401")
    assert usage_header(stale, now).startswith("plan=120/2000; ")
