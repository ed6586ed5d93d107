"""The vocabulary of a Run as seen by the client: frozen dataclasses, one per thing that happens.

`RunMachine.receive_data()` returns these. They carry no protobuf objects except where the
raw bytes must be kept verbatim (the checkpoint).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import ConnectError
from .exec_kinds import ArgsView, parse_args


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingCompleted:
    duration_ms: int


@dataclass(frozen=True, slots=True)
class TokenDelta:
    tokens: int


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A `conversation_checkpoint_update`: keep `state` byte-for-byte for the next Run."""

    state: bytes
    used_tokens: int
    max_tokens: int


@dataclass(frozen=True, slots=True)
class BlobStored:
    blob_id: bytes
    size: int


@dataclass(frozen=True, slots=True)
class BlobServed:
    """The backend asked for a blob; `found` tells whether we had it."""

    blob_id: bytes
    found: bool


@dataclass(frozen=True, slots=True)
class ExecRequested:
    """The backend asks the client to run something the machine cannot answer by itself.

    `kind` is the oneof case name (`mcp_args`, `read_args`, ...; `unknown` when the variant is
    newer than our schema); `args` is a JSON-like view of the arguments and `view` the same
    arguments typed (exec_kinds), parsed once here.
    """

    exec_id: int
    exec_key: str
    kind: str
    args: dict[str, Any] = field(default_factory=dict)
    tool_call_id: str = ""
    tool_name: str = ""
    # mcp_args only: the advertised (composite) name and the server id it was advertised under.
    wire_name: str = ""
    provider: str = ""
    view: ArgsView = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "view", parse_args(self.kind, self.args))


@dataclass(frozen=True, slots=True)
class Todo:
    id: str
    content: str
    # pending, in_progress, completed or cancelled
    status: str


@dataclass(frozen=True, slots=True)
class TodosUpdated:
    """The agent's to-do list as it now stands (a display-only `update_todos` tool call)."""

    todos: tuple[Todo, ...]


@dataclass(frozen=True, slots=True)
class Summary:
    """The backend's summary of the conversation (a compaction Run, `summarize_action`)."""

    text: str


@dataclass(frozen=True, slots=True)
class QueryAnswered:
    """The machine answered an interaction query (`kind`: its oneof case, or `unknown_N`)."""

    kind: str
    decision: str


@dataclass(frozen=True, slots=True)
class ServerHeartbeat:
    """The backend is alive but has nothing to say (e.g. it waits for exec results)."""


@dataclass(frozen=True, slots=True)
class StepCompleted:
    """The model finished one step (`step_completed`): it will add nothing more to it, so
    every exec request the step makes has been sent."""

    step_id: int


@dataclass(frozen=True, slots=True)
class ExecAborted:
    exec_id: int


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True)
class TurnEnded:
    """The turn is over. `usage` is the best figure available (see RunMachine.usage)."""

    usage: Usage


@dataclass(frozen=True, slots=True)
class RunFailed:
    """The backend ended the Run with an error, or ended it before `turn_ended`."""

    error: ConnectError


@dataclass(frozen=True, slots=True)
class StreamClosed:
    """The backend sent a clean end-of-stream after the turn ended."""


Event = (
    TextDelta
    | ThinkingDelta
    | ThinkingCompleted
    | TokenDelta
    | Checkpoint
    | BlobStored
    | BlobServed
    | ExecRequested
    | ExecAborted
    | TodosUpdated
    | QueryAnswered
    | ServerHeartbeat
    | StepCompleted
    | Summary
    | TurnEnded
    | RunFailed
    | StreamClosed
)
