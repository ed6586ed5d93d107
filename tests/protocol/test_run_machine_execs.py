"""RunMachine and the built-in exec kinds: decoding newer variants, multi-message answers."""

from __future__ import annotations

import pytest

from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol.blobs import MemoryBlobStore
from cursor_bridge.protocol.errors import LocalProtocolError
from cursor_bridge.protocol.framing import EnvelopeDecoder, encode_envelope
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.run import RunMachine


def started() -> RunMachine:
    machine = RunMachine(blobs=MemoryBlobStore(), request_context=agent.RequestContext())
    machine.start(agent.AgentRunRequest())
    return machine


def server(**fields: object) -> bytes:
    return encode_envelope(agent.AgentServerMessage(**fields).SerializeToString())  # type: ignore[arg-type]


def sent(machine: RunMachine) -> list[agent.AgentClientMessage]:
    return [
        agent.AgentClientMessage.FromString(envelope.payload)
        for envelope in EnvelopeDecoder().feed(machine.data_to_send())
    ]


def test_pi_and_other_new_variants_become_exec_events() -> None:
    machine = started()
    request = agent.ExecServerMessage(
        id=3, exec_id="e3", pi_read_args=agent.PiReadExecArgs(path="a.py", offset=2)
    )
    (event,) = machine.receive_data(server(exec_server_message=request))
    assert event == ev.ExecRequested(3, "e3", "pi_read_args", {"path": "a.py", "offset": 2})
    fetch = agent.ExecServerMessage(
        id=4, fetch_args=agent.FetchArgs(url="https://x", tool_call_id="t")
    )
    (event,) = machine.receive_data(server(exec_server_message=fetch))
    assert (event.kind, event.args["url"], event.tool_call_id) == ("fetch_args", "https://x", "t")


def test_a_shell_stream_answer_is_sent_then_closed_once() -> None:
    machine = started()
    request = agent.ExecServerMessage(
        id=9, exec_id="k", shell_stream_args=agent.ShellArgs(command="ls")
    )
    machine.receive_data(server(exec_server_message=request))
    stream = [
        agent.ExecClientMessage(
            id=9, shell_stream=agent.ShellStream(start=agent.ShellStreamStart())
        ),
        agent.ExecClientMessage(
            id=9, shell_stream=agent.ShellStream(stdout=agent.ShellStreamStdout(data="a"))
        ),
        agent.ExecClientMessage(id=9, shell_stream=agent.ShellStream(exit=agent.ShellStreamExit())),
    ]
    machine.send_exec_result(*stream)
    out = sent(machine)
    kinds = [m.exec_client_message.shell_stream.WhichOneof("event") for m in out[:3]]
    assert kinds == ["start", "stdout", "exit"]
    assert all(m.exec_client_message.exec_id == "k" for m in out[:3])
    assert out[3].exec_client_control_message.stream_close.id == 9
    assert len(out) == 4
    with pytest.raises(LocalProtocolError):
        machine.send_exec_result(*stream)  # already answered


def test_one_answer_may_not_mix_exec_ids() -> None:
    machine = started()
    for exec_id in (1, 2):
        request = agent.ExecServerMessage(id=exec_id, read_args=agent.ReadArgs(path="a"))
        machine.receive_data(server(exec_server_message=request))
    with pytest.raises(LocalProtocolError):
        machine.send_exec_result(agent.ExecClientMessage(id=1), agent.ExecClientMessage(id=2))
