"""Tool lists as the real clients offer them (names and parameter schemas, trimmed to what the
adapters read), and helpers to build exec events and decode answers over the wire format.

Sources (public tool schemas): OpenCode `packages/opencode/src/tool/*.ts` (read: filePath,
offset "1-indexed", limit; bash: command, timeout "in milliseconds", workdir, description;
grep: pattern, path, include; glob: pattern, path; webfetch: url, format; edit: filePath,
oldString, newString; task: description, prompt, subagent_type), Claude Code's tool
descriptions (Read: file_path, offset, limit, `cat -n` output; Bash: command, timeout in ms
max 600000, description; Grep: pattern, path, glob, output_mode, -i, -n, -A/-B/-C,
head_limit; Glob; LS: path, ignore; WebFetch: url, prompt; Agent: description, prompt,
subagent_type), Codex `codex-rs/core/src/tools/handlers/unified_exec` (exec_command: cmd,
workdir, yield_time_ms, max_output_tokens, shell, login, tty; write_stdin: session_id, chars).
"""

from __future__ import annotations

from typing import Any

from cursor_bridge.engine.request import ToolSpec
from cursor_bridge.protocol.events import ExecRequested
from cursor_bridge.protocol.messages import agent


def _spec(tool: str, /, **props: Any) -> ToolSpec:
    return ToolSpec(tool, f"{tool} tool", {"type": "object", "properties": props})


S = {"type": "string"}
N = {"type": "number"}
B = {"type": "boolean"}

OPENCODE = [
    _spec(
        "bash",
        command=S,
        timeout={"type": "number", "description": "Optional timeout in milliseconds"},
        workdir=S,
        description=S,
    ),
    _spec("edit", filePath=S, oldString=S, newString=S, replaceAll=B),
    _spec("glob", pattern=S, path=S),
    _spec("grep", pattern=S, path=S, include=S),
    _spec(
        "read",
        filePath=S,
        offset={
            "type": "number",
            "description": "The line number to start reading from (1-indexed)",
        },
        limit=N,
    ),
    _spec("skill", name=S),
    _spec("task", description=S, prompt=S, subagent_type=S),
    _spec("todowrite", todos={"type": "array"}),
    _spec("webfetch", url=S, format={"type": "string", "enum": ["text", "markdown", "html"]}),
    _spec("write", content=S, filePath=S),
]

# What Claude Code 2.1 sends (shared/clients.md): no Glob/Grep/LS among them.
CLAUDE = [
    _spec("Agent", description=S, prompt=S, subagent_type=S),
    _spec(
        "Bash",
        command=S,
        timeout={
            "type": "number",
            "description": "Optional timeout in milliseconds (max 600000)",
            "maximum": 600000,
        },
        description=S,
        run_in_background=B,
    ),
    _spec("Edit", file_path=S, old_string=S, new_string=S, replace_all=B),
    _spec("Read", file_path=S, offset=N, limit=N),
    _spec("Skill", skill=S),
    _spec("Write", file_path=S, content=S),
]
# Older Claude Code versions also offer these.
CLAUDE_SEARCH = [
    *CLAUDE,
    _spec("Glob", pattern=S, path=S),
    _spec(
        "Grep",
        pattern=S,
        path=S,
        glob=S,
        output_mode={"type": "string", "enum": ["content", "files_with_matches", "count"]},
        **{"-i": B, "-n": B, "-A": N, "-B": N, "-C": N},
        head_limit=N,
        type=S,
        multiline=B,
    ),
    _spec("LS", path=S, ignore={"type": "array"}),
    _spec("WebFetch", url=S, prompt=S),
]

CODEX = [
    _spec(
        "exec_command",
        cmd=S,
        workdir=S,
        yield_time_ms=N,
        max_output_tokens=N,
        shell=S,
        login=B,
        tty=B,
    ),
    _spec("write_stdin", session_id=N, chars=S, yield_time_ms=N),
    _spec("view_image", path=S),
    _spec("web_search", query=S),
]
CODEX_LEGACY_SHELL = [
    _spec("shell", command={"type": "array", "items": S}, workdir=S, timeout_ms=N),
]

GENERIC = [
    _spec(
        "run_command",
        command=S,
        cwd=S,
        timeout={"type": "integer", "description": "Timeout in seconds"},
    ),
    _spec("read_file", path=S),
    _spec("write_file", path=S, content=S),
    _spec("list_dir", path=S),
    _spec("search", pattern=S, path=S),
    _spec("fetch", url=S),
]


def event(kind: str, exec_id: int = 7, exec_key: str = "exec-key", **args: Any) -> ExecRequested:
    return ExecRequested(exec_id, exec_key, kind, dict(args), tool_call_id="tc-1")


def wire(messages: list[agent.ExecClientMessage]) -> list[agent.ExecClientMessage]:
    """Round-trip each message through its AgentClientMessage bytes (what the backend sees)."""
    out = []
    for message in messages:
        frame = agent.AgentClientMessage(exec_client_message=message).SerializeToString()
        out.append(agent.AgentClientMessage.FromString(frame).exec_client_message)
    return out


def only(messages: list[agent.ExecClientMessage]) -> agent.ExecClientMessage:
    decoded = wire(messages)
    assert len(decoded) == 1, decoded
    return decoded[0]
