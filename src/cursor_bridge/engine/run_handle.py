"""What the engine holds of one Run: a small handle over the stream and the protocol machine.

A turn reads a Run's events, answers its execs, and at the end either lets it close by itself
(keeping its checkpoint) or cancels it. Everything below that (the HTTP/2 stream, heartbeats,
the RunMachine's KV and context answers) stays behind `RunHandle`; `open_run` is the one
place that assembles a Run from a plan, and `LiveRun` (engine/live_run.py) is the handle's
implementation. Tests drive the engine with their own handle.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from ..protocol import events as ev
from ..protocol.errors import ConnectError
from ..protocol.headers import RUN_PATH, ClientIdentity, run_headers
from ..protocol.ids import new_uuid
from ..protocol.messages import agent
from ..protocol.run import RunMachine
from ..protocol.surprises import SurpriseWatch
from ..transport import BackendPool, ConnectFailed, TransportError
from ..wiretrace import WireRecorder
from .live_run import LiveRun
from .planner import PlannedRun
from .turn_state import TurnBlobs
from .upstream import UpstreamRun

# One exec's answer: its message sequence (one message, or a shell_stream's several).
ExecAnswer = list[agent.ExecClientMessage]


class RunHandle(Protocol):
    """One open Run, as the engine uses it."""

    # The conversation the Run belongs to, the KV blobs it stored and used (saved with its
    # checkpoint), and the store key of the checkpoint it started from, if any.
    conversation_id: str
    blobs: TurnBlobs
    resumed_from: str | None
    # Text and token deltas read together arrive as one event each; a reader that cuts the
    # output at a token budget turns this off to see each text piece before its count.
    merge_deltas: bool

    async def next_batch(self, within: float | None = None) -> list[ev.Event] | None:
        """The next batch of events; None once the Run ended cleanly. Raises ConnectError
        when the Run failed, TimeoutError when nothing came `within` seconds."""
        ...

    async def send_answers(self, answers: list[ExecAnswer]) -> None:
        """Deliver exec answers to the backend. Raises ConnectError (the Run failed)."""
        ...

    async def wait_started(self) -> None:
        """Read until the Run produces more than KV traffic (kept for next_batch); raises
        the Run's ConnectError if it fails first, while a retry is still possible."""
        ...

    def hold_open(self) -> None:
        """The Run outlives this request (a tool round): read it from its own task."""
        ...

    @property
    def alive(self) -> bool: ...

    @property
    def checkpoint(self) -> bytes | None:
        """The last checkpoint the backend sent, verbatim."""
        ...

    @property
    def context(self) -> tuple[int, int]:
        """(used, max) tokens of the model's window, from the last checkpoint (0, 0: none)."""
        ...

    async def finish(self, grace: float = 10.0) -> bytes | None:
        """Let a Run whose turn ended close by itself, cancelling it after `grace` seconds;
        the last checkpoint."""
        ...

    def finish_now(self) -> bool:
        """`finish` at once if nothing is left to wait for (then True; `checkpoint` is the
        last); False, with nothing done, when `finish` must wait."""
        ...

    async def aclose(self) -> None:
        """Cancel the Run upstream if unfinished, and stop reading it."""
        ...


class RunSettings(Protocol):
    """Where Runs go, as which client, and how they are kept alive and watched (read when
    each Run opens: BackendConfig is one)."""

    agent_url: str
    identity: ClientIdentity
    heartbeat_interval: float
    idle_timeout: float
    recorder: WireRecorder | None


async def open_run(
    pool: BackendPool,
    settings: RunSettings,
    token: str | None,
    plan: PlannedRun,
    blobs: TurnBlobs,
    *,
    merge_deltas: bool = True,
    surprises: SurpriseWatch | None = None,
    resumed_from: str | None = None,
) -> LiveRun:
    """Open the stream of a planned Run, its blobs already in *blobs* (they are stored
    before the run_request goes out, current-client.md §2.1); the run_request goes out
    when the handle is first read. Raises ConnectError `unavailable` when the backend
    cannot be reached."""
    machine = RunMachine(blobs=blobs, request_context=plan.request_context, surprises=surprises)
    machine.merge_deltas = merge_deltas
    url = settings.agent_url + RUN_PATH
    headers = _RUN_HEADERS.now(token, settings.identity)
    try:
        # A ready connection's stream at once; else the pool's full choice (a coroutine).
        stream = pool.stream_now(url, headers) or await pool.open_stream(url, headers)
    except ConnectFailed as exc:
        raise ConnectError("unavailable", f"cannot reach the backend: {exc}") from exc
    except TransportError as exc:
        raise ConnectError("unavailable", f"connection to the backend lost: {exc}") from exc
    upstream = UpstreamRun(
        stream,
        machine,
        plan.run_request,
        heartbeat_interval=settings.heartbeat_interval,
        idle_timeout=settings.idle_timeout,
        tap=settings.recorder.run_tap(url) if settings.recorder else None,
        raw_state=plan.raw_state,
    )
    conversation_id = plan.run_request.conversation_id
    return LiveRun(upstream, conversation_id, blobs=blobs, resumed_from=resumed_from)


class RunHeaders:
    """`run_headers(token, identity, now_ms=now)` for every Run, from the list made for
    the Run before: within one `x-cursor-checksum` period (its value changes every
    1,000,000 ms, protocol/headers.py), for the same token and identity, the lists differ
    only in their fresh `x-request-id` (tests/engine/test_run_start_caches.py)."""

    _PLACEHOLDER = "request-id"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._key: tuple[str | None, ClientIdentity, int] | None = None
        self._template: list[tuple[str, str]] = []
        self._slot = -1

    def now(self, token: str | None, identity: ClientIdentity) -> list[tuple[str, str]]:
        now_ms = int(self._clock() * 1000)
        key = (token, identity, now_ms // 1_000_000)
        kept = self._key
        if kept is None or kept[0] != token or kept[1] is not identity or kept[2] != key[2]:
            template = run_headers(token, identity, now_ms=now_ms, request_id=self._PLACEHOLDER)
            slot = template.index(("x-request-id", self._PLACEHOLDER))
            self._key, self._template, self._slot = key, template, slot
        headers = self._template.copy()
        headers[self._slot] = ("x-request-id", new_uuid())
        return headers


_RUN_HEADERS = RunHeaders()
