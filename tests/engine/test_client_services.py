"""fetch, subagents and the pi_* family on each client's own tools and back."""

from __future__ import annotations

from client_tools import (
    CLAUDE,
    CLAUDE_SEARCH,
    CODEX,
    OPENCODE,
    event,
    only,
)

from cursor_bridge.engine.adapters import (
    ClientCall,
    map_builtin,
    native_result,
)
from cursor_bridge.protocol.messages import agent


def test_fetch_maps_to_each_fetch_tool() -> None:
    request = event("fetch_args", url="https://example.com/x")
    assert map_builtin(request, OPENCODE) == ClientCall(
        "webfetch", {"url": "https://example.com/x", "format": "markdown"}, "fetch"
    )
    claude = map_builtin(request, CLAUDE_SEARCH)
    assert claude is not None and claude.name == "WebFetch" and claude.arguments["prompt"]
    codex = map_builtin(request, CODEX)
    assert (
        codex is not None
        and codex.arguments["cmd"] == "curl -fsSL --max-time 30 https://example.com/x"
    )
    assert map_builtin(event("fetch_args", url="file:///etc/passwd"), CODEX) is None
    call = map_builtin(request, OPENCODE)
    assert call is not None
    success = only(native_result(request, call, "# Example", False)).fetch_result.success
    assert (success.url, success.content, success.status_code) == (
        "https://example.com/x",
        "# Example",
        200,
    )
    failed = only(native_result(request, call, "Request failed with status code: 404", True))
    assert failed.fetch_result.error.error.endswith("404")


def test_subagent_maps_to_the_task_tool() -> None:
    request = event(
        "subagent_args",
        prompt="Find every caller of parse_config in the repo",
        subagent_type="explore",
    )
    call = map_builtin(request, OPENCODE)
    assert call == ClientCall(
        "task",
        {
            "description": "Find every caller of parse_config in",
            "prompt": "Find every caller of parse_config in the repo",
            "subagent_type": "explore",
        },
        "task",
    )
    assert map_builtin(request, CLAUDE) is not None
    assert map_builtin(request, CODEX) is None
    result = only(native_result(request, call, "Found 3 callers.", False)).subagent_result.success
    assert result.final_message == "Found 3 callers."


def test_pi_family_maps_and_answers_one_field_higher() -> None:
    read = event("pi_read_args", path="/w/a.py", offset=2, limit=3)
    call = map_builtin(read, CLAUDE)
    assert call == ClientCall("Read", {"file_path": "/w/a.py", "offset": 2, "limit": 3}, "read")
    message = only(native_result(read, call, "     2\u2192b\n     3\u2192c", False))
    assert message.WhichOneof("message") == "pi_read_result"
    assert message.pi_read_result.success.output == "b\nc"
    number = agent.ExecClientMessage.DESCRIPTOR.fields_by_name["pi_read_result"].number
    assert number == agent.ExecServerMessage.DESCRIPTOR.fields_by_name["pi_read_args"].number + 1

    edit = event("pi_edit_args", path="/w/a.py", edits=[{"old_text": "a", "new_text": "b"}])
    assert map_builtin(edit, OPENCODE) == ClientCall(
        "edit", {"filePath": "/w/a.py", "oldString": "a", "newString": "b"}, "edit"
    )
    two = event("pi_edit_args", path="/w/a.py", edits=[{"old_text": "a", "new_text": "b"}] * 2)
    assert map_builtin(two, OPENCODE) is None
    bash = map_builtin(event("pi_bash_args", command="ls", timeout=2.5), OPENCODE)
    assert bash is not None and bash.arguments["timeout"] == 2500
    find = map_builtin(event("pi_find_args", pattern="*.md", path="/w"), OPENCODE)
    assert find == ClientCall("glob", {"pattern": "*.md", "path": "/w"}, "glob")
    failed = only(native_result(edit, ClientCall("edit", {}), "oldString not found", True))
    assert failed.pi_edit_result.error.error == "oldString not found"
