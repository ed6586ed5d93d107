"""One exec request the emulator sent in flight, and what the client answered to it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ..protocol.messages import agent


@dataclass(slots=True)
class ExecCall:
    """One exec request in flight and what the client answered.

    A shell stream (`shell_stream_args`) is complete at the client's `stream_close`, as the
    service needs it; any other exec at its first result. `throw` completes any exec.
    """

    id: int
    kind: str
    future: asyncio.Future[None]
    results: list[agent.ExecClientMessage] = field(default_factory=list)
    thrown: str | None = None

    def result_received(self, message: agent.ExecClientMessage) -> None:
        self.results.append(message)
        if self.kind != "shell_stream_args":
            self._complete()

    def stream_closed(self) -> None:
        self._complete()

    def throw(self, error: str) -> None:
        self.thrown = error
        self._complete()

    def _complete(self) -> None:
        if not self.future.done():
            self.future.set_result(None)
