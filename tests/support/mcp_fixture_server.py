"""A small MCP server for the tests, written with the SDK's MCPServer (FastMCP in mcp 1.x).

Run: `python mcp_fixture_server.py stdio`, or `... http PORT` / `... sse PORT`.
Its tools cover what the bridge must handle: a plain result, a tool error, progress, a call
that never answers, a crash of the whole server, a name that needs sanitising, and a tool
list that changes while connected; one resource.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

app = MCPServer("fixture", instructions="Use add to add numbers.")


@app.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@app.tool()
def whoami() -> int:
    """The server's process id (tells a restarted server apart)."""
    return os.getpid()


@app.tool()
def fail(reason: str = "on purpose") -> str:
    """Always fails."""
    raise ToolError(f"failed {reason}")


@app.tool()
async def slow(steps: int, ctx: Context) -> str:
    """Reports progress `steps` times, 0.1 s apart, then answers."""
    for step in range(steps):
        await ctx.report_progress(step + 1, steps, f"step {step + 1}")
        await asyncio.sleep(0.1)
    return f"slow done after {steps} steps"


@app.tool()
async def hang() -> str:
    """Never answers in time."""
    await asyncio.sleep(3600)
    return "unreachable"


@app.tool()
async def hang_marked(path: str) -> str:
    """Writes `started` to *path*, then waits; writes `cancelled` when the call is cancelled."""
    marker = Path(path)
    marker.write_text("started")  # noqa: ASYNC240 - a few bytes, in a test server
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        marker.write_text("cancelled")  # noqa: ASYNC240
        raise
    return "unreachable"


@app.tool()
def crash() -> str:
    """Kills the server process."""
    os._exit(3)


@app.tool(name="weird.name/with spaces")
def weird(text: str = "") -> str:
    """A tool whose name no model accepts as is."""
    return f"weird says {text}"


@app.tool()
async def grow(ctx: Context) -> str:
    """Adds the tool `fresh` and tells the client its tool list changed."""
    app.add_tool(lambda: "fresh result", name="fresh", description="Added at run time.")
    await ctx.notify_tools_changed()
    return "grown"


@app.resource("memo://hello", name="hello", description="A greeting.")
def hello() -> str:
    return "hello from a resource"


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    elif sys.argv[1:2] == ["sse"]:
        app.run("sse", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        app.run("stdio")
