"""The emulator's scripted model: directives in the latest user message decide the turn.

The emulator reads the latest user message (`UserMessage.text`) line by line. A line whose
first word is one of the directives below is a directive; every other line is prompt text
(so `/usr/bin is missing` stays prompt text). Everything is deterministic: the same message and
history give the same answer, the same frames and the same token counts.

Answer
    (no directive)          ``Emulated answer to: <prompt>`` (``Emulated answer.`` when the
                            prompt is empty). The system prompt is not quoted; use /recall.
    /reply TEXT             answer exactly TEXT. Repeatable; the answer parts (/reply, /tokens,
                            /recall) are joined with newlines in the order written.
    /tokens N               N deterministic words ("alpha bravo charlie ..."), one text chunk
                            each: for throughput benchmarks.
    /recall                 ``history: rule=<cloud_rule>; system=<...>; user=<...>;
                            assistant=<...>; ...``: the RequestContext rule, then the history the
                            server rebuilt from the conversation_state blobs, in order (roles:
                            system, user, assistant, thinking, tool), then ``(no history)`` when
                            empty. Proves that multi-turn seeding and system prompts arrive.
    /think TEXT             stream TEXT as thinking before the answer (repeatable, joined with
                            newlines), then thinking_completed.
    /todo STATUS TEXT       an entry of the agent's to-do list (STATUS: pending, in_progress,
                            completed, cancelled); the list goes out before the answer as a
                            display-only `update_todos` tool call (started, then completed).

Tool calls (the Run is held open until the client answers; heartbeats keep it alive)
    /tool NAME {json}       call the client tool NAME (matched against RequestContext.tools by
                            name or tool_name) with the JSON object as arguments: exec
                            `mcp_args`. NAME may be SERVER.TOOL: an MCP server's tool by the
                            names its McpDescriptor gives (configured server name or id, the
                            tool's real name), whatever name the tool has on the wire;
                            NAME may hold spaces when arguments follow.
                            Several /tool and /exec lines form one group of parallel calls.
    /exec KIND {json}       a built-in exec: KIND is read, write, ls, grep, delete, shell
                            (`shell_stream_args`, answered by a shell_stream sequence ended by
                            stream_close), shell-sync (`shell_args`), diagnostics, fetch,
                            background-shell, write-shell-stdin, list-mcp-resources,
                            read-mcp-resource, mcp-state, record-screen, computer-use,
                            subagent, or pi-read / pi-bash / pi-edit / pi-write / pi-grep /
                            pi-find / pi-ls (answered one field number higher). The JSON object
                            fills the args message by its proto JSON names, e.g.
                            ``{"path": "a.txt"}``. A result in the wrong slot is quoted as
                            ``mismatched result ...``.
    /then                   start the next group: it is sent only after every result of the
                            previous group arrived.
    After the last group the answer is the /reply text if any, else one line per call:
    ``Tool results:`` then ``- NAME: RESULT``.

Interaction queries and backend behaviour (current-client.md)
    /query KIND             raise an interaction query after the tool groups and wait for its
                            typed answer: KIND is web-search, ask-question, switch-mode,
                            exa-search, exa-fetch, create-plan, setup-vm, web-fetch,
                            pr-management, mcp-auth, generate-image, replace-env, connect-scm,
                            unknown (a field number no schema knows), or ``all`` (every kind,
                            in that order). Repeatable. Strict: an empty or wrong-shaped reply
                            is ignored and the Run keeps waiting with heartbeats, as the real
                            backend does. The answer then has one line per query:
                            ``- query KIND: DECISION`` (after any /reply text).
    /trace                  trace data on this turn's frames: exec requests carry
                            ``span_context`` (field 19), alternately as a SpanContext message
                            and as a string (both shapes seen, §9), and every text delta rides
                            with a ``ttft_breakdown`` (field 8, outside the oneof, §10).
    /compress               every frame of this turn carries the Connect compression flag
                            (gzip), if the client accepted gzip.

Following instructions (emulator/obey.py)
    When the RequestContext rules demand a tool call (``You must call the tool `NAME` ...``,
    ``You must call at least one of the provided tools ...``) and the message has no /tool or
    /exec line, the model makes that call, with arguments built from the tool's JSON schema.
    When the rules demand JSON (``Respond with only a JSON ...``) and the message has no
    /reply, /tokens or /recall, the answer is a JSON value built from the given schema
    (``{"answer": "<usual answer>"}`` for any JSON object).
    /disobey                ignore those rules for this message (a model that does not comply).
    /disobey always         ignore them for this message and every later one of the
                            conversation (a model that never complies).

Faults (after the answer's first text delta unless said otherwise)
    /fault disconnect       RST_STREAM (CANCEL) after three text deltas.
    /fault stall            send nothing more, not even heartbeats, until the client gives up.
    /fault error CODE [MESSAGE]
                            end-stream error with that Connect code (e.g. resource_exhausted,
                            unauthenticated, unavailable) and message.
    /fault malformed [payload|flags]
                            a frame whose payload is not an AgentServerMessage (default), or a
                            frame with unknown envelope flags; the turn then continues.
    /fault huge-frame       a frame header announcing 64 MiB, then silence.
    /fault end-early        a clean end-stream ``{}`` before turn_ended.
    /fault goaway [close]   GOAWAY on the connection: the Run still completes and the
                            connection closes once its streams end; with ``close`` the
                            connection is dropped at once, killing every Run on it.

A directive that cannot be parsed (bad JSON, unknown fault, bad number) turns the whole answer
into ``Script error: <reason>`` with no tool calls and no fault.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..protocol.errors import CONNECT_CODES
from ..protocol.exec_kinds import exec_kinds
from .queries import ALL_QUERY_WORDS

MAX_TOKENS_DIRECTIVE = 1_000_000
# /exec words: the request field without `_args` (and `_exec`), dashed; three are shorter.
_EXEC_WORD_OVERRIDES = {
    "shell_stream_args": "shell",
    "shell_args": "shell-sync",
    "background_shell_spawn_args": "background-shell",
}
# Not /exec lines: an MCP call is a /tool line, and the request context is the machine's.
_NOT_SCRIPTED = frozenset({"mcp_args", "request_context_args"})
EXEC_WORDS: dict[str, str] = {
    _EXEC_WORD_OVERRIDES.get(kind)
    or kind.removesuffix("_args").replace("_exec", "").replace("_", "-"): kind
    for kind in exec_kinds()
    if kind not in _NOT_SCRIPTED
}
EXEC_KINDS = tuple(EXEC_WORDS)
FAULT_KINDS = (
    "disconnect",
    "stall",
    "error",
    "malformed",
    "huge-frame",
    "end-early",
    "goaway",
)
_WORDS = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
    "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
)  # fmt: skip
_DIRECTIVES = (
    "/reply",
    "/think",
    "/tokens",
    "/recall",
    "/fault",
    "/tool",
    "/exec",
    "/then",
    "/todo",
    "/query",
    "/trace",
    "/compress",
    "/disobey",
)
TODO_STATUSES = ("pending", "in_progress", "completed", "cancelled")


@dataclass(frozen=True, slots=True)
class Reply:
    text: str


@dataclass(frozen=True, slots=True)
class Tokens:
    count: int

    def text(self) -> str:
        return " ".join(_WORDS[i % len(_WORDS)] for i in range(self.count))


@dataclass(frozen=True, slots=True)
class Recall:
    pass


AnswerPart = Reply | Tokens | Recall


@dataclass(frozen=True, slots=True)
class ToolCallSpec:
    """One scripted call: `kind` "mcp" (NAME = client tool) or "exec" (NAME = built-in KIND)."""

    kind: str
    name: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    variant: str = ""
    code: str = ""
    message: str = ""

    @property
    def after_deltas(self) -> int:
        """How many text deltas go out before the fault fires."""
        return 3 if self.kind == "disconnect" else 1


@dataclass(frozen=True, slots=True)
class Script:
    """A parsed user message: what the scripted model will do this turn."""

    prompt: str
    thinking: str = ""
    answer: tuple[AnswerPart, ...] = ()
    tool_groups: tuple[tuple[ToolCallSpec, ...], ...] = ()
    fault: Fault | None = None
    error: str = ""
    # (status, text) per /todo line
    todos: tuple[tuple[str, str], ...] = ()
    queries: tuple[str, ...] = ()
    trace: bool = False
    compress: bool = False
    # "": follows the rules' instructions; "once": ignores them now; "always": from now on.
    disobey: str = ""


class ScriptError(ValueError):
    """A directive line could not be parsed."""


def is_directive(line: str) -> bool:
    stripped = line.strip()
    return stripped.split(" ", 1)[0] in _DIRECTIVES if stripped.startswith("/") else False


def parse_script(text: str) -> Script:
    """Parse a user message into a Script (never raises: errors become `Script.error`).

    A message that is exactly one JSON string literal is read as the string it encodes: some
    clients (OpenCode's `run`) quote the user's input, and the model would read through that.
    """
    text = _unquoted(text)
    prompt_lines: list[str] = []
    directive_lines: list[str] = []
    for line in text.splitlines():
        if is_directive(line):
            directive_lines.append(line.strip())
        else:
            prompt_lines.append(line)
    prompt = "\n".join(prompt_lines).strip()
    try:
        return _build(prompt, directive_lines)
    except ScriptError as exc:
        return Script(prompt=prompt, error=str(exc))


def _unquoted(text: str) -> str:
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"':
        try:
            decoded = json.loads(stripped, strict=False)  # raw newlines allowed
        except ValueError:
            return text
        if isinstance(decoded, str):
            return decoded
    return text


def _build(prompt: str, lines: list[str]) -> Script:
    thinking: list[str] = []
    answer: list[AnswerPart] = []
    groups: list[tuple[ToolCallSpec, ...]] = []
    current: list[ToolCallSpec] = []
    fault: Fault | None = None
    todos: list[tuple[str, str]] = []
    queries: list[str] = []
    flags: set[str] = set()
    disobey = ""
    for line in lines:
        name, _, rest = line.partition(" ")
        if name == "/disobey":
            if rest.strip() not in ("", "always"):
                raise ScriptError("usage: /disobey [always]")
            disobey = "always" if rest.strip() else "once"
        elif name == "/reply":
            answer.append(Reply(rest))
        elif name == "/think":
            thinking.append(rest)
        elif name == "/tokens":
            answer.append(Tokens(_count(rest)))
        elif name == "/recall":
            answer.append(Recall())
        elif name == "/fault":
            fault = _fault(rest)
        elif name == "/tool":
            tool, args = _call(rest, "/tool NAME {json}")
            current.append(ToolCallSpec("mcp", tool, args))
        elif name == "/exec":
            kind, args = _call(rest, "/exec KIND {json}")
            if kind not in EXEC_KINDS:
                raise ScriptError(f"unknown exec kind {kind!r} (one of {', '.join(EXEC_KINDS)})")
            current.append(ToolCallSpec("exec", kind, args))
        elif name == "/todo":
            status, _, text = rest.strip().partition(" ")
            if status not in TODO_STATUSES or not text.strip():
                raise ScriptError(f"usage: /todo {'|'.join(TODO_STATUSES)} TEXT")
            todos.append((status, text.strip()))
        elif name == "/then" and current:
            groups.append(tuple(current))
            current = []
        elif name == "/query":
            word = rest.strip()
            if word == "all":
                queries.extend(ALL_QUERY_WORDS)
            elif word in ALL_QUERY_WORDS:
                queries.append(word)
            else:
                kinds = ", ".join((*ALL_QUERY_WORDS, "all"))
                raise ScriptError(f"unknown query kind {word!r} (one of {kinds})")
        elif name in ("/trace", "/compress"):
            flags.add(name[1:])
    if current:
        groups.append(tuple(current))
    return Script(
        prompt=prompt,
        thinking="\n".join(thinking),
        answer=tuple(answer),
        tool_groups=tuple(groups),
        fault=fault,
        todos=tuple(todos),
        queries=tuple(queries),
        trace="trace" in flags,
        compress="compress" in flags,
        disobey=disobey,
    )


def _count(rest: str) -> int:
    try:
        count = int(rest.strip())
    except ValueError:
        raise ScriptError(f"/tokens needs a whole number, got {rest.strip()!r}") from None
    if not 0 <= count <= MAX_TOKENS_DIRECTIVE:
        raise ScriptError(f"/tokens must be between 0 and {MAX_TOKENS_DIRECTIVE}")
    return count


def _call(rest: str, usage: str) -> tuple[str, dict[str, Any]]:
    """NAME and its JSON arguments. NAME ends at the first space, unless what follows is
    more words and then ` {`: an MCP server's configured name may hold spaces."""
    name, _, raw = rest.strip().partition(" ")
    if raw[:1].isalpha() and " {" in raw:
        more, _, args = raw.partition(" {")
        name, raw = f"{name} {more}", "{" + args
    if not name:
        raise ScriptError(f"usage: {usage}")
    raw = raw.strip() or "{}"
    try:
        args = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ScriptError(f"arguments of {name!r} are not JSON: {exc.msg}") from None
    if not isinstance(args, dict):
        raise ScriptError(f"arguments of {name!r} must be a JSON object")
    return name, args


def _fault(rest: str) -> Fault:
    words = rest.split()
    if not words or words[0] not in FAULT_KINDS:
        raise ScriptError(f"unknown fault {rest.strip()!r} (one of {', '.join(FAULT_KINDS)})")
    kind, args = words[0], words[1:]
    if kind == "error":
        if not args or args[0] not in CONNECT_CODES:
            raise ScriptError("usage: /fault error CODE [MESSAGE] with a Connect code")
        return Fault(kind, code=args[0], message=" ".join(args[1:]))
    if kind == "malformed":
        variant = args[0] if args else "payload"
        if variant not in ("payload", "flags"):
            raise ScriptError("usage: /fault malformed [payload|flags]")
        return Fault(kind, variant=variant)
    if kind == "goaway":
        variant = args[0] if args else ""
        if variant not in ("", "close"):
            raise ScriptError("usage: /fault goaway [close]")
        return Fault(kind, variant=variant)
    if args:
        raise ScriptError(f"/fault {kind} takes no arguments")
    return Fault(kind)
