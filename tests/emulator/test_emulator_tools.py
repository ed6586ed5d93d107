"""Scripted tool calls: the Run is held open until the client answers each exec."""

from __future__ import annotations

import pytest
from emulator_client import H2Client
from run_driver import TurnDriver, mcp_text_answer, stream_close, user_request

from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
from cursor_bridge.protocol.messages import agent, json_to_value_bytes, value_bytes_to_json

TOOLS = agent.RequestContext(
    tools=[
        agent.McpToolDefinition(
            name="opencode-read",
            tool_name="read",
            provider_identifier="opencode",
            description="Read a file",
            input_schema=json_to_value_bytes({"type": "object"}),
        )
    ]
)


async def test_mcp_tool_call_waits_for_the_result_and_quotes_it(
    emulator: EmulatorServer, client: H2Client
) -> None:
    driver = TurnDriver(client, context=TOOLS, on_exec=mcp_text_answer("file body"))
    transcript = await driver.run(user_request('/tool read {"filePath": "a.txt"}'))

    exec_messages = [
        m.exec_server_message
        for m in transcript.messages
        if m.exec_server_message.HasField("mcp_args")
    ]
    (request,) = exec_messages
    args = request.mcp_args
    assert (args.name, args.tool_name, args.provider_identifier) == (
        "opencode-read",
        "read",
        "opencode",
    )
    assert {k: value_bytes_to_json(v) for k, v in args.args.items()} == {"filePath": "a.txt"}
    assert args.tool_call_id.startswith("toolu_")
    kinds = transcript.without_heartbeats()
    assert kinds.index("update.tool_call_started") < kinds.index("exec.mcp_args")
    assert kinds.index("exec.mcp_args") < kinds.index("update.tool_call_completed")
    # The model's step is over once its calls are out: step_completed comes before the
    # wait for the result (clients end a group of parallel calls on it).
    step_done = kinds.index("update.step_completed")
    assert kinds.index("exec.mcp_args") < step_done < kinds.index("update.tool_call_completed")
    assert transcript.text == "Tool results:\n- read: file body"
    assert emulator.counters.exec_requests == 2  # request_context + the tool

    # The tool call is part of the stored turn, result included.
    checkpoint = transcript.checkpoint
    assert checkpoint is not None
    turn = agent.ConversationTurnStructure.FromString(transcript.stored[checkpoint.turns[0]])
    steps = [
        agent.ConversationStep.FromString(transcript.stored[k])
        for k in turn.agent_conversation_turn.steps
    ]
    assert [s.WhichOneof("message") for s in steps] == ["tool_call", "assistant_message"]
    result = steps[0].tool_call.mcp_tool_call.result
    assert result.success.content[0].text.text == "file body"


async def test_parallel_calls_then_a_second_group(client: H2Client) -> None:
    seen_groups: list[list[str]] = []
    pending: list[agent.ExecServerMessage] = []

    def answer(request: agent.ExecServerMessage) -> list[agent.AgentClientMessage]:
        pending.append(request)
        return []

    async def release(message: agent.AgentServerMessage, driver: TurnDriver) -> None:
        # Answer a group only once the server has sent all of its calls (step boundaries).
        if message.interaction_update.WhichOneof("message") != "step_started" and not (
            message.exec_server_message.HasField("mcp_args")
        ):
            return
        expected = {1: 2, 2: 1}.get(len(seen_groups) + 1, 0)
        if len(pending) == expected and expected:
            seen_groups.append([p.mcp_args.tool_name for p in pending])
            for request in pending:
                for reply in mcp_text_answer(f"out-{request.mcp_args.args['n'].hex()}")(request):
                    await driver.send(reply)
            pending.clear()

    text = '/tool read {"n": 1}\n/tool grep {"n": 2}\n/then\n/tool read {"n": 3}\n/reply done'
    driver = TurnDriver(client, context=TOOLS, on_exec=answer, on_message=release)
    transcript = await driver.run(user_request(text))
    assert seen_groups == [["read", "grep"], ["read"]]
    assert transcript.text == "done"
    kinds = transcript.without_heartbeats()
    # The second group is only sent after both results of the first arrived.
    first_completed = kinds.index("update.tool_call_completed")
    assert [i for i, k in enumerate(kinds) if k == "exec.mcp_args"][2] > first_completed


