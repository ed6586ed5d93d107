"""An account's usage and limits for the current billing period, as the backend reports them.

`aiserver.v1.DashboardService/GetCurrentPeriodUsage` (exec-auth-models.md §4.2): a Connect
unary call on the API host, empty request. Pure: the call itself is made elsewhere.

What rests on inference (no peer calls this RPC, and no capture of it exists) is kept in
`read_period_usage` alone; see its docstring.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from google.protobuf import json_format

from .messages import aiserver

PATH = "/aiserver.v1.DashboardService/GetCurrentPeriodUsage"
# The JSON codec (as for AvailableModels); the request message has no fields.
REQUEST_BODY = b"{}"


@dataclass(frozen=True, slots=True)
class PeriodUsage:
    """One report. Money figures are in the backend's unit (believed to be US cents);
    None where the report leaves a figure out."""

    cycle_start: float | None  # Unix seconds
    cycle_end: float | None
    plan_used: int
    plan_limit: int
    plan_remaining: int
    on_demand_enabled: bool
    on_demand_used: int | None
    on_demand_limit: int | None
    on_demand_remaining: int | None
    limit_type: str
    message: str

    @property
    def plan_share(self) -> float | None:
        """Share of the plan's included usage spent (0.0-1.0+), None without a limit."""
        return self.plan_used / self.plan_limit if self.plan_limit > 0 else None


class UsageReportError(ValueError):
    """The answer could not be read as a GetCurrentPeriodUsageResponse."""


def read_period_usage(payload: bytes) -> PeriodUsage:
    """The PeriodUsage in a JSON-codec answer.

    Inferred, not captured (change here when a capture shows otherwise):
    - the JSON codec is served for this RPC (Connect servers serve both codecs; the emulator
      does), with proto3 JSON names (`billingCycleStart`, int64 as strings);
    - `billing_cycle_*` are Unix milliseconds (Cursor's other timestamps are); a value below
      1e11 is taken as seconds instead;
    - money figures are US cents (int32 fields; Cursor's dashboard shows dollars);
    - `plan_usage.total_spend` is what the plan used, `limit` what it includes;
    - `spend_limit_usage.individual_*` is the on-demand (usage-based) spend of this user,
      and the top-level `enabled` says whether usage-based spend is on.
    Raises UsageReportError on anything that is not such a message.
    """
    message = aiserver.GetCurrentPeriodUsageResponse()
    try:
        raw = json.loads(payload or b"{}")
        blocks = ("planUsage", "spendLimitUsage", "plan_usage", "spend_limit_usage")
        if not isinstance(raw, dict) or any(
            not isinstance(raw[k], dict | None) for k in blocks if k in raw
        ):
            raise UsageReportError("the usage report is not a GetCurrentPeriodUsageResponse")
        json_format.ParseDict(raw, message, ignore_unknown_fields=True)
    except (json_format.ParseError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        if isinstance(exc, UsageReportError):
            raise
        raise UsageReportError(f"unreadable usage report: {str(exc)[:120]}") from None
    plan = message.plan_usage
    spend = message.spend_limit_usage
    has_spend = message.HasField("spend_limit_usage")
    return PeriodUsage(
        cycle_start=_seconds(message.billing_cycle_start),
        cycle_end=_seconds(message.billing_cycle_end),
        plan_used=plan.total_spend,
        plan_limit=plan.limit,
        plan_remaining=plan.remaining,
        on_demand_enabled=message.enabled,
        on_demand_used=spend.individual_used if has_spend else None,
        on_demand_limit=spend.individual_limit if spend.HasField("individual_limit") else None,
        on_demand_remaining=spend.individual_remaining if has_spend else None,
        limit_type=spend.limit_type,
        message=message.display_message[:200],
    )


def _seconds(stamp: int) -> float | None:
    if stamp <= 0:
        return None
    return stamp / 1000 if stamp >= 100_000_000_000 else float(stamp)
