"""A scripted Run for engine tests: a RunHandle (engine/run_handle.py) without a backend.

It hands out the batches it was given, records the answers it receives and whether it was
held open or closed. Once the script is used up, a read with a deadline times out (the
backend is waiting) and an open read ends the Run, unless `hang` is set, when it blocks
like a backend that went quiet (the test's own timeout then fails it).
"""

from __future__ import annotations

import asyncio

from cursor_bridge.engine.run_handle import ExecAnswer, RunHandle
from cursor_bridge.engine.turn_state import TurnBlobs
from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol.blobs import MemoryBlobStore
from cursor_bridge.protocol.errors import ConnectError


class FakeRun:
    def __init__(
        self,
        *batches: list[ev.Event],
        used_tokens: int = 7,
        hang: bool = False,
        fail_answers: ConnectError | None = None,
    ) -> None:
        self.batches = list(batches)
        self.used_tokens = used_tokens
        self.hang = hang
        self.fail_answers = fail_answers
        self.answers: list[ExecAnswer] = []
        self.waits: list[float | None] = []
        self.held_open = False
        self.closed = False
        self.conversation_id = "conv-fake"
        self.blobs = TurnBlobs(MemoryBlobStore())
        self.resumed_from: str | None = None
        self.merge_deltas = True

    async def next_batch(self, within: float | None = None) -> list[ev.Event] | None:
        self.waits.append(within)
        if self.batches:
            return self.batches.pop(0)
        if self.hang:
            await asyncio.wait_for(asyncio.get_running_loop().create_future(), within)
        if within is not None:
            raise TimeoutError
        return None

    async def send_answers(self, answers: list[ExecAnswer]) -> None:
        if self.fail_answers is not None:
            raise self.fail_answers
        self.answers.extend(answers)

    async def wait_started(self) -> None:
        if not self.batches:
            raise AssertionError("the test gave the Run nothing to start with")

    def hold_open(self) -> None:
        self.held_open = True

    @property
    def alive(self) -> bool:
        return not self.closed

    @property
    def checkpoint(self) -> bytes | None:
        return None

    @property
    def context(self) -> tuple[int, int]:
        return self.used_tokens, 0

    async def finish(self, grace: float = 10.0) -> bytes | None:
        self.closed = True
        return None

    def finish_now(self) -> bool:
        return False  # always through `finish`, as before the synchronous path existed

    async def aclose(self) -> None:
        self.closed = True


def _satisfies(run: FakeRun) -> RunHandle:
    return run  # mypy checks here that FakeRun is a RunHandle