@pytest.mark.parametrize("options", [EmulatorOptions(heartbeat_interval=0.01)])
async def test_held_run_sends_heartbeats_until_the_tool_result(client: H2Client) -> None:
    async def answer_late(message: agent.AgentServerMessage, driver: TurnDriver) -> None:
        if message.interaction_update.WhichOneof("message") == "heartbeat":
            held = [
                m.exec_server_message
                for m in driver.transcript.messages
                if m.exec_server_message.HasField("mcp_args")
            ]
            if driver.transcript.kinds.count("update.heartbeat") == 3:
                for reply in mcp_text_answer("late")(held[0]):
                    await driver.send(reply)

    driver = TurnDriver(client, context=TOOLS, on_message=answer_late)
    transcript = await driver.run(user_request("/tool read {}"))
    assert transcript.text == "Tool results:\n- read: late"
    assert transcript.kinds.count("update.heartbeat") >= 3


async def test_builtin_exec_read_and_shell_stream(client: H2Client) -> None:
    def answer(request: agent.ExecServerMessage) -> list[agent.AgentClientMessage]:
        which = request.WhichOneof("message")
        if which == "read_args":
            result = agent.ReadResult(
                success=agent.ReadSuccess(path=request.read_args.path, content="hello")
            )
            reply = agent.ExecClientMessage(id=request.id, read_result=result)
            return [agent.AgentClientMessage(exec_client_message=reply), stream_close(request.id)]
        assert which == "shell_stream_args"
        assert request.shell_stream_args.command == "echo hi"
        events = [
            agent.ShellStream(start=agent.ShellStreamStart()),
            agent.ShellStream(stdout=agent.ShellStreamStdout(data="hi\n")),
            agent.ShellStream(exit=agent.ShellStreamExit(code=0)),
        ]
        replies = [
            agent.AgentClientMessage(
                exec_client_message=agent.ExecClientMessage(id=request.id, shell_stream=e)
            )
            for e in events
        ]
        return [*replies, stream_close(request.id)]

    text = '/exec read {"path": "a.txt"}\n/exec shell {"command": "echo hi"}'
    transcript = await TurnDriver(client, on_exec=answer).run(user_request(text))
    assert transcript.text == (
        'Tool results:\n- read: success {"content":"hello","path":"a.txt"}\n- shell: exit 0: hi\n'
    )


async def test_exec_throw_is_quoted(client: H2Client) -> None:
    def throw(request: agent.ExecServerMessage) -> list[agent.AgentClientMessage]:
        control = agent.ExecClientControlMessage(
            throw=agent.ExecClientThrow(id=request.id, error="boom")
        )
        return [agent.AgentClientMessage(exec_client_control_message=control)]

    transcript = await TurnDriver(client, context=TOOLS, on_exec=throw).run(
        user_request("/tool read {}")
    )
    assert transcript.text == "Tool results:\n- read: thrown: boom"


async def test_bad_tool_arguments_are_a_script_error(client: H2Client) -> None:
    transcript = await TurnDriver(client).run(user_request("/tool read {not json"))
    assert transcript.text.startswith("Script error: arguments of 'read' are not JSON")
    assert "exec.mcp_args" not in transcript.kinds


async def test_server_dot_tool_resolves_through_the_mcp_descriptors(client: H2Client) -> None:
    """`/tool SERVER.TOOL` names a tool as configured; the call carries its wire names."""
    descriptor = agent.McpDescriptor(
        server_name="my server",
        server_identifier="my_server",
        tools=[agent.McpToolDescriptor(tool_name="weird.name")],
    )
    context = agent.RequestContext(
        tools=[
            agent.McpToolDefinition(
                name="my_server-weird_name", tool_name="weird.name", provider_identifier="my_server"
            )
        ],
        mcp_meta_tool_options=agent.McpMetaToolOptions(enabled=True, mcp_descriptors=[descriptor]),
    )
    driver = TurnDriver(client, context=context, on_exec=mcp_text_answer("ok"))
    transcript = await driver.run(user_request('/tool my server.weird.name {"x": 1}'))
    (request,) = [
        m.exec_server_message.mcp_args
        for m in transcript.messages
        if m.exec_server_message.HasField("mcp_args")
    ]
    assert (request.name, request.tool_name, request.provider_identifier) == (
        "my_server-weird_name",
        "weird.name",
        "my_server",
    )
    assert transcript.text == "Tool results:\n- my server.weird.name: ok"
