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
    `/fault` fired. Frames are Connect envelopes, not HTTP/2 frames.
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
    faults_injected: int = 0
    unary_calls: int = 0

    @property
    def runs_active(self) -> int:
        """Runs opened and not yet ended."""
        ended = self.runs_completed + self.runs_cancelled + self.runs_failed + self.runs_faulted
        return self.runs_opened - ended

    def as_dict(self) -> dict[str, int]:
        out = asdict(self)
        out["runs_active"] = self.runs_active
        return out
