"""`aiserver.v1.DashboardService/GetCurrentPeriodUsage`: each user's spend this billing period.

Every Run the emulator admits for a user costs `UsagePlan.run_cost` (in cents, the unit the
bridge believes the service uses). Spend fills the plan's included `plan_limit` first, then
on-demand spend up to `on_demand_limit` (None: usage-based pricing off, no
`spend_limit_usage` block). The period is `cycle_days` long from the emulator's start and
rolls over on the emulator's clock (`/emulator/clock` moves it), which zeroes the spend.

With `enforce`, a user whose plan and on-demand allowance are both spent gets its Runs
refused: Connect `resource_exhausted` with an `aiserver.v1.ErrorDetails` detail
ERROR_PRO_USER_USAGE_LIMIT (10) and no RetryInfo (exec-auth-models.md §4.3 gives the code
and the enum; the missing retry time is an inference: the limit lasts until the period ends).
Off by default, so long benchmarks never run out.

`fault`: a Connect code the RPC answers with instead (an outage of the usage service), set
at start or at run time through POST `/emulator/usage {"fault": CODE | null}`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..protocol.errors import CONNECT_CODES, ConnectError
from ..protocol.messages import aiserver

CONTROL_PATH = "/emulator/usage"
ERROR_PRO_USER_USAGE_LIMIT = 10
USAGE_LIMIT_MESSAGE = "You've hit your usage limit."
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class UsagePlan:
    """The limits every emulated user has (see module doc)."""

    plan_limit: int = 2000  # cents included per period (Cursor Pro: $20)
    run_cost: int = 4
    on_demand_limit: int | None = None
    cycle_days: float = 30.0
    enforce: bool = False
    fault: str | None = None


class PeriodUsageService:
    """Per-user spend over the current period, from the Runs admitted so far (`runs`)."""

    def __init__(self, plan: UsagePlan, runs: Counter[str], clock: Callable[[], float]) -> None:
        self.plan = plan
        self.fault = plan.fault
        self._runs = runs
        self._clock = clock
        self._cycle_start = clock()
        self._baseline: Counter[str] = Counter()  # Runs before this period began
        self.reports = 0

    def _roll(self) -> None:
        length = self.plan.cycle_days * DAY
        now = self._clock()
        if now < self._cycle_start + length:
            return
        periods = (now - self._cycle_start) // length
        self._cycle_start += periods * length
        self._baseline = Counter(self._runs)

    def spend(self, user: str) -> int:
        """Cents spent by *user* this period."""
        self._roll()
        return max(self._runs[user] - self._baseline[user], 0) * self.plan.run_cost

    def exhausted(self, user: str) -> tuple[ConnectError, tuple[dict[str, Any], ...]] | None:
        """The refusal of a Run for *user* when enforced and nothing is left, else None."""
        if not self.plan.enforce:
            return None
        allowance = self.plan.plan_limit + (self.plan.on_demand_limit or 0)
        if self.spend(user) < allowance:
            return None
        from .auth import auth_error_detail  # auth imports the emulator's account types

        error = ConnectError("resource_exhausted", USAGE_LIMIT_MESSAGE)
        detail = auth_error_detail(ERROR_PRO_USER_USAGE_LIMIT, "Usage limit", USAGE_LIMIT_MESSAGE)
        return error, (detail,)

    def report(self, user: str) -> aiserver.GetCurrentPeriodUsageResponse:
        """The answer for *user* (raises ConnectError while a fault is set)."""
        self.reports += 1
        if self.fault is not None:
            raise ConnectError(self.fault, "usage service unavailable (emulator fault)")
        spend = self.spend(user)
        plan = self.plan
        included = min(spend, plan.plan_limit)
        response = aiserver.GetCurrentPeriodUsageResponse(
            billing_cycle_start=int(self._cycle_start * 1000),
            billing_cycle_end=int((self._cycle_start + plan.cycle_days * DAY) * 1000),
            enabled=plan.on_demand_limit is not None,
        )
        response.plan_usage.total_spend = included
        response.plan_usage.included_spend = included
        response.plan_usage.remaining = plan.plan_limit - included
        response.plan_usage.limit = plan.plan_limit
        if plan.on_demand_limit is not None:
            over = min(spend - included, plan.on_demand_limit)
            limits = response.spend_limit_usage
            limits.total_spend = over
            limits.individual_limit = plan.on_demand_limit
            limits.individual_used = over
            limits.individual_remaining = plan.on_demand_limit - over
            limits.limit_type = "user"
        if self.exhausted(user) is not None:
            response.display_message = USAGE_LIMIT_MESSAGE
        return response

    def control(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """POST /emulator/usage: `{"fault": CODE | null}` sets or clears the fault."""
        try:
            raw = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raw = None
        fault = raw.get("fault") if isinstance(raw, dict) else 0
        if fault is not None and fault not in CONNECT_CODES:
            return 400, {"code": "invalid_argument", "message": 'expected {"fault": CODE|null}'}
        if isinstance(raw, dict) and "fault" in raw:
            self.fault = fault
        return 200, {"fault": self.fault, "reports": self.reports}
