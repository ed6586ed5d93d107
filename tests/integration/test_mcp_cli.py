"""`cursor-bridge mcp list` and `serve --mcp-config`, as real subprocesses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from openai import OpenAI

from tests.mcp_host.fixtures import SERVER_SCRIPT, free_port
from tests.support.served import serve_process


def write_config(tmp_path: Path, **extra: object) -> Path:
    servers: dict[str, object] = {
        "fixture": {"command": sys.executable, "args": [str(SERVER_SCRIPT), "stdio"]},
        **extra,
    }
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


def bridge(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cursor_bridge", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "CURSOR_BRIDGE_LOG_LEVEL": "warning"},
    )


def test_mcp_list_shows_status_tools_and_wire_names(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/mcp"
    config = write_config(tmp_path, gone={"url": dead, "headers": {"Authorization": "Bearer s3"}})
    done = bridge("mcp", "list", "--mcp-config", str(config), "--wait", "30")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "- fixture [stdio] ready:" in out
    assert "    weird.name/with spaces  (as fixture-weird_name_with_spaces)" in out
    assert "    add  (as fixture-add)" in out
    assert re.search(r"- gone \[http\] (connecting|reconnecting): " + re.escape(dead), out)
    assert "error:" in out
    assert "s3" not in out  # headers (secrets) are never shown


def test_mcp_list_refuses_a_bad_config(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text('{"mcpServers": {"x": {"command": "a", "url": "http://b"}}}')
    done = bridge("mcp", "list", "--mcp-config", str(path))
    assert done.returncode != 0
    assert "both `command` and `url`" in done.stderr


def test_serve_hosts_the_configured_servers(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    with serve_process(
        "--emulator", "--mcp-config", str(config), until=lambda line: "hosted MCP" in line
    ) as (url, banner):
        assert banner[-1].strip() == "hosted MCP servers: 1 of 1 connected"
        client = OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=30)
        answer = client.chat.completions.create(
            model="gpt-5.4",
            messages=[{"role": "user", "content": '/tool fixture.add {"a": 4, "b": 5}'}],
        )
        assert answer.choices[0].message.content == "Tool results:\n- fixture.add: 9"
