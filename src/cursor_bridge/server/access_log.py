"""One access-log line per request, and the header naming the Cursor model that served it.

The gate (gate.py) opens each request's `AccessRecord` (`open_record`), stamps the status
and `x-cursor-bridge-model` on the response start, and when the response has ended (a
stream's last byte, or the client going away) logs it and hands a model request's record to
the RequestLog (`close_record`: the status page's recent requests and the request metrics).
`/health` and `/metrics` are logged at debug level only, so probes do not flood the log.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import Scope

from .. import access
from .request_log import RequestLog, dialect_of

log = logging.getLogger("cursor_bridge.access")

MODEL_HEADER = "x-cursor-bridge-model"
MODEL_HEADER_RAW = MODEL_HEADER.encode()
_QUIET = ("/health", "/metrics")


def format_line(fields: dict[str, Any]) -> str:
    """`POST /v1/chat/completions openai-chat gpt-5 -> gpt-5.4 200 ttft=12ms 340ms ...`."""
    parts = [fields["method"], fields["path"], fields["dialect"]]
    if "cursor_model" in fields:
        parts.append(f"{fields.get('model', '?')} -> {fields['cursor_model']}")
    elif "model" in fields:
        parts.append(fields["model"])
    parts.append(str(fields["status"]))
    if "ttft_ms" in fields:
        parts.append(f"ttft={fields['ttft_ms']:g}ms")
    parts.append(f"{fields['duration_ms']:g}ms")
    if "input_tokens" in fields:
        parts.append(f"tokens={fields['input_tokens']}in/{fields.get('output_tokens', 0)}out")
    if "run" in fields:
        parts.append(f"run={fields['run']}")
    if "error" in fields:
        parts.append(f"error={fields['error']!r}")
    return " ".join(parts)


def open_record(scope: Scope) -> access.AccessRecord:
    """The request's record, current for the rest of the request (access.current())."""
    path: str = scope["path"]
    record = access.AccessRecord(scope["method"], path, dialect_of(path))
    access.start(record)
    return record


def model_header(record: access.AccessRecord) -> list[tuple[bytes, bytes]]:
    """`x-cursor-bridge-model` once the engine chose a Cursor model."""
    return [(MODEL_HEADER_RAW, record.cursor_model.encode())] if record.cursor_model else []


def close_record(record: access.AccessRecord, requests: RequestLog | None) -> None:
    """Log the ended request and keep its record (model requests) in *requests*."""
    if not record.status:
        record.status = 499  # the client went away before any answer
    record.finished = time.monotonic()
    level = logging.DEBUG if record.path in _QUIET else logging.INFO
    if log.isEnabledFor(level):
        fields = record.fields(record.finished)
        log.log(level, format_line(fields), extra={"access": fields})
    if requests is not None:
        requests.add(record)
