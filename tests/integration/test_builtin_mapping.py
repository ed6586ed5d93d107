"""Cursor's built-in execs through the bridge with an OpenCode-shaped tool list.

The emulator's `/exec KIND` lines send built-in exec requests (read, grep, shell ...). The
bridge maps each onto the client's own tool (OpenCode's `read{filePath}`, `grep`, `bash`),
returns them as ordinary tool calls, and turns the client's text results back into the typed
results the backend expects, which the scripted model quotes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai import OpenAI

from tests.conftest import Stack

MODEL = "claude-4.6-sonnet"


def _tool(name: str, **props: Any) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"OpenCode {name}",
            "parameters": {"type": "object", "properties": props},
        },
    }


S = {"type": "string"}
TOOLS = [
    _tool("bash", command=S, timeout={"type": "number"}, workdir=S, description=S),
    _tool("read", filePath=S, offset={"type": "number"}, limit={"type": "number"}),
    _tool("grep", pattern=S, path=S, include=S),
    _tool("glob", pattern=S, path=S),
    _tool("write", filePath=S, content=S),
]
# What OpenCode's tools print (see tests/engine/client_tools.py for the sources).
OUTPUTS = {
    "read": "<path>/w/app.py</path>\n<type>file</type>\n<content>\n1: print('hi')\n\n(End of file - total 1 lines)\n</content>",
    "grep": "Found 1 matches\n/w/app.py:\n  Line 1: print('hi')",
    "bash": "hi\n",
}


@pytest.fixture
def client(stack: Stack) -> OpenAI:
    return OpenAI(base_url=stack.bridge_url + "/v1", api_key="x", max_retries=0, timeout=20)


def test_builtins_become_client_tool_calls_and_typed_results(client: OpenAI, stack: Stack) -> None:
    runs = stack.counters.runs_opened
    script = "\n".join(
        [
            '/exec read {"path": "/w/app.py"}',
            '/exec grep {"pattern": "print", "path": "/w"}',
            '/exec shell {"command": "python app.py", "workingDirectory": "/w"}',
        ]
    )
    messages: list[dict[str, Any]] = [{"role": "user", "content": script}]
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("read", {"filePath": "/w/app.py"}),
        ("grep", {"pattern": "print", "path": "/w"}),
        (
            "bash",
            {
                "command": "python app.py",
                "workdir": "/w",
                "timeout": 30000,
                "description": "Run python app.py",
            },
        ),
    ]
    messages.append(
        {
            "role": "assistant",
            "content": choice.message.content,
            "tool_calls": [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.function.name, "arguments": c.function.arguments},
                }
                for c in calls
            ],
        }
    )
    for call in calls:
        messages.append(
            {"role": "tool", "tool_call_id": call.id, "content": OUTPUTS[call.function.name]}
        )
    second = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    text = second.choices[0].message.content or ""
    lines = text.split("\n")
    assert lines[0] == "Tool results:"
    read = json.loads(lines[1].removeprefix("- read: success "))
    assert read["content"] == "print('hi')" and read["totalLines"] == 1
    grep = json.loads(lines[2].removeprefix("- grep: success "))
    (found,) = grep["workspaceResults"].values()
    assert found["content"]["matches"] == [
        {"file": "/w/app.py", "matches": [{"lineNumber": 1, "content": "print('hi')"}]}
    ]
    assert lines[3] == "- shell: exit 0: hi"
    assert stack.counters.runs_opened == runs + 1  # the Run was held open, not replayed
