"""The RequestContext a Run carries, shaped as Cursor's current client sends it.

current-client.md §3 (O's first Run, decoded side by side): explicit `false` flags on the wire
(sandbox, web search, web fetch), the environment folders, the project layout, the client's
tools both as `tools` and as MCP descriptors (`mcp_file_system_options`,
`mcp_meta_tool_options`), and every `*_info_complete` set. Values stay honest for a proxy:
with no workspace (`serve` without `--workspace`) no workspace, folder or layout is claimed;
with one, it is that directory, and the metadata folders live under the bridge's home as the
CLI keeps them under its cache (`projects/<slug>`), never inside the repository.
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from ..paths import bridge_home
from ..protocol.messages import agent
from .toolset import PROVIDER_IDENTIFIER, Toolset, definition

# How many entries of the workspace root the project layout lists (names only).
MAX_LAYOUT_FILES = 200


@dataclass(frozen=True, slots=True)
class Workspace:
    """What the model is told about the machine it works on (RequestContextEnv).

    `path` "" = no workspace: the bridge is a proxy and the client's files are not its own.
    """

    path: str = ""
    shell: str = "/bin/bash"
    timezone: str = "UTC"
    # The platform name, as the current client sends it ("linux", not "linux <kernel>").
    os_version: str = platform.system().lower()


def default_workspace() -> Workspace:
    """No workspace claimed; the shell the user runs."""
    return Workspace(shell=os.environ.get("SHELL", "/bin/bash"))


def project_folder(workspace: str, home: Path | None = None) -> str:
    """The metadata folder of a workspace: `<bridge home>/projects/<slug>`, where the slug is
    the path with `/` turned into `-` (the CLI's scheme, §3)."""
    slug = workspace.strip("/").replace("/", "-") or "root"
    return str((home or bridge_home()) / "projects" / slug)


def request_context(rules: str, toolset: Toolset, workspace: Workspace) -> agent.RequestContext:
    """The context sent inline with the user message and as the request_context_args answer.

    A copy of the one built for these rules, tools and workspace (`context_template`: the
    same for every request of a client), plus the workspace's project layout as it is now."""
    return context_from(context_template(rules, toolset.definitions_key, workspace), workspace)


def context_from(template: agent.RequestContext, workspace: Workspace) -> agent.RequestContext:
    """A copy of *template* (what `context_template` made for *workspace*) with the
    workspace's project layout as it is now."""
    context = agent.RequestContext()
    context.CopyFrom(template)
    if workspace.path:
        layout = project_layout(workspace.path)
        if layout is not None:
            context.project_layouts.append(layout)
    return context


@functools.lru_cache(maxsize=256)
def context_template(
    rules: str, tools: tuple[tuple[str, str, str], ...], workspace: Workspace
) -> agent.RequestContext:
    """The context for *rules*, the tools `Toolset.definitions_key` names and *workspace*,
    without the project layout. Shared: only ever copied from."""
    env = agent.RequestContextEnv(
        os_version=workspace.os_version,
        shell=workspace.shell,
        time_zone=workspace.timezone,
        sandbox_enabled=False,
        sandbox_supported=False,
    )
    definitions = [definition(*key) for key in tools]
    descriptor = _descriptor(definitions)
    context = agent.RequestContext(
        env=env,
        tools=definitions,
        web_search_enabled=False,
        web_fetch_enabled=False,
        git_repo_info_complete=True,
        mcp_info_complete=True,
        rules_info_complete=True,
        env_info_complete=True,
        repository_info_complete=True,
        custom_subagents_info_complete=True,
        agent_skills_info_complete=True,
        mcp_file_system_info_complete=True,
        git_status_info_complete=True,
    )
    if descriptor is not None:
        options = context.mcp_file_system_options
        options.enabled = True
        options.mcp_descriptors.append(descriptor)
        context.mcp_meta_tool_options.enabled = True
        context.mcp_meta_tool_options.mcp_descriptors.append(descriptor)
    env = context.env  # the constructor copied it
    if workspace.path:
        folder = project_folder(workspace.path)
        env.workspace_paths.append(workspace.path)
        env.project_folder = folder
        env.terminals_folder = f"{folder}/terminals"
        env.agent_transcripts_folder = f"{folder}/agent-transcripts"
        env.process_working_directory = workspace.path
        env.is_working_dir_home_dir = os.path.realpath(workspace.path) == os.path.realpath(
            Path.home()
        )
        if descriptor is not None:
            context.mcp_file_system_options.workspace_project_dir = folder
    if rules:
        context.cloud_rule = rules
    return context


def _descriptor(tools: list[agent.McpToolDefinition]) -> agent.McpDescriptor | None:
    """The client's tools as one MCP server descriptor (None when it offers none)."""
    if not tools:
        return None
    descriptor = agent.McpDescriptor(
        server_name=PROVIDER_IDENTIFIER, server_identifier=PROVIDER_IDENTIFIER
    )
    for tool in tools:
        descriptor.tools.append(
            agent.McpToolDescriptor(
                tool_name=tool.tool_name,
                description=tool.description,
                input_schema=tool.input_schema,
            )
        )
    return descriptor


def project_layout(root: str) -> agent.LsDirectoryTreeNode | None:
    """`{abs_path, children_files [{name}], num_files}` of the workspace root (§3)."""
    try:
        names = sorted(entry.name for entry in os.scandir(root) if entry.is_file())
    except OSError:
        return None
    node = agent.LsDirectoryTreeNode(abs_path=root, num_files=len(names))
    for name in names[:MAX_LAYOUT_FILES]:
        node.children_files.append(agent.LsDirectoryTreeNode_File(name=name))
    return node
