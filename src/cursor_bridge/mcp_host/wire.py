"""Hosted MCP tools and results in Cursor's protobuf shapes (pure: no I/O).

A hosted tool is advertised like the current client advertises MCP tools (current-client.md
§3): an `McpToolDefinition` named `<server>-<tool>` (sanitised, see naming.py) with the
server's identifier as `provider_identifier`, and an `McpDescriptor` per server carrying the
configured server name and the tools' real names, descriptions and schemas. Putting the real
tool name into `tool_name` (and the sanitised one only into `name`) is inferred from the peer
that sends `tool_name` bare; it lets the model and the emulator name a tool as configured.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import mcp_types

from ..protocol.events import ExecRequested
from ..protocol.messages import agent, json_to_value_bytes

EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
# What one result may carry to the Run (a Connect frame holds at most 64 MiB).
MAX_RESULT_TEXT = 1_000_000
MAX_RESULT_IMAGES = 8 * 1024 * 1024


def definition(wire: str, identifier: str, tool: mcp_types.Tool) -> agent.McpToolDefinition:
    return agent.McpToolDefinition(
        name=wire,
        description=tool.description or "",
        input_schema=json_to_value_bytes(tool.input_schema or EMPTY_SCHEMA),
        provider_identifier=identifier,
        tool_name=tool.name,
    )


def descriptor(
    server: str, identifier: str, tools: list[mcp_types.Tool], instructions: str
) -> agent.McpDescriptor:
    out = agent.McpDescriptor(server_name=server, server_identifier=identifier)
    if instructions:
        out.server_use_instructions = instructions
    for tool in tools:
        out.tools.append(
            agent.McpToolDescriptor(
                tool_name=tool.name,
                description=tool.description or "",
                input_schema=json_to_value_bytes(tool.input_schema or EMPTY_SCHEMA),
            )
        )
    return out


def reply(event: ExecRequested) -> agent.ExecClientMessage:
    return agent.ExecClientMessage(id=event.exec_id, exec_id=event.exec_key)


def tool_result(event: ExecRequested, result: mcp_types.CallToolResult) -> agent.ExecClientMessage:
    """A tool's answer as `McpResult.success` (with `is_error` when the tool failed)."""
    message = reply(event)
    success = message.mcp_result.success
    success.SetInParent()
    success.is_error = bool(result.is_error)
    text_left, image_left, cut = MAX_RESULT_TEXT, MAX_RESULT_IMAGES, False
    for block in result.content:
        if isinstance(block, mcp_types.ImageContent):
            data = _b64(block.data)
            if data is not None and len(data) <= image_left:
                image_left -= len(data)
                success.content.append(
                    agent.McpToolResultContentItem(
                        image=agent.McpImageContent(data=data, mime_type=block.mime_type)
                    )
                )
                continue
            cut = cut or data is not None
        text = content_text(block)
        if len(text) > text_left:
            text, cut = text[:text_left], True
        text_left -= len(text)
        if text:
            success.content.append(_text_item(text))
    if not result.content and result.structured_content is not None:
        success.content.append(_text_item(json.dumps(result.structured_content)[:MAX_RESULT_TEXT]))
    if cut:
        success.content.append(_text_item("[the result was cut: it was too large]"))
    return message


def tool_error(event: ExecRequested, error: str) -> agent.ExecClientMessage:
    message = reply(event)
    message.mcp_result.error.error = error
    return message


def content_text(block: Any) -> str:
    """A text rendering of one MCP content block (images as a placeholder)."""
    if isinstance(block, mcp_types.TextContent):
        return block.text
    if isinstance(block, mcp_types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, mcp_types.TextResourceContents):
            return resource.text
        return f"[binary resource {resource.uri} ({resource.mime_type or 'unknown type'})]"
    if isinstance(block, mcp_types.ResourceLink):
        return f"[resource {block.uri}: {block.name}]"
    if isinstance(block, mcp_types.ImageContent | mcp_types.AudioContent):
        return f"[{block.type} {block.mime_type}]"
    return str(block)


def result_text(result: mcp_types.CallToolResult) -> str:
    return "\n".join(content_text(block) for block in result.content)


def resources_result(
    event: ExecRequested, resources: list[tuple[str, mcp_types.Resource]]
) -> agent.ExecClientMessage:
    message = reply(event)
    success = message.list_mcp_resources_exec_result.success
    success.SetInParent()
    for server, resource in resources:
        item = agent.ListMcpResourcesExecResult_McpResource(uri=str(resource.uri), server=server)
        item.name = resource.name
        if resource.description:
            item.description = resource.description
        if resource.mime_type:
            item.mime_type = resource.mime_type
        success.resources.append(item)
    return message


def read_result(
    event: ExecRequested, uri: str, result: mcp_types.ReadResourceResult
) -> agent.ExecClientMessage:
    message = reply(event)
    if not result.contents:
        message.read_mcp_resource_exec_result.not_found.uri = uri
        return message
    success = message.read_mcp_resource_exec_result.success
    contents = result.contents[0]
    success.uri = str(contents.uri)
    if contents.mime_type:
        success.mime_type = contents.mime_type
    if isinstance(contents, mcp_types.TextResourceContents):
        success.text = "".join(
            c.text for c in result.contents if isinstance(c, mcp_types.TextResourceContents)
        )
    else:
        success.blob = _b64(contents.blob) or b""
    return message


def read_error(event: ExecRequested, uri: str, error: str) -> agent.ExecClientMessage:
    message = reply(event)
    message.read_mcp_resource_exec_result.error.uri = uri
    message.read_mcp_resource_exec_result.error.error = error
    return message


def list_error(event: ExecRequested, error: str) -> agent.ExecClientMessage:
    message = reply(event)
    message.list_mcp_resources_exec_result.error.error = error
    return message


def _text_item(text: str) -> agent.McpToolResultContentItem:
    return agent.McpToolResultContentItem(text=agent.McpTextContent(text=text))


def _b64(data: str) -> bytes | None:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
