"""The doctor's script: each step one short exchange, checked against what it must show.

Every prompt works two ways: a real model reads the prose (one-word answers keep it cheap),
and the emulator's scripted model follows the directive lines (`/reply`, `/tool`, `/exec`,
`/recall`; see emulator/script.py) and ignores the prose.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from ..auth import AuthError, RefreshFailed, refresh_account
from ..engine.output import TextDelta, ToolCall, TurnFinished
from ..engine.request import ChatMessage, ChatRequest, ToolCallRecord, ToolSpec
from ..live import discover_agent_url, probe
from ..protocol.errors import ConnectError
from ..protocol.headers import ClientIdentity
from ..wiretrace import WireRecorder
from .report import (
    FAIL,
    PASS,
    SKIP,
    StepResult,
    builtin_execs,
    count_paths,
    how_it_ended,
    runs_of,
)
from .target import Session, Target, open_session, use_account

STEP_NAMES = (
    "login",
    "server config",
    "models",
    "text turn",
    "checkpoint resume",
    "seeded history",
    "tool round",
    "refused exec",
    "kv and checkpoint",
    "clean ends",
    "surprises",
)
_WORDS = ("QUOKKA", "MARMOT", "PANGOLIN", "NARWHAL", "OCELOT", "TAPIR", "WOMBAT", "AXOLOTL")

TEXT_PROMPT = "Reply with exactly the word PONG and nothing else.\n/reply PONG"
AGAIN_PROMPT = "Reply with exactly the word AGAIN and nothing else.\n/reply AGAIN"
REMEMBER_PROMPT = (
    "Remember this code word: {marker}. Reply with exactly the word NOTED and nothing else.\n"
    "/reply NOTED"
)
RECALL_PROMPT = (
    "What was the code word I asked you to remember earlier in this conversation? Reply with "
    "exactly that word and nothing else.\n/recall"
)
TOOL_NAME = "doctor_lookup"
TOOL_PROMPT = (
    f'Call the {TOOL_NAME} tool with the key "alpha", then reply with exactly the value it '
    f'returns and nothing else.\n/tool {TOOL_NAME} {{"key": "alpha"}}'
)
TOOL_SPEC = ToolSpec(
    TOOL_NAME,
    "Look up the value stored under a key (cursor-bridge self-check).",
    {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]},
)
EXEC_PROMPT = (
    "Use your own file-reading tool to read the file doctor-check.txt in the workspace. If "
    "that tool is not available or fails, reply with exactly the word UNAVAILABLE and "
    'nothing else.\n/exec read {"path": "doctor-check.txt"}\n/reply UNAVAILABLE'
)


@dataclass
class Turn:
    text: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    finished: TurnFinished | None = None
    error: ConnectError | None = None

    def said(self, word: str) -> bool:
        return word.lower() in self.text.lower()

    def brief(self) -> str:
        if self.error is not None:
            return f"failed: {self.error.code}: {self.error.message}"
        text = " ".join(self.text.split())
        return repr(text[:60] + ("…" if len(text) > 60 else ""))


class StepFailed(Exception):
    """The step saw something wrong; the message says what."""


class Skipped(Exception):
    """The step could not be checked; the message says why."""


@dataclass
class Checkup:
    """Runs the steps in order against one session; `run()` returns every step's result."""

    session: Session
    model: str
    on_result: Callable[[StepResult], None] = lambda result: None
    marker: str = field(
        default_factory=lambda: f"{secrets.choice(_WORDS)}{secrets.randbelow(9000) + 1000}"
    )
    results: list[StepResult] = field(default_factory=list)
    _first: list[ChatMessage] | None = None  # the text turn, for the resume step
    _surprises: dict[tuple[str, str], int] = field(default_factory=dict)

    async def run(self) -> list[StepResult]:
        steps: list[tuple[str, Callable[[], Awaitable[str]]]] = [
            ("login", self.login),
            ("server config", self.server_config),
            ("models", self.models),
            ("text turn", self.text_turn),
            ("checkpoint resume", self.checkpoint_resume),
            ("seeded history", self.seeded_history),
            ("tool round", self.tool_round),
            ("refused exec", self.refused_exec),
        ]
        try:
            for name, step in steps:
                await self._step(name, step)
        finally:
            await self.session.backend.aclose()  # parked Runs closed, finished Runs drained
        await self._step("kv and checkpoint", self.kv_and_checkpoint)
        await self._step("clean ends", self.clean_ends)
        await self._step("surprises", self.all_surprises)
        return self.results

    async def _step(self, name: str, step: Callable[[], Awaitable[str]]) -> None:
        before = dict(self.session.backend.surprises.counts)
        started = time.monotonic()
        try:
            status, seen = PASS, await step()
        except StepFailed as exc:
            status, seen = FAIL, str(exc)
        except Skipped as exc:
            status, seen = SKIP, str(exc)
        except ConnectError as exc:
            status, seen = FAIL, f"{exc.code}: {exc.message}"
        new = _new_surprises(before, self.session.backend.surprises.counts)
        if new and name != "surprises":
            seen += f" [surprises: {new}]"
        result = StepResult(name, status, time.monotonic() - started, seen)
        self.results.append(result)
        self.on_result(result)

    # -- the steps ---------------------------------------------------------------------------

    async def login(self) -> str:
        session, target = self.session, self.session.target
        if target.account is None or target.store is None or session.auth is None:
            raise Skipped("no login for this backend: nothing to check")
        before = await probe(target.api_url, target.account.access_token, session.identity)
        if not before.reachable:
            raise StepFailed(before.detail)
        try:
            account, call = await refresh_account(session.auth, target.account)
        except (RefreshFailed, AuthError) as exc:
            use_account(session)
            raise StepFailed(
                f"token {'accepted' if before.token_accepted else 'refused'}; no refresh call "
                f"worked ({exc})"
            ) from None
        target.store.save(account)
        target.account = account
        use_account(session)
        after = await probe(target.api_url, account.access_token, session.identity)
        if not after.token_accepted:
            raise StepFailed(f"refreshed via {call}, but the new token was refused: {after.detail}")
        old = "accepted" if before.token_accepted else f"refused ({before.detail})"
        return f"stored token {old}; refreshed via {call}; the new token is accepted"

    async def server_config(self) -> str:
        backend = self.session.backend
        token = await backend.config.token()
        url = await discover_agent_url(
            backend.pool, backend.config.api_url, token, self.session.identity
        )
        if url is None:
            raise StepFailed("GetServerConfig named no Run host (see the log)")
        backend.config.agent_url = url
        return f"Run host {url}"

    async def models(self) -> str:
        found = await self.session.backend.catalog.models()
        if not found:
            raise StepFailed("the account lists no models")
        request = ChatRequest(model=self.model, messages=(ChatMessage("user", "x"),))
        choice = await self.session.backend.resolve(request)
        return f"{len(found)} models; {self.model!r} runs as {choice.model_id}"

    async def text_turn(self) -> str:
        turn = await self._turn([ChatMessage("user", TEXT_PROMPT)])
        self._expect(turn, "PONG")
        usage = turn.finished.usage if turn.finished else None
        if usage is None or not (usage.input_tokens and usage.output_tokens):
            raise StepFailed(f"answered {turn.brief()} but usage is missing: {usage}")
        self._first = [ChatMessage("user", TEXT_PROMPT), ChatMessage("assistant", turn.text)]
        return (
            f"answered {turn.brief()}; usage in={usage.input_tokens} out={usage.output_tokens}"
            f" cache_read={usage.cache_read_tokens}"
        )

    async def checkpoint_resume(self) -> str:
        first = self._first
        if first is None:
            raise Skipped("the text turn did not finish")
        backend = self.session.backend
        resumed = backend.checkpoint_resumes["resumed"]
        mark = len(self._records())
        turn = await self._turn([*first, ChatMessage("user", AGAIN_PROMPT)])
        self._expect(turn, "AGAIN")
        if backend.checkpoint_resumes["resumed"] == resumed:
            raise StepFailed("the turn did not start from the stored checkpoint")
        reads = count_paths(self._records()[mark:], "in", "kv_server_message.get_blob_args")
        return f"started from the checkpoint; the backend read {reads} blob(s); {turn.brief()}"

    async def seeded_history(self) -> str:
        backend = self.session.backend
        runs, resumed = backend.runs_opened, backend.checkpoint_resumes["resumed"]
        history = [
            ChatMessage("user", REMEMBER_PROMPT.format(marker=self.marker)),
            ChatMessage("assistant", "NOTED"),
            ChatMessage("user", RECALL_PROMPT),
        ]
        turn = await self._turn(history)
        if turn.error is not None:
            raise StepFailed(turn.brief())
        if backend.runs_opened != runs + 1 or backend.checkpoint_resumes["resumed"] != resumed:
            raise StepFailed("the turn did not run on one fresh Run seeded from history")
        if not turn.said(self.marker):
            raise StepFailed(
                f"the model did not repeat the code word given only in the first turn: "
                f"{turn.brief()} (the history did not reach it)"
            )
        return "a fresh Run seeded from history; the model repeated the code word"

    async def tool_round(self) -> str:
        backend = self.session.backend
        question = [ChatMessage("user", TOOL_PROMPT)]
        turn = await self._turn(question, tools=True)
        if turn.error is not None:
            raise StepFailed(turn.brief())
        calls = [c for c in turn.calls if c.name == TOOL_NAME]
        if not calls and turn.finished is not None and turn.finished.reason == "stop":
            # The model chose to answer without the tool: nothing to check, nothing broken.
            raise Skipped(f"the model did not call {TOOL_NAME}; it answered {turn.brief()}")
        if not calls or turn.finished is None or turn.finished.reason != "tool_calls":
            raise StepFailed(f"no {TOOL_NAME} call came back: {turn.brief()}")
        call = calls[0]
        value = f"VALUE{secrets.randbelow(9000) + 1000}"
        runs, continued = backend.runs_opened, backend.tool_rounds["continued"]
        follow_up = [
            *question,
            ChatMessage(
                "assistant", tool_calls=(ToolCallRecord(call.call_id, call.name, call.arguments),)
            ),
            ChatMessage("tool", value, tool_call_id=call.call_id),
        ]
        answer = await self._turn(follow_up, tools=True)
        self._expect(answer, value)
        if backend.tool_rounds["continued"] != continued + 1 or backend.runs_opened != runs:
            raise StepFailed("the result did not continue the held Run (a fresh Run took over)")
        arguments = json.dumps(json.loads(call.arguments or "{}"))
        return f"called {call.name}({arguments}); the held Run carried on: {answer.brief()}"

    async def refused_exec(self) -> str:
        mark = len(self._records())
        turn = await self._turn([ChatMessage("user", EXEC_PROMPT)])
        if turn.error is not None:
            raise StepFailed(turn.brief())
        kinds = builtin_execs(self._records()[mark:])
        if not kinds:
            raise Skipped(f"the model asked for no built-in tool; it answered {turn.brief()}")
        answered = count_paths(self._records()[mark:], "out", "exec_client_message")
        if not answered:
            raise StepFailed(f"the backend asked for {kinds[0]} and got no answer")
        if turn.finished is None or turn.finished.reason != "stop" or not turn.text.strip():
            raise StepFailed(f"after the refusal the model did not answer: {turn.brief()}")
        return f"refused {', '.join(kinds)}; the model carried on: {turn.brief()}"

    async def kv_and_checkpoint(self) -> str:
        records = self._records()
        stored = count_paths(records, "in", "kv_server_message.set_blob_args")
        read = count_paths(records, "in", "kv_server_message.get_blob_args")
        checkpoints = count_paths(records, "in", "conversation_checkpoint_update")
        seen = f"{stored} blob(s) stored, {read} read, {checkpoints} checkpoint(s)"
        if not checkpoints or not stored + read:
            raise StepFailed(seen)
        return seen

    async def clean_ends(self) -> str:
        runs = runs_of(self._records())
        if not runs:
            raise Skipped("no Run was opened")
        endings = [how_it_ended(run) for run in runs]
        bad = [
            f"Run {run.run}: {end}"
            for run, end in zip(runs, endings, strict=True)
            if end != "clean"
        ]
        if bad:
            raise StepFailed("; ".join(bad))
        return f"all {len(runs)} Runs ended with turn_ended, then a clean end-stream"

    async def all_surprises(self) -> str:
        counts = self.session.backend.surprises.counts
        if counts:
            raise StepFailed(_describe(counts))
        return "none: every field and message the backend sent is known"

    # -- helpers -----------------------------------------------------------------------------

    def _records(self) -> list[dict[str, object]]:
        return self.session.recorder.records or []

    def _expect(self, turn: Turn, word: str) -> None:
        if turn.error is not None:
            raise StepFailed(turn.brief())
        if turn.finished is None:
            raise StepFailed(f"the turn did not finish: {turn.brief()}")
        if not turn.said(word):
            raise StepFailed(f"expected {word!r}, got {turn.brief()}")

    async def _turn(self, messages: list[ChatMessage], *, tools: bool = False) -> Turn:
        request = ChatRequest(
            model=self.model,
            messages=tuple(messages),
            stream=True,
            tools=(TOOL_SPEC,) if tools else (),
        )
        turn = Turn()
        backend = self.session.backend
        try:
            choice = await backend.resolve(request)
            async for batch in backend.stream_turn(request, choice):
                for event in batch:
                    if isinstance(event, TextDelta):
                        turn.text += event.text
                    elif isinstance(event, ToolCall):
                        turn.calls.append(event)
                    elif isinstance(event, TurnFinished):
                        turn.finished = event
        except ConnectError as exc:
            turn.error = exc
        return turn


async def check(
    target: Target,
    identity: ClientIdentity,
    model: str,
    recorder: WireRecorder | None = None,
    on_result: Callable[[StepResult], None] = lambda result: None,
) -> list[StepResult]:
    """Run every step against *target*; the results in order (the command and the live
    tests share this)."""
    recorder = recorder or WireRecorder()
    if recorder.records is None:
        recorder.records = []  # the steps read what the Runs sent
    async with AsyncExitStack() as exits:
        session = await open_session(target, recorder, identity, exits)
        return await Checkup(session, model, on_result=on_result).run()


def _new_surprises(before: dict[tuple[str, str], int], now: dict[tuple[str, str], int]) -> str:
    grown = {
        key: count - before.get(key, 0) for key, count in now.items() if count > before.get(key, 0)
    }
    return _describe(grown)


def _describe(counts: dict[tuple[str, str], int]) -> str:
    return "; ".join(
        f"{what} at {where}" + (f" ×{count}" if count > 1 else "")
        for (where, what), count in sorted(counts.items())
    )
