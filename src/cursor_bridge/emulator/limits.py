"""Several emulated accounts, each with its own Run rate limit.

Each `EmulatedAccount` logs in with its own API key and gets tokens for its own user id
(`sub`), so a bridge can hold several logins at one emulator. With `run_limit` set, each
account may open that many Runs per `run_limit_window` seconds (a fixed window, per
account); past it the Run ends with Connect `resource_exhausted` (the code peers see for
limits, exec-auth-models.md §4.3), a `google.rpc.RetryInfo` detail giving the seconds until
the window reopens, and an `aiserver.v1.ErrorDetails` detail ERROR_RATE_LIMITED (50).
Inferred: the real service's rate-limit end-stream has not been captured; the code and the
enum value are from the facts, the RetryInfo detail is the standard gRPC way to say when.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..protocol.errors import ConnectError
from ..protocol.framing import retry_info_detail

ERROR_RATE_LIMITED = 50
RATE_LIMIT_MESSAGE = "You've hit your rate limit. Please try again later."


@dataclass(frozen=True, slots=True)
class EmulatedAccount:
    """One more user of the emulator: its API key, user id (JWT `sub` suffix) and e-mail."""

    api_key: str
    account_id: str
    email: str = ""


def parse_account(spec: str) -> EmulatedAccount:
    """`KEY:NAME` (the API key it logs in with, and its account id) from the command line."""
    key, sep, name = spec.partition(":")
    if not sep or not key or not name.isalnum():
        raise ValueError(f"expected KEY:NAME (NAME letters and digits), got {spec!r}")
    return EmulatedAccount(key, name, f"{name}@example.com")


class RunRateLimiter:
    """Fixed-window Run counts per user: `admit()` says whether one more Run may start."""

    def __init__(self, limit: int | None, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # user -> (window start, runs)
        self.refused = 0
        self.runs: Counter[str] = Counter()  # Runs admitted, by user

    def admit(self, user: str) -> float | None:
        """None when admitted; else the seconds until this user may start Runs again."""
        if self.limit is None:
            self.runs[user] += 1
            return None
        now = self.clock()
        start, count = self._windows.get(user, (now, 0))
        if now - start >= self.window:
            start, count = now, 0
        if count >= self.limit:
            self.refused += 1
            return max(start + self.window - now, 0.001)
        self._windows[user] = (start, count + 1)
        self.runs[user] += 1
        return None


def rate_limited(retry_after: float) -> tuple[ConnectError, tuple[dict[str, Any], ...]]:
    """The Connect error and details of a refused Run (see module doc)."""
    from .auth import auth_error_detail  # auth imports this module's account type

    wait = math.ceil(retry_after)
    error = ConnectError("resource_exhausted", RATE_LIMIT_MESSAGE, retry_after=wait)
    detail = auth_error_detail(ERROR_RATE_LIMITED, "Rate limit", RATE_LIMIT_MESSAGE)
    return error, (retry_info_detail(wait), detail)
