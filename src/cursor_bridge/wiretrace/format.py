"""The trace file: JSON lines, a header then one record per event of each Run.

```
{"trace": "cursor-bridge wire trace", "version": 1, "content": false, ...}
{"t": 0.0012, "run": 1, "ev": "open", "url": "https://host/agent.v1.AgentService/Run"}
{"t": 0.0013, "run": 1, "ev": "frame", "dir": "out", "flags": 0, "size": 412,
 "path": "run_request", "shape": [...]}
{"t": 0.0410, "run": 1, "ev": "headers", "status": 200, "headers": {...}}
{"t": 0.0420, "run": 1, "ev": "frame", "dir": "in", ..., "path": "interaction_update.text_delta"}
{"t": 0.0900, "run": 1, "ev": "frame", "dir": "in", "flags": 2, "size": 2, "end": {"error": null}}
{"t": 0.0901, "run": 1, "ev": "eof", "trailers": {}}
```

`dir` is seen from the bridge: `out` to the backend, `in` from it. Other events:
`half-close` (the bridge ended its side after turn_ended), `cancel` (the bridge reset the
stream), `lost` (the connection failed), `undecodable` (a frame the
bridge could not read: its size and why). `shape` is protocol/wire_shape.py's redacted
structure. Pure: reading and writing records, no file handling beyond `load_trace`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRACE_MAGIC = "cursor-bridge wire trace"
TRACE_VERSION = 1

Record = dict[str, Any]


class TraceError(ValueError):
    """Not a trace file this version can read."""


@dataclass(slots=True)
class RunTrace:
    """The records of one Run, in order."""

    run: int
    records: list[Record] = field(default_factory=list)

    @property
    def status(self) -> int | None:
        for record in self.records:
            if record["ev"] == "headers":
                return int(record["status"])
        return None

    def frames(self, direction: str) -> list[Record]:
        return [r for r in self.records if r["ev"] == "frame" and r["dir"] == direction]

    def paths(self, direction: str) -> list[str]:
        return [str(r.get("path", "")) for r in self.frames(direction) if "end" not in r]

    @property
    def end(self) -> Record | None:
        """The end-stream frame the backend sent, if any."""
        for record in self.records:
            if record["ev"] == "frame" and "end" in record:
                return record
        return None


@dataclass(slots=True)
class Trace:
    header: Record
    runs: list[RunTrace]


def parse_records(lines: Iterable[str]) -> Trace:
    header: Record | None = None
    runs: dict[int, RunTrace] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise TraceError(f"line {number} is not JSON: {exc}") from None
        if not isinstance(record, dict):
            raise TraceError(f"line {number} is not a JSON object")
        if header is None:
            if record.get("trace") != TRACE_MAGIC:
                raise TraceError("not a cursor-bridge wire trace (no header line)")
            if record.get("version") != TRACE_VERSION:
                raise TraceError(f"trace version {record.get('version')} is not supported")
            header = record
            continue
        run = record.get("run")
        if not isinstance(run, int) or not isinstance(record.get("ev"), str):
            raise TraceError(f"line {number} has no run number or event")
        runs.setdefault(run, RunTrace(run)).records.append(record)
    if header is None:
        raise TraceError("empty trace")
    return Trace(header, [runs[key] for key in sorted(runs)])


def load_trace(path: Path) -> Trace:
    try:
        with path.open(encoding="utf-8") as lines:
            return parse_records(lines)
    except OSError as exc:
        raise TraceError(f"cannot read {path}: {exc.strerror}") from None


def dumps(record: Record) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)
