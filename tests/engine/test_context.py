"""The RequestContext as the current client sends it, with honest values (current-client.md §3)."""

from __future__ import annotations

import os
from pathlib import Path

from cursor_bridge.engine.context import Workspace, request_context
from cursor_bridge.engine.request import ToolSpec
from cursor_bridge.engine.toolset import Toolset
from cursor_bridge.paths import bridge_home
from cursor_bridge.protocol.messages import agent

TOOLS = Toolset.build((ToolSpec("read", "Read a file", {"type": "object"}),))


def _flags(context: agent.RequestContext) -> set[str]:
    return {f.name for f, value in context.ListFields() if f.name.endswith("_info_complete")}


def test_no_workspace_is_claimed_without_one() -> None:
    context = request_context("", TOOLS, Workspace())
    env = context.env
    assert list(env.workspace_paths) == []
    assert not env.project_folder and not env.terminals_folder
    assert not env.agent_transcripts_folder
    assert not env.HasField("process_working_directory")
    assert not env.HasField("is_working_dir_home_dir")
    assert list(context.project_layouts) == []
    assert not context.HasField("cloud_rule")


def test_explicit_false_flags_are_on_the_wire() -> None:
    context = request_context("rules", TOOLS, Workspace())
    for message, name in (
        (context.env, "sandbox_enabled"),
        (context.env, "sandbox_supported"),
        (context, "web_search_enabled"),
        (context, "web_fetch_enabled"),
    ):
        assert message.HasField(name) and getattr(message, name) is False, name
    raw = context.SerializeToString()
    assert b"\xc0\x01\x00" in raw  # web_fetch_enabled (24) = false, encoded
    assert _flags(context) == {
        "git_repo_info_complete",
        "mcp_info_complete",
        "rules_info_complete",
        "env_info_complete",
        "repository_info_complete",
        "custom_subagents_info_complete",
        "agent_skills_info_complete",
        "mcp_file_system_info_complete",
        "git_status_info_complete",
    }
    assert context.cloud_rule == "rules"


def test_tools_are_described_as_one_mcp_server_in_both_option_sets() -> None:
    context = request_context("", TOOLS, Workspace())
    (tool,) = context.tools
    assert (tool.name, tool.tool_name, tool.provider_identifier) == (
        "cursor-bridge-read",
        "read",
        "cursor-bridge",
    )
    for options in (context.mcp_file_system_options, context.mcp_meta_tool_options):
        assert options.enabled
        (descriptor,) = options.mcp_descriptors
        assert descriptor.server_identifier == "cursor-bridge"
        (described,) = descriptor.tools
        assert (described.tool_name, described.description) == ("read", "Read a file")
        assert described.input_schema == tool.input_schema


def test_no_tools_no_mcp_options() -> None:
    context = request_context("", Toolset.build(()), Workspace())
    assert not context.HasField("mcp_file_system_options")
    assert not context.HasField("mcp_meta_tool_options")


def test_a_workspace_is_that_directory_with_metadata_folders_elsewhere(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "README.md").write_text("x")
    (root / "src").mkdir()
    context = request_context("", TOOLS, Workspace(path=str(root)))
    env = context.env
    assert list(env.workspace_paths) == [str(root)]
    assert env.process_working_directory == str(root)
    assert env.is_working_dir_home_dir is False and env.HasField("is_working_dir_home_dir")
    slug = str(root).strip("/").replace("/", "-")
    folder = bridge_home() / "projects" / slug
    assert env.project_folder == str(folder)
    assert env.terminals_folder == f"{folder}/terminals"
    assert env.agent_transcripts_folder == f"{folder}/agent-transcripts"
    assert not env.project_folder.startswith(str(root))  # metadata, never the repository
    assert context.mcp_file_system_options.workspace_project_dir == str(folder)
    (layout,) = context.project_layouts
    assert layout.abs_path == str(root) and layout.num_files == 1
    assert [f.name for f in layout.children_files] == ["README.md"]


def test_home_as_workspace_is_flagged() -> None:
    context = request_context("", TOOLS, Workspace(path=os.path.expanduser("~")))
    assert context.env.is_working_dir_home_dir is True
