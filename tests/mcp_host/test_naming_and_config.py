"""Hosted MCP: the config file shapes and the wire names (pure code)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cursor_bridge.mcp_host.config import McpConfigError, load_config, parse_config
from cursor_bridge.mcp_host.naming import MAX_NAME, NameTable, ToolRef

_WIRE = re.compile(r"^[A-Za-z0-9_]+-[A-Za-z0-9_]+$")


def test_claude_desktop_json_shape(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(
        '{"mcpServers": {'
        '"files": {"command": "npx", "args": ["-y", "srv"], "env": {"TOKEN": "t"}},'
        '"remote": {"url": "https://example.invalid/mcp", "headers": {"Authorization": "Bearer x"}},'
        '"legacy": {"url": "http://127.0.0.1:1/sse", "type": "sse", "timeout": 5},'
        '"off": {"command": "x", "enabled": false}}}'
    )
    servers = {s.name: s for s in load_config(path)}
    assert set(servers) == {"files", "remote", "legacy"}
    assert servers["files"].transport == "stdio"
    assert servers["files"].args == ("-y", "srv") and servers["files"].env == {"TOKEN": "t"}
    assert servers["remote"].transport == "http"
    assert servers["remote"].headers == {"Authorization": "Bearer x"}
    assert servers["legacy"].transport == "sse" and servers["legacy"].timeout == 5.0
    # What is shown never carries env or headers (secrets).
    assert "Bearer" not in servers["remote"].target and "TOKEN" not in servers["files"].target


def test_toml_tables_fold_into_a_wider_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        'port = 9000\n[mcp.servers.docs]\nurl = "http://127.0.0.1:9/mcp"\n'
        '[mcp.servers."my tools"]\ncommand = "python"\nargs = ["-m", "tools"]\n'
    )
    servers = {s.name: s for s in load_config(path)}
    assert servers["docs"].transport == "http"
    assert servers["my tools"].command == "python"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"mcpServers": {"a": {"command": "x", "comand": "y"}}}', "unknown keys: comand"),
        ('{"mcpServers": {"a": {"url": "ftp://x"}}}', "needs a `command` or an http(s) `url`"),
        ('{"mcpServers": {"a": {"command": "x", "url": "http://x"}}}', "both"),
        ('{"mcpServers": {"a": {"command": "x", "timeout": -1}}}', "positive"),
        ('{"mcpServers": {"a": {"url": "http://x", "transport": "ws"}}}', "transport"),
        ('{"servers": {}}', "no `mcpServers`"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_configs_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(McpConfigError, match=re.escape(fragment)):
        parse_config(text, toml=False)


def test_wire_names_are_sanitised_unique_and_map_back() -> None:
    refs = [
        ToolRef("my-server", "my-special_tool.v2"),
        ToolRef("my server", "my-special_tool.v2"),  # sanitises to the same name
        ToolRef("files", "x" * 200),
        ToolRef("files", "x" * 199 + "y"),  # same cut, told apart by the hash
        ToolRef("files", "read"),
    ]
    table = NameTable(refs, reserved={"files-read"})
    names = [table.wire(ref) for ref in refs]
    assert names[0] == "my_server-my_special_tool_v2"  # seed 002's example, server-prefixed
    assert names[1] == "my_server-my_special_tool_v2_2"
    assert names[4] == "files-read_2"  # the client already has files-read
    assert len(set(names)) == len(names)
    for ref, name in zip(refs, names, strict=True):
        assert name is not None and len(name) <= MAX_NAME and _WIRE.match(name)
        assert table.resolve(name) == ref
