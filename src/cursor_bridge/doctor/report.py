"""The doctor's report: one line per step, and what the wire trace shows about the session."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ..wiretrace.format import Record, RunTrace

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


@dataclass(frozen=True, slots=True)
class StepResult:
    name: str
    status: str
    seconds: float
    seen: str

    def line(self) -> str:
        return f"{self.status}  {self.name:<18} {self.seconds:6.2f} s  {self.seen}"


def summary(results: Iterable[StepResult]) -> str:
    counts = Counter(r.status for r in results)
    return f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped"


def runs_of(records: Iterable[Record]) -> list[RunTrace]:
    """The records grouped by Run, in the order the Runs opened."""
    runs: dict[int, RunTrace] = {}
    for record in records:
        runs.setdefault(int(record["run"]), RunTrace(int(record["run"]))).records.append(record)
    return [runs[key] for key in sorted(runs)]


def count_paths(records: Iterable[Record], direction: str, prefix: str) -> int:
    return sum(
        1
        for r in records
        if r["ev"] == "frame"
        and r["dir"] == direction
        and str(r.get("path", "")).startswith(prefix)
    )


def builtin_execs(records: Iterable[Record]) -> list[str]:
    """The built-in exec kinds the backend asked for (not request context, not MCP)."""
    kinds = []
    for record in records:
        path = str(record.get("path", ""))
        if (
            record["ev"] == "frame"
            and record["dir"] == "in"
            and path.startswith("exec_server_message.")
        ):
            kind = path.split(".")[1]
            if kind not in ("request_context_args", "mcp_args"):
                kinds.append(kind)
    return kinds


def how_it_ended(run: RunTrace) -> str:
    """`clean`, or what went wrong: `error CODE`, `ended before turn_ended`, `cancelled`..."""
    turn_ended = False
    for record in run.records:
        event = record["ev"]
        if event == "frame" and record["dir"] == "in":
            if record.get("path") == "interaction_update.turn_ended":
                turn_ended = True
            end = record.get("end")
            if end is not None:
                error = end.get("error")
                if error is not None:
                    return f"error {error.get('code')}"
                return "clean" if turn_ended else "ended before turn_ended"
        elif event == "headers" and record.get("status") != 200:
            return f"HTTP {record.get('status')}"
        elif event == "eof":
            return "body ended without an end-stream frame"
        elif event == "cancel":
            return "cancelled by the bridge after turn_ended" if turn_ended else "cancelled"
        elif event == "lost":
            return "connection lost"
        elif event == "undecodable":
            return "undecodable frame"
    return "left by the bridge before the backend ended it"
