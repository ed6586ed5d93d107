"""`cursor-bridge trace show`: a trace file as lines a person can read.

One line per event: time since the trace started, direction (→ to the backend, ← from it),
the message path, the payload size, and the numbers and ids found along the path. `--fields`
adds the whole field tree: names from our schema, numbers, lengths (`?` marks a field our
schema does not know).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from ..protocol.messages import agent
from ..protocol.wire_shape import is_real_oneof
from .format import Record, Trace

_ARROWS = {"out": "→", "in": "←"}
_ROOTS: dict[str, Any] = {
    "out": agent.AgentClientMessage.DESCRIPTOR,
    "in": agent.AgentServerMessage.DESCRIPTOR,
}


def format_trace(trace: Trace, *, fields: bool = False) -> Iterator[str]:
    header = trace.header
    content = "with content" if header.get("content") else "redacted (no content)"
    yield (
        f"wire trace of cursor-bridge {header.get('bridge', '?')}, started "
        f"{header.get('started', '?')}, {content}: {len(trace.runs)} Run(s)"
    )
    for run in trace.runs:
        yield ""
        for record in run.records:
            yield from _format(run.run, record, fields)


def _format(run: int, record: Record, fields: bool) -> Iterator[str]:
    stamp = f"+{float(record.get('t', 0)):.3f}s".rjust(10)
    event = record["ev"]
    if event == "open":
        yield f"{stamp}  run {run} opened: {record.get('url', '')}"
    elif event == "headers":
        extra = " ".join(f"{k}={v}" for k, v in sorted(record.get("headers", {}).items()))
        yield f"{stamp}  ←  HTTP {record.get('status')} {extra}".rstrip()
    elif event == "frame":
        yield from _frame(stamp, record, fields)
    elif event == "eof":
        trailers = record.get("trailers") or {}
        extra = " " + " ".join(f"{k}={v}" for k, v in sorted(trailers.items())) if trailers else ""
        partial = (
            f" ({record['buffered']} bytes of an unfinished frame)"
            if record.get("buffered")
            else ""
        )
        yield f"{stamp}  ←  end of response body{extra}{partial}"
    elif event == "half-close":
        yield f"{stamp}  →  request side ended (END_STREAM)"
    elif event == "cancel":
        yield f"{stamp}  →  stream reset by the bridge (cancel)"
    elif event == "lost":
        yield f"{stamp}  ×  connection lost: {record.get('detail', '')}"
    elif event == "undecodable":
        arrow = _ARROWS.get(record.get("dir", ""), "?")
        yield f"{stamp}  {arrow}  undecodable bytes: {record.get('detail', '')}"
    else:
        yield f"{stamp}  ?  {event}"


def _frame(stamp: str, record: Record, fields: bool) -> Iterator[str]:
    direction = record.get("dir", "")
    arrow = _ARROWS.get(direction, "?")
    flags = int(record.get("flags", 0))
    flag_note = f" flags=0x{flags:02x}" if flags & ~0x02 else ""
    if "end" in record:
        end = record["end"]
        error = end.get("error")
        if "undecodable" in end:
            text = f"end-stream: undecodable ({end['undecodable']})"
        elif error is None:
            text = "end-stream: clean"
        else:
            text = f"end-stream: error {error.get('code')}: {error.get('message', '')}"
        yield f"{stamp}  {arrow}  {text}{flag_note}"
        return
    path = record.get("path") or "(empty)"
    shape = record.get("shape") or []
    root = _ROOTS.get(direction)
    ids = _numbers_along(shape, root) if root is not None else ""
    yield f"{stamp}  {arrow}  {path:<48} {record.get('size', 0):>7} B{flag_note}  {ids}".rstrip()
    if fields and root is not None:
        for line in _tree(shape, root, 1):
            yield f"{'':14}{line}"


def _numbers_along(shape: list[dict[str, Any]], descriptor: Descriptor | None) -> str:
    """`id=3 exec_id=…` : the numbers and kept ids of the messages on the oneof path."""
    parts: list[str] = []
    level: list[dict[str, Any]] | None = shape
    while level is not None and descriptor is not None:
        nxt: list[dict[str, Any]] | None = None
        nxt_descriptor: Descriptor | None = None
        for item in level:
            field = descriptor.fields_by_number.get(item["n"])
            name = field.name if field is not None else f"#{item['n']}"
            if "m" in item and field is not None and is_real_oneof(field.containing_oneof):
                if nxt is None:
                    nxt, nxt_descriptor = item["m"], field.message_type
            elif "v" in item and field is not None and field.type != FieldDescriptor.TYPE_MESSAGE:
                parts.append(f"{name}={item['v']}")
            elif "text" in item and len(str(item["text"])) <= 64:
                parts.append(f"{name}={item['text']}")
            elif "hex" in item and field is not None and field.type == FieldDescriptor.TYPE_BYTES:
                parts.append(f"{name}={str(item['hex'])[:12]}…")
            elif "u" in item:
                parts.append(f"{name}?")
        level, descriptor = nxt, nxt_descriptor
    return " ".join(parts)


def _tree(shape: list[dict[str, Any]], descriptor: Descriptor | None, depth: int) -> Iterator[str]:
    for item in shape:
        field = descriptor.fields_by_number.get(item["n"]) if descriptor is not None else None
        name = field.name if field is not None else "?"
        indent = "  " * depth
        label = f"{indent}{item['n']} {name}"
        if "m" in item:
            yield label
            child = field.message_type if field is not None else None
            yield from _tree(item["m"], child, depth + 1)
        elif "v" in item:
            yield f"{label} = {item['v']}"
        elif "text" in item:
            yield f"{label} = {item['text']!r}"
        elif "hex" in item:
            yield f"{label} = 0x{item['hex']}"
        elif "b64" in item:
            yield f"{label} = ({len(item['b64']) * 3 // 4} bytes, base64)"
        else:
            yield f"{label} ({item.get('len', 0)} bytes)"
