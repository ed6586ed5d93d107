"""What the emulator has seen and done, for tests and benchmarks (also served as JSON)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class EmulatorCounters:
    """Monotonic counters of one EmulatorServer.

    Every Run counted in `runs_opened` ends as exactly one of `runs_completed` (turn_ended and a
    clean end-stream sent), `runs_cancelled` (the client reset the stream, closed its side or
    sent cancel_action before the turn ended, or the connection was lost or the server
    stopped), `runs_failed` (an error end-stream or a non-200 status was sent, `/fault error`
    included) or `runs_faulted` (ended by an injected fault from our side: `/fault disconnect`,
    `end-early`, `goaway close`). After the other faults (stall, malformed, huge-frame, graceful
    goaway) the Run still ends as one of the first three. `faults_injected` counts every
    `/fault` fired. Frames are Connect envelopes, not HTTP/2 frames. `/query`: queries sent,
    answered with a typed decision, and replies ignored for being empty or wrong-shaped.
    `runs_over_connection_ceiling`: Runs that closed their connection for exceeding
    `max_runs_per_connection`.

    Accounts: `login_pages` (login URL visits that approved a login), `logins` (browser
    logins whose poll received tokens), `api_key_exchanges`, refreshes by call
    (`refreshes_exchange_user_api_key`, `refreshes_auth_refresh`, `refreshes_auth_token`),
    and requests refused for an expired (`expired_tokens_rejected`) or a missing/invalid
    (`invalid_tokens_rejected`) access token.
    """

    connections: int = 0
    runs_opened: int = 0
    runs_completed: int = 0
    runs_cancelled: int = 0
    runs_failed: int = 0
    runs_faulted: int = 0
    frames_in: int = 0
    frames_out: int = 0
    blobs_set: int = 0
    blobs_get: int = 0
    blobs_missing: int = 0
    client_heartbeats: int = 0
    request_context_asked: int = 0
    exec_requests: int = 0
    queries_sent: int = 0
    queries_answered: int = 0
    queries_wrong_shape: int = 0
    runs_over_connection_ceiling: int = 0
    faults_injected: int = 0
    unary_calls: int = 0
    http1_requests: int = 0
    login_pages: int = 0
    logins: int = 0
    api_key_exchanges: int = 0
    refreshes_exchange_user_api_key: int = 0
    refreshes_auth_refresh: int = 0
    refreshes_auth_token: int = 0
    expired_tokens_rejected: int = 0
    invalid_tokens_rejected: int = 0

    @property
    def runs_active(self) -> int:
        """Runs opened and not yet ended."""
        ended = self.runs_completed + self.runs_cancelled + self.runs_failed + self.runs_faulted
        return self.runs_opened - ended

    @property
    def refreshes(self) -> int:
        """Token refreshes served, whichever call made them."""
        return (
            self.refreshes_exchange_user_api_key
            + self.refreshes_auth_refresh
            + self.refreshes_auth_token
        )

    def as_dict(self) -> dict[str, int]:
        out = asdict(self)
        out["runs_active"] = self.runs_active
        out["refreshes"] = self.refreshes
        return out
