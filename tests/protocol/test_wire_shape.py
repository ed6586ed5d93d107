"""Wire shapes: a payload's structure without its content, and back to bytes."""

from __future__ import annotations

import json

import pytest

from cursor_bridge.protocol.blobs import MemoryBlobStore, blob_id
from cursor_bridge.protocol.errors import UpstreamProtocolError
from cursor_bridge.protocol.framing import encode_envelope
from cursor_bridge.protocol.messages import agent, json_to_value_bytes
from cursor_bridge.protocol.run import RunMachine
from cursor_bridge.protocol.wire_shape import describe, message_path, rebuild

SERVER = agent.AgentServerMessage.DESCRIPTOR


def mcp_call() -> agent.AgentServerMessage:
    args = agent.McpArgs(name="lookup", tool_name="lookup", tool_call_id="call_7")
    args.args["key"] = json_to_value_bytes("a secret argument")
    args.args["count"] = json_to_value_bytes(3)
    return agent.AgentServerMessage(
        exec_server_message=agent.ExecServerMessage(id=4, exec_id="ex-1", mcp_args=args)
    )


def test_content_mode_rebuilds_the_exact_bytes() -> None:
    payload = mcp_call().SerializeToString()
    assert rebuild(describe(payload, SERVER, content=True)) == payload


def test_redacted_shape_keeps_ids_numbers_and_lengths_but_no_text() -> None:
    message = mcp_call()
    shape = describe(message.SerializeToString(), SERVER)
    text = json.dumps(shape)
    assert "a secret argument" not in text
    assert "call_7" in text and "ex-1" in text and "lookup" in text  # identifiers
    assert message_path(shape, SERVER) == "exec_server_message.mcp_args"
    rebuilt = agent.AgentServerMessage()
    rebuilt.ParseFromString(rebuild(shape))
    call = rebuilt.exec_server_message
    assert (call.id, call.exec_id, call.mcp_args.tool_call_id) == (4, "ex-1", "call_7")
    assert len(rebuild(shape)) == message.ByteSize()
    # Arguments are serialized Values: rebuilt as Values, numbers kept, strings redacted.
    machine = RunMachine(blobs=MemoryBlobStore(), request_context=agent.RequestContext())
    machine.start(agent.AgentRunRequest())
    (event,) = machine.receive_data(encode_envelope(rebuild(shape)))
    assert event.args == {"key": "x" * len("a secret argument"), "count": 3.0}


def test_blob_ids_are_kept_and_blob_data_is_not() -> None:
    data = b"user text that must not leak"
    kv = agent.KvServerMessage(
        id=2, set_blob_args=agent.SetBlobArgs(blob_id=blob_id(data), blob_data=data)
    )
    shape = describe(agent.AgentServerMessage(kv_server_message=kv).SerializeToString(), SERVER)
    text = json.dumps(shape)
    assert blob_id(data).hex() in text and "must not leak" not in text
    inline = agent.GetBlobArgs(blob_id=b"inline content used as an id")
    shape = describe(
        agent.AgentServerMessage(
            kv_server_message=agent.KvServerMessage(id=3, get_blob_args=inline)
        ).SerializeToString(),
        SERVER,
    )
    assert "inline content" not in json.dumps(shape)  # not 32 bytes: content, not an id


def test_unknown_fields_are_kept_by_number() -> None:
    payload = agent.AgentServerMessage().SerializeToString() + b"\xa0\x1f\x05"  # field 500 = 5
    shape = describe(payload, SERVER)
    assert shape == [{"n": 500, "w": 0, "u": 1, "v": 5}]
    assert rebuild(shape) == payload
    assert message_path(shape, SERVER) == "#500"


def test_a_garbage_argument_is_an_upstream_protocol_error() -> None:
    args = agent.McpArgs(name="lookup")
    args.args["key"] = b"\xff\xff not a Value"
    message = agent.AgentServerMessage(
        exec_server_message=agent.ExecServerMessage(id=1, mcp_args=args)
    )
    machine = RunMachine(blobs=MemoryBlobStore(), request_context=agent.RequestContext())
    machine.start(agent.AgentRunRequest())
    with pytest.raises(UpstreamProtocolError):
        machine.receive_data(encode_envelope(message.SerializeToString()))


def test_file_names_in_ls_results_are_redacted() -> None:
    node = agent.LsDirectoryTreeNode_File(name="quarterly-salaries.xlsx")
    shape = describe(node.SerializeToString(), agent.LsDirectoryTreeNode_File.DESCRIPTOR)
    assert "salaries" not in json.dumps(shape)
    assert shape == [{"n": 1, "w": 2, "len": len("quarterly-salaries.xlsx")}]
