"""Recording the frames of every Run, both directions, as redacted JSON lines.

`UpstreamRun` (the one layer that sees both directions of a Run) hands its bytes to a
`RunTap`; the tap cuts them into Connect frames with its own decoders and writes one record
per frame through the `WireRecorder` it came from. Recording never changes what is sent or
received, and a frame it cannot read is recorded as undecodable instead of failing the Run.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from .. import __version__
from ..protocol.errors import ProtocolError
from ..protocol.framing import FLAG_END_STREAM, EnvelopeDecoder, parse_end_stream
from ..protocol.messages import agent
from ..protocol.wire_shape import ShapeError, describe, message_path
from .format import TRACE_MAGIC, TRACE_VERSION, Record, dumps

_MAX_FRAME = 1 << 31  # the tap reads what the Run reads; limits are the Run's business
_KEPT_HEADERS = ("content-type", "connect-content-encoding", "grpc-status", "retry-after")
_CLIENT = agent.AgentClientMessage.DESCRIPTOR
_SERVER = agent.AgentServerMessage.DESCRIPTOR


class WireRecorder:
    """Writes the trace of every Run it taps to `directory` (a new file per recorder), and
    keeps the records in `records` when `keep` is set (the doctor reads them).

    `content`: keep prompt text, file contents and blob bytes too (off by default).
    """

    def __init__(
        self, directory: Path | None = None, *, content: bool = False, keep: bool = False
    ) -> None:
        self.content = content
        self.records: list[Record] | None = [] if keep else None
        self.path: Path | None = None
        self._file: IO[str] | None = None
        self._started = time.monotonic()
        self._runs = 0
        stamp = datetime.now(UTC)
        header: Record = {
            "trace": TRACE_MAGIC,
            "version": TRACE_VERSION,
            "content": content,
            "bridge": __version__,
            "started": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            name = f"cursor-bridge-{stamp.strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}.jsonl"
            self.path = directory / name
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self._file = os.fdopen(fd, "w", encoding="utf-8", buffering=1)
            self._file.write(dumps(header) + "\n")

    def run_tap(self, url: str) -> RunTap:
        """A tap for one new Run to `url`."""
        self._runs += 1
        tap = RunTap(self, self._runs)
        tap.write({"ev": "open", "url": url})
        return tap

    def write(self, record: Record) -> None:
        record["t"] = round(time.monotonic() - self._started, 4)
        if self.records is not None:
            self.records.append(record)
        if self._file is not None:
            self._file.write(dumps(record) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class RunTap:
    """The recording side of one Run; every method is cheap and never raises."""

    def __init__(self, recorder: WireRecorder, run: int) -> None:
        self._recorder = recorder
        self.run = run
        self._out = EnvelopeDecoder(_MAX_FRAME)
        self._in = EnvelopeDecoder(_MAX_FRAME)
        self._broken: set[str] = set()

    def write(self, record: Record) -> None:
        self._recorder.write({"run": self.run, **record})

    def sent(self, data: bytes) -> None:
        self._frames("out", self._out, data)

    def received(self, data: bytes) -> None:
        self._frames("in", self._in, data)

    def response(self, status: int, headers: list[tuple[str, str]]) -> None:
        kept = {name: value for name, value in headers if name in _KEPT_HEADERS}
        self.write({"ev": "headers", "status": status, "headers": kept})

    def eof(self, trailers: list[tuple[str, str]] | None) -> None:
        kept = {name: value for name, value in trailers or () if name in _KEPT_HEADERS}
        if trailers and "grpc-message" in dict(trailers):
            kept["grpc-message"] = self._message(dict(trailers)["grpc-message"])
        self.write({"ev": "eof", "trailers": kept, "buffered": self._in.buffered})

    def half_closed(self) -> None:
        self.write({"ev": "half-close"})

    def cancelled(self) -> None:
        self.write({"ev": "cancel"})

    def lost(self, detail: str) -> None:
        self.write({"ev": "lost", "detail": detail})

    # -- internals --------------------------------------------------------------------------

    def _frames(self, direction: str, decoder: EnvelopeDecoder, data: bytes) -> None:
        if direction in self._broken:
            return
        try:
            envelopes = decoder.feed(data)
        except ProtocolError as exc:
            self._broken.add(direction)
            self.write({"ev": "undecodable", "dir": direction, "detail": str(exc)})
            return
        for envelope in envelopes:
            record: Record = {
                "ev": "frame",
                "dir": direction,
                "flags": envelope.flags,
                "size": len(envelope.payload),
            }
            if envelope.flags & FLAG_END_STREAM:
                record["end"] = self._end(envelope.payload)
            else:
                self._describe(record, envelope.payload, _CLIENT if direction == "out" else _SERVER)
            self.write(record)

    def _describe(self, record: Record, payload: bytes, descriptor: Any) -> None:
        try:
            shape = describe(payload, descriptor, content=self._recorder.content)
        except ShapeError as exc:
            record["path"] = "(undecodable)"
            record["detail"] = str(exc)
            return
        record["path"] = message_path(shape, descriptor)
        record["shape"] = shape

    def _end(self, payload: bytes) -> Record:
        try:
            error = parse_end_stream(payload).error
        except ProtocolError as exc:
            return {"undecodable": str(exc)}
        if error is None:
            return {"error": None}
        found: Record = {"code": error.code, "message": self._message(error.message)}
        if error.retry_after is not None:
            found["retry_after"] = error.retry_after
        return {"error": found}

    def _message(self, message: str) -> str:
        """A backend error message: whole with `content`, else only what precedes the first
        colon (`Blob not found: <bytes>` quotes what it could not find)."""
        if self._recorder.content:
            return message
        return message.split(":", 1)[0][:80]
