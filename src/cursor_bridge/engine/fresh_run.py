"""Where a response's Run starts when it continues no parked Run.

From the stored checkpoint of the turn the request follows, when there is one: the backend
then reads the history from its own blobs. When that checkpoint nears the model's window,
the backend first summarises it and the turn starts a new conversation from the summary
(engine/compaction.py). Otherwise, and when the backend no longer has the checkpoint's
blobs, the Run is seeded from the client's full history (engine/planner.py).
"""

from __future__ import annotations

import asyncio
import functools
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from .. import access
from ..protocol.errors import ConnectError
from ..protocol.messages import agent
from ..transport import BackendPool
from . import compaction
from .catalog import ModelChoice
from .checkpoints import Checkpoints, follows_an_answer, parent_key
from .context import Workspace
from .hosted import HostedCatalog
from .planner import PlannedRun, plan_run
from .request import ChatRequest
from .run_handle import RunHandle, RunSettings, open_run
from .surprise_counter import SurpriseCounter
from .toolset import Toolset
from .turn import merges_deltas
from .turn_state import TurnBlobs

# Requests with at least this many messages are hashed and seeded in a worker thread.
OFF_LOOP_MESSAGES = 500


@dataclass(frozen=True, slots=True)
class RunInput:
    """What a response's Run is started from: the request and its history's fingerprints
    (`chain(request.messages)`), the model, the tool catalog and hosted tools, and the
    account serving the turn (its token, and its id for the checkpoints it may resume)."""

    request: ChatRequest
    prints: list[str]
    choice: ModelChoice
    toolset: Toolset
    token: str | None
    hosted: HostedCatalog | None = None
    account: str = ""


class StartSettings(RunSettings, Protocol):
    """What starting a Run reads (when it starts: BackendConfig is one)."""

    workspace: Workspace
    # Summarise a conversation before a turn that would fill this share of its window.
    summarize_threshold: float


class RunStarter:
    """Opens fresh Runs for one backend; counts them, and the summaries it asked for."""

    def __init__(
        self,
        pool: BackendPool,
        settings: StartSettings,
        checkpoints: Checkpoints,
        surprises: SurpriseCounter,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.checkpoints = checkpoints
        self.surprises = surprises
        self.opened = 0
        self.compactions: Counter[str] = Counter()  # summarized / failed

    async def start(self, given: RunInput) -> tuple[RunHandle, int]:
        """A new Run, and the context occupancy the resumed checkpoint recorded (0 when
        seeded)."""
        request = given.request
        if not follows_an_answer(request.messages):
            # No checkpoint can exist for this history (a new conversation: most Runs), so
            # none is looked for; the end of this method, without its detours.
            compaction.check_fits(request, context_window(given.choice))
            access.note_run("fresh")
            run = await self.open(
                request,
                choice=given.choice,
                toolset=given.toolset,
                token=given.token,
                hosted=given.hosted,
            )
            return run, 0
        run_for = functools.partial(
            self.open, choice=given.choice, toolset=given.toolset, token=given.token
        )
        resumes = self.checkpoints.resumes
        stored = await self.checkpoints.parent(request.messages, given.prints, given.account)
        window = context_window(given.choice)
        if stored is not None and compaction.occupancy(stored.checkpoint).full_after(
            compaction.new_message_tokens(request), self.settings.summarize_threshold
        ):
            summary_run = functools.partial(run_for, request)
            rebased = await compaction.summarized(summary_run, request, stored, self.compactions)
            if rebased is not None:
                compaction.check_fits(rebased, window)
                access.note_run("fresh")
                return await run_for(rebased, hosted=given.hosted), 0
            stored = None
        if stored is not None:
            run = await run_for(
                request,
                checkpoint=stored.checkpoint,
                conversation_id=stored.meta.get("conversation_id"),
                hosted=given.hosted,
                resumed_from=parent_key(given.prints),
            )
            try:
                await run.wait_started()
            except ConnectError as exc:
                await run.aclose()
                if "blob not found" not in exc.message.lower():
                    raise
                # Our copy of the conversation's blobs is gone: seed the whole history under a
                # new conversation_id (P's fix, current-client.md §8).
                resumes["blob_missing"] += 1
            else:
                resumes["resumed"] += 1
                access.note_run("resumed")
                return run, compaction.occupancy(stored.checkpoint).used
        compaction.check_fits(request, window)
        access.note_run("fresh")
        return await run_for(request, hosted=given.hosted), 0

    async def open(
        self,
        request: ChatRequest,
        *,
        choice: ModelChoice,
        toolset: Toolset,
        token: str | None,
        checkpoint: bytes | None = None,
        conversation_id: str | None = None,
        hosted: HostedCatalog | None = None,
        resumed_from: str | None = None,
        action: agent.ConversationAction | None = None,
    ) -> RunHandle:
        """Plan and open one Run (`action`: e.g. summarize_action instead of the user
        message)."""

        given = (request, choice, toolset, checkpoint, conversation_id)
        # Seeding a long history (serialising and storing every turn) is CPU work that
        # would stall every other request: a worker thread does it.
        if len(request.messages) >= OFF_LOOP_MESSAGES:
            plan, blobs = await asyncio.to_thread(self._prepare, *given)
        else:
            plan, blobs = self._prepare(*given)
        if hosted is not None:
            hosted.decorate(plan.run_request, plan.request_context)
        if action is not None:
            plan.run_request.action.CopyFrom(action)
        run = await open_run(
            self.pool,
            self.settings,
            token,
            plan,
            blobs,
            merge_deltas=merges_deltas(request),
            surprises=self.surprises.watch(),
            resumed_from=resumed_from,
        )
        self.opened += 1
        return run

    def _prepare(
        self,
        request: ChatRequest,
        choice: ModelChoice,
        toolset: Toolset,
        checkpoint: bytes | None,
        conversation_id: str | None,
    ) -> tuple[PlannedRun, TurnBlobs]:
        """The Run's plan, and its blobs stored first (see `open`)."""
        plan = plan_run(
            request,
            choice,
            self.settings.workspace,
            toolset,
            checkpoint=checkpoint,
            conversation_id=conversation_id,
        )
        # The Run's blobs stay in memory until its turn ends (engine/turn_state.py).
        blobs = TurnBlobs(self.checkpoints.state.blobs)
        for key, data in plan.blobs.items():
            blobs.put(key, data)
        return plan, blobs


def context_window(choice: ModelChoice) -> int:
    """The context window of the chosen variant (the long one in max mode)."""
    model = choice.model
    return (
        (model.max_context_window or model.context_window)
        if choice.max_mode
        else (model.context_window)
    )
