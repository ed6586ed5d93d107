"""Redacted wire traces of Runs: record them (`serve --record`, `doctor --record`), print
them (`cursor-bridge trace show`), and let the emulator replay their server side."""

from .format import TRACE_VERSION, RunTrace, load_trace
from .recorder import RunTap, WireRecorder

__all__ = ["TRACE_VERSION", "RunTap", "RunTrace", "WireRecorder", "load_trace"]
