"""Parked Runs waiting for tool results, and the rule for continuing one.

A `Session` is one Run across the responses of a tool loop: the Run, the calls it waits for,
the calls it holds back, and the output its earlier responses reported. The segment reader
(engine/turn.py) works on it; after a response that ends with tool calls, the registry parks
it here under the ids of the calls it waits for. A follow-up request continues it only when
everything agrees (fail closed): its trailing tool messages answer exactly the pending
calls, the assistant message before them made exactly those calls, the messages before that
hash to the parked fingerprint, and the model and tool catalog are unchanged. Any
disagreement closes the parked Run; the caller then starts a fresh Run from the full
history. A result is never delivered into another conversation's Run.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from ..protocol import events as ev
from ..protocol.errors import ConnectError
from ..protocol.ids import random_16
from .adapters import ClientCall
from .request import ChatMessage
from .run_handle import ExecAnswer, RunHandle
from .toolset import Toolset

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PendingCall:
    """One exec the client was (or will be) asked to run as one of its tools."""

    call_id: str
    event: ev.ExecRequested
    name: str
    arguments: str
    # For a built-in exec mapped onto a client tool: how to convert the result back.
    mapped: ClientCall | None = None
    aborted: bool = False


@dataclass(slots=True)
class Session:
    """One Run across the responses of a tool loop."""

    run: RunHandle
    tag: str = field(default_factory=lambda: random_16()[:4].hex())  # pooled os.urandom
    # Calls the client was asked to run in the last response (their answers go to the Run),
    # calls held back for later responses (parallel_tool_calls=false), and the output tokens
    # the Run's responses reported so far (turn_ended counts the whole Run).
    pending: list[PendingCall] = field(default_factory=list)
    queued: list[PendingCall] = field(default_factory=list)
    reported_output: int = 0
    # Set when parked: what a follow-up must agree with, and when the Run is closed unused.
    fingerprint: str = ""
    model_key: str = ""
    tools_digest: str = ""
    deadline: float = 0.0


class SessionRegistry:
    """Parked sessions of one process, indexed by the call ids they wait for."""

    def __init__(
        self,
        *,
        idle_timeout: float = 900.0,
        max_parked: int = 256,
        clock: Callable[[], float] = time.monotonic,
        owner: str = "",
    ) -> None:
        self.owner = owner
        self.idle_timeout = idle_timeout
        self.max_parked = max_parked
        self.clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._by_call: dict[str, str] = {}
        self._ids = itertools.count(1)
        self.outcomes: Counter[str] = Counter()
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._sessions)

    def parked(self) -> list[tuple[str, str, int, float]]:
        """(tag, model, pending calls, seconds until closed) of each parked Run, oldest first."""
        now = self.clock()
        return [
            (s.tag, s.model_key, len(s.pending), max(s.deadline - now, 0.0))
            for s in self._sessions.values()
        ]

    def new_call_id(self, session_tag: str) -> str:
        """Client-facing call ids: unique in this process, tagged with their session and,
        with an `owner`, the process (`call_<owner>_...`: a router may route by it)."""
        owner = f"{self.owner}_" if self.owner else ""
        return f"call_{owner}{session_tag}{next(self._ids):04d}{random_16()[:4].hex()}"

    def park(self, session: Session, fingerprint: str, model_key: str, toolset: Toolset) -> None:
        """Hold the Run open for the follow-up that answers `session.pending`: a request
        whose history before the calls hashes to *fingerprint*, for the same model and
        tool catalog. Park before the client sees the calls, so its answer finds the Run."""
        self._expire()
        session.run.hold_open()
        session.fingerprint = fingerprint
        session.model_key = model_key
        session.tools_digest = toolset.digest
        session.deadline = self.clock() + self.idle_timeout
        self._sessions[session.tag] = session
        for call in session.pending:
            self._by_call[call.call_id] = session.tag
        while len(self._sessions) > self.max_parked:
            _, oldest = next(iter(self._sessions.items()))
            self._drop(oldest, "evicted")
        # An abandoned loop sends nothing more: close its Run when the idle timeout passes.
        asyncio.get_running_loop().call_later(self.idle_timeout, self._expire)

    def claim(
        self,
        messages: tuple[ChatMessage, ...],
        prints: list[str],
        model_key: str,
        toolset: Toolset,
    ) -> tuple[Session | None, str]:
        """The parked session this request continues, or None and why not (*prints* is
        `chain(messages)`).

        Reasons: `continued`; `not_a_tool_round` (no trailing tool results); `other_process`
        (the ids name another process of this bridge); `unknown_ids` (no parked session
        waits for them: restart, expired and reaped, another bridge);
        `mismatch_*` (a session was found and closed because something disagreed).
        """
        self._expire()
        start = len(messages)
        while start > 0 and messages[start - 1].role == "tool":
            start -= 1
        if start == len(messages):
            return None, "not_a_tool_round"
        answered = [m.tool_call_id or "" for m in messages[start:]]
        tag = next((self._by_call[i] for i in answered if i in self._by_call), None)
        if tag is None:
            owners = {owner_of(i) for i in answered}
            if self.owner and owners - {self.owner, None}:
                return self._outcome(None, "other_process")
            return self._outcome(None, "unknown_ids")
        session = self._sessions[tag]
        self._forget(session)
        reason = _disagreement(session, messages, prints, start, answered, model_key, toolset)
        if reason:
            self._close_later(session)
            return self._outcome(None, reason)
        if not session.run.alive:
            return self._outcome(None, "mismatch_run_ended")
        return self._outcome(session, "continued")

    async def resume(self, session: Session, answers: list[ExecAnswer]) -> bool:
        """Hand a claimed session's Run the answers to its calls; False (counted as
        `mismatch_run_failed`, the Run closed) when it failed meanwhile: nothing reached
        the client yet, so a fresh Run can take over."""
        try:
            await session.run.send_answers(answers)
            if not session.queued:
                await session.run.wait_started()
        except ConnectError as exc:
            log.info("parked Run failed before continuing (%s); starting a fresh one", exc.code)
            await session.run.aclose()
            self.outcomes["mismatch_run_failed"] += 1
            return False
        return True

    async def aclose(self) -> None:
        for session in list(self._sessions.values()):
            self._drop(session, "shutdown")
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _outcome(self, session: Session | None, reason: str) -> tuple[Session | None, str]:
        self.outcomes[reason] += 1
        return session, reason

    def _expire(self) -> None:
        """Close parked Runs past their idle timeout, and those that ended meanwhile (one
        pass: it runs on every claim and park)."""
        if not self._sessions:
            return  # nothing parked (every new conversation's claim): nothing to close
        now = self.clock()
        for session in [s for s in self._sessions.values() if s.deadline <= now or not s.run.alive]:
            self._drop(session, "expired" if session.deadline <= now else "run_ended")

    def _drop(self, session: Session, reason: str) -> None:
        log.debug("closing parked session %s (%s)", session.tag, reason)
        self.outcomes[f"closed_{reason}"] += 1
        self._forget(session)
        self._close_later(session)

    def _forget(self, session: Session) -> None:
        self._sessions.pop(session.tag, None)
        for call in session.pending:
            self._by_call.pop(call.call_id, None)

    def _close_later(self, session: Session) -> None:
        task = asyncio.get_running_loop().create_task(session.run.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


def owner_of(call_id: str) -> str | None:
    """The process named in a call id we handed out (`call_<owner>_<rest>`), if any."""
    if not call_id.startswith("call_"):
        return None
    owner, sep, _ = call_id[5:].partition("_")
    return owner if sep and owner.isalnum() else None


def _disagreement(
    session: Session,
    messages: tuple[ChatMessage, ...],
    prints: list[str],
    start: int,
    answered: list[str],
    model_key: str,
    toolset: Toolset,
) -> str:
    pending = {call.call_id for call in session.pending}
    if len(answered) != len(set(answered)) or set(answered) != pending:
        return "mismatch_ids"
    if start == 0 or messages[start - 1].role != "assistant":
        return "mismatch_history"
    if {call.id for call in messages[start - 1].tool_calls} != pending:
        return "mismatch_ids"
    if prints[start - 1] != session.fingerprint:
        return "mismatch_history"
    if model_key != session.model_key:
        return "mismatch_model"
    if toolset.digest != session.tools_digest:
        return "mismatch_tools"
    return ""
