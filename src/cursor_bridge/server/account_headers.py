"""The caller's key restriction in, the serving account's headers out.

The gate (gate.py) uses it after the client-key check, on model requests only: it puts the
caller's key id and restriction on the request's AccessRecord (the engine reads them when it
picks an account), and when the response starts, names the account that served the turn and
its usage:

- `x-cursor-bridge-account`: the account's label;
- `x-cursor-bridge-account-usage`: what this process saw it do (`requests=…;
  input_tokens=…; output_tokens=…; limit_hits=…`);
- `x-cursor-bridge-usage`: the backend's own report for the current billing period, as last
  read (see `usage_header`), or `unavailable; error=…` / `unknown` before the first answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import Scope

from .. import access
from ..auth.pool import AccountPool, AccountStatus
from ..auth.restrictions import Restriction
from .request_log import is_model_request

RestrictionLookup = Callable[[Scope], tuple[str | None, Restriction | None]]
ACCOUNT_HEADER = "x-cursor-bridge-account"
USAGE_HEADER = "x-cursor-bridge-account-usage"
PERIOD_USAGE_HEADER = "x-cursor-bridge-usage"


def seen_usage(row: AccountStatus) -> str:
    return (
        f"requests={row.requests}; input_tokens={row.input_tokens}; "
        f"output_tokens={row.output_tokens}; limit_hits={row.limit_hits}"
    )


def usage_header(row: AccountStatus, now: float) -> str:
    """`plan=120/2000; plan_remaining=1880; on_demand=0/1000; cycle_end=…Z; age=12s`.

    Money in the backend's unit (cents, inferred); `on_demand` only when the report has a
    spend limit; `age`: seconds since the report was read; a failed last read adds
    `error=…` (the figures shown are then the previous ones, if any)."""
    usage = row.period_usage
    parts: list[str] = []
    if usage is not None:
        parts.append(f"plan={usage.plan_used}/{usage.plan_limit}")
        parts.append(f"plan_remaining={usage.plan_remaining}")
        if usage.on_demand_used is not None:
            limit = "" if usage.on_demand_limit is None else usage.on_demand_limit
            parts.append(f"on_demand={usage.on_demand_used}/{limit}")
        if usage.cycle_end is not None:
            parts.append(f"cycle_end={_iso(usage.cycle_end)}")
    elif row.usage_error:
        parts.append("unavailable")
    else:
        return "unknown"
    if row.usage_checked_at:
        parts.append(f"age={max(int(now - row.usage_checked_at), 0)}s")
    if row.usage_error:
        parts.append(f"error={_token(row.usage_error)}")
    return "; ".join(parts)


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def _token(text: str) -> str:
    """Header-safe: printable ASCII without `;`, at most 120 characters."""
    clean = "".join(c if 32 <= ord(c) < 127 and c != ";" else "_" for c in text)
    return clean[:120]


class AccountHeaders:
    """See module doc. `restriction_for(scope)`: the caller's key id and its restriction (set
    by the client-key check before this runs), or (None, None)."""

    def __init__(
        self,
        pool: Callable[[], AccountPool | None],
        restriction_for: RestrictionLookup | None = None,
    ) -> None:
        self.pool = pool
        self.restriction_for = restriction_for

    def note_caller(self, scope: Scope, record: access.AccessRecord) -> None:
        """The caller's key and restriction on a model request's record."""
        if self.restriction_for is not None and is_model_request(record):
            record.key_id, record.restriction = self.restriction_for(scope)

    def headers(self, record: access.AccessRecord) -> list[tuple[bytes, bytes]]:
        """The account headers of a model request an account served (else none)."""
        if not record.account or not is_model_request(record):
            return []
        headers = [(ACCOUNT_HEADER.encode(), record.account.encode("latin-1", "replace"))]
        pool = self.pool()
        row = (
            next((r for r in pool.snapshot() if r.label == record.account), None) if pool else None
        )
        if row is not None:
            headers.append((USAGE_HEADER.encode(), seen_usage(row).encode()))
            value = usage_header(row, time.time())
            headers.append((PERIOD_USAGE_HEADER.encode(), value.encode("latin-1", "replace")))
        return headers
