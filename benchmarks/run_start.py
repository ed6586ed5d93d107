"""CPU to start one fresh Run, in this process, without sockets: planning the first frame
(`plan_run`: the AgentRunRequest, the RequestContext, the tool definitions, the seeded
blobs) and opening and ending the HTTP/2 stream (request headers, HPACK, HEADERS and
END_STREAM frames).

    uv run python -m benchmarks.run_start [--runs 20000] [--tools 0 15]

What `benchmarks.cpu` measures end to end (bridge and emulator processes, sockets, the
HTTP side) is noisy on a shared machine; this isolates what the engine does to open a Run,
in CPU time of one thread, so before/after comparisons of that path hold under load.
`--tools N`: the request offers N tools with a schema each (coding agents send 10-40 with
every request); 0: a plain chat. `--system N`: a system prompt of N characters (0: one short
line); coding agents send the same 10-30 KB one with every request. Reports microseconds per Run for each; informational, no
target.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from h2.settings import SettingCodes

from cursor_bridge.engine.catalog import ModelChoice, ModelInfo
from cursor_bridge.engine.context import Workspace
from cursor_bridge.engine.planner import plan_run
from cursor_bridge.engine.request import ChatMessage, ChatRequest, ToolSpec
from cursor_bridge.engine.toolset import Toolset
from cursor_bridge.protocol.headers import RUN_PATH, ClientIdentity, run_headers
from cursor_bridge.transport.connection import Connection
from cursor_bridge.transport.origin import parse_url


class NullTransport:
    """Accepts writes and drops them (the bytes are not what is measured)."""

    def write(self, data: bytes) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str) -> None:
        return None


def _tools(count: int) -> tuple[ToolSpec, ...]:
    schema = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "Absolute path of the file"},
            "offset": {"type": "integer", "description": "Line to start at"},
            "limit": {"type": "integer", "description": "Lines to read"},
        },
        "required": ["path"],
    }
    return tuple(
        ToolSpec(f"tool_{i}", f"Tool number {i}: " + "x" * 200, schema) for i in range(count)
    )


def _connection(loop: asyncio.AbstractEventLoop) -> Connection:
    origin, _ = parse_url("https://agent.example")
    connection = Connection(origin, loop)
    connection.connection_made(NullTransport())  # type: ignore[arg-type]
    h2 = connection._h2
    h2.remote_settings.update({SettingCodes.MAX_CONCURRENT_STREAMS: 1 << 30})
    h2.remote_settings.acknowledge()
    return connection


def per_run(runs: int, tools: int, loop: asyncio.AbstractEventLoop, system_chars: int = 0) -> float:
    """Microseconds of CPU per Run started (planned, stream opened and ended)."""
    identity = ClientIdentity(machine_id="m" * 64)
    choice = ModelChoice(ModelInfo("gpt-5.4", "GPT"), "gpt-5.4")
    system = "You are a coding agent."
    if system_chars:  # a coding agent's prompt: lines of prose with quotes to escape
        line = 'You are a coding agent. Use the "read" tool before editing a file.\n'
        system = (line * (system_chars // len(line) + 1))[:system_chars]
    messages = (ChatMessage("system", system), ChatMessage("user", "hi"))
    request = ChatRequest("gpt-5.4", messages, tools=_tools(tools))
    connection = _connection(loop)

    def one() -> None:
        toolset = Toolset.build(request.tools, request.tool_choice)
        plan = plan_run(request, choice, Workspace(), toolset)
        plan.run_request.SerializeToString()
        headers = run_headers("t" * 400, identity, now_ms=int(time.time() * 1000))
        stream = connection.start_stream(RUN_PATH, headers)
        connection.end_stream(stream.stream_id)
        connection._streams.pop(stream.stream_id)
        connection._flush()

    for _ in range(min(runs, 500)):  # warm-up
        one()
    started = time.process_time()
    for _ in range(runs):
        one()
    return (time.process_time() - started) / runs * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20000, help="Runs started per figure")
    parser.add_argument("--tools", type=int, nargs="+", default=[0, 15], help="tools offered")
    parser.add_argument(
        "--system",
        type=int,
        nargs="+",
        default=[0, 15000],
        help="characters of system prompt (0: one short line; coding agents send 10-30 KB)",
    )
    args = parser.parse_args()
    loop = asyncio.new_event_loop()
    try:
        for system in args.system:
            for tools in args.tools:
                micros = per_run(args.runs, tools, loop, system)
                print(
                    f"start a Run, {tools:>3} tools, {system:>6} characters of system prompt: "
                    f"{micros:8.1f} us CPU per Run"
                )
    finally:
        loop.close()


if __name__ == "__main__":
    main()
