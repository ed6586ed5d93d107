"""Hosted MCP servers through the real SDK: discovery, calls, errors, limits, reconnects.

The fixture server (tests/support/mcp_fixture_server.py) runs as a real subprocess, over stdio
or streamable HTTP; exec requests are built as the RunMachine builds them from `mcp_args`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from cursor_bridge.mcp_host.config import ServerConfig
from cursor_bridge.mcp_host.host import Catalog, McpHost
from cursor_bridge.protocol.events import ExecRequested
from cursor_bridge.protocol.messages import agent
from tests.mcp_host.fixtures import free_port, http_server, stdio_config

_ids = iter(range(1, 10_000))


def call(catalog: Catalog, wire: str, **args: object) -> ExecRequested:
    offered = catalog.offered[wire]
    return ExecRequested(
        next(_ids),
        "",
        "mcp_args",
        dict(args),
        tool_name=offered.tool.name,
        wire_name=wire,
        provider=offered.wire.split("-", 1)[0],
    )


def texts(answer: list[agent.ExecClientMessage]) -> tuple[str, bool, str]:
    """(result case, is_error, text) of an mcp_result answer."""
    result = answer[0].mcp_result
    case = result.WhichOneof("result") or ""
    if case == "success":
        text = "".join(item.text.text for item in result.success.content)
        return case, result.success.is_error, text
    return case, True, result.error.error


async def until(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def started(*configs: ServerConfig, **options: float) -> McpHost:
    host = McpHost(configs, **options)
    await host.start(wait=20)
    return host


async def test_stdio_tools_are_offered_under_sanitised_names_and_called() -> None:
    host = await started(stdio_config())
    try:
        catalog = host.catalog([agent.McpToolDefinition(name="fixture-add")])
        assert catalog is not None
        # The client already uses fixture-add: the hosted one steps aside.
        assert "fixture-add_2" in catalog.offered
        assert "fixture-weird_name_with_spaces" in catalog.offered
        definitions = {d.name: d for d in catalog.definitions()}
        weird = definitions["fixture-weird_name_with_spaces"]
        assert (
            weird.tool_name == "weird.name/with spaces" and weird.provider_identifier == "fixture"
        )
        (descriptor,) = catalog.descriptors()
        assert descriptor.server_name == "fixture"
        assert "weird.name/with spaces" in {t.tool_name for t in descriptor.tools}
        assert descriptor.server_use_instructions == "Use add to add numbers."

        assert texts(await catalog.execute(call(catalog, "fixture-add_2", a=2, b=3), None)) == (
            "success",
            False,
            "5",
        )
        answer = await catalog.execute(
            call(catalog, "fixture-weird_name_with_spaces", text="hi"), None
        )
        assert texts(answer) == ("success", False, "weird says hi")
        case, is_error, text = texts(await catalog.execute(call(catalog, "fixture-fail"), None))
        assert (case, is_error) == ("success", True) and "failed on purpose" in text
        connection = host.connections["fixture"]
        assert connection.calls == 3 and connection.failures == 1
    finally:
        await host.aclose()


async def test_progress_is_reported_and_silence_times_out() -> None:
    host = await started(stdio_config(timeout=1.0))
    try:
        catalog = host.catalog([])
        assert catalog is not None
        notes: list[str] = []
        # Twenty steps of 0.1 s: twice the 1 s timeout, but each progress note restarts it.
        answer = await catalog.execute(call(catalog, "fixture-slow", steps=20), notes.append)
        assert texts(answer) == ("success", False, "slow done after 20 steps")
        assert notes[0] == "1/20 step 1" and notes[-1] == "20/20 step 20"
        began = time.monotonic()
        case, _, text = texts(await catalog.execute(call(catalog, "fixture-hang"), None))
        assert case == "error" and "did not answer" in text
        assert time.monotonic() - began < 10
        # The connection survives a cancelled call.
        assert texts(await catalog.execute(call(catalog, "fixture-add", a=1, b=1), None))[2] == "2"
    finally:
        await host.aclose()


async def test_a_crashed_server_is_restarted_with_backoff() -> None:
    host = await started(stdio_config(), backoff_base=0.05, health_interval=5.0)
    try:
        catalog = host.catalog([])
        assert catalog is not None
        first = texts(await catalog.execute(call(catalog, "fixture-whoami"), None))[2]
        case, _, text = texts(await catalog.execute(call(catalog, "fixture-crash"), None))
        assert case == "error" and "closed the connection" in text
        connection = host.connections["fixture"]

        async def back() -> bool:
            return connection.status == "ready" and connection.connects == 2

        await until(back)
        catalog = host.catalog([])
        assert catalog is not None
        second = texts(await catalog.execute(call(catalog, "fixture-whoami"), None))[2]
        assert second != first  # a new process answers
    finally:
        await host.aclose()


async def test_tool_list_changes_are_picked_up() -> None:
    host = await started(stdio_config())
    try:
        catalog = host.catalog([])
        assert catalog is not None and "fixture-fresh" not in catalog.offered
        await catalog.execute(call(catalog, "fixture-grow"), None)

        async def listed() -> bool:
            fresh = host.catalog([])
            return fresh is not None and "fixture-fresh" in fresh.offered

        await until(listed)
    finally:
        await host.aclose()


async def test_streamable_http_server_and_resources() -> None:
    with http_server() as url:
        host = await started(ServerConfig("web docs", "http", url=url))
        try:
            catalog = host.catalog([])
            assert catalog is not None
            assert (
                texts(await catalog.execute(call(catalog, "web_docs-add", a=40, b=2), None))[2]
                == "42"
            )
            listing = ExecRequested(next(_ids), "", "list_mcp_resources_exec_args", {})
            (message,) = await catalog.execute(listing, None)
            (resource,) = message.list_mcp_resources_exec_result.success.resources
            assert (resource.uri, resource.server) == ("memo://hello", "web_docs")
            read = ExecRequested(
                next(_ids),
                "",
                "read_mcp_resource_exec_args",
                {"server": "web docs", "uri": "memo://hello"},
            )
            (message,) = await catalog.execute(read, None)
            assert message.read_mcp_resource_exec_result.success.text == "hello from a resource"
        finally:
            await host.aclose()


async def test_an_unreachable_server_is_reported_not_offered() -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    host = McpHost([ServerConfig("gone", "http", url=url)], backoff_base=0.05)
    await host.start(wait=1)
    try:
        connection = host.connections["gone"]
        assert connection.status in ("connecting", "reconnecting")

        async def failed() -> bool:
            return bool(connection.last_error)

        await until(failed)
        assert host.catalog([]) is None
    finally:
        await host.aclose()


async def test_sse_server() -> None:
    with http_server(transport="sse") as url:
        host = await started(ServerConfig("legacy", "sse", url=url))
        try:
            catalog = host.catalog([])
            assert catalog is not None
            answer = await catalog.execute(call(catalog, "legacy-add", a=3, b=4), None)
            assert texts(answer) == ("success", False, "7")
        finally:
            await host.aclose()
