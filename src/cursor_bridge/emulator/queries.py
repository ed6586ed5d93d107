"""Interaction queries the emulated backend raises (`/query`), and what counts as an answer.

Every kind of current-client.md §4 can be sent, plus `unknown` (a field number no schema
knows). A reply counts only when it has the query's id and a **decision of the right type at
the query's field number** (approved / rejected / success / error ...). An empty or
wrong-shaped reply is no decision: as the real backend is reported to do, the Run then keeps
waiting and sending heartbeats (the client sees a turn that never moves on).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from ..protocol.messages import agent
from ..protocol.wire import WIRE_LEN, len_field, top_level_fields

# The field number an unknown query kind uses (none of the known ones).
UNKNOWN_QUERY_FIELD = 20


def _web_search() -> Message:
    return agent.WebSearchRequestQuery(args=agent.WebSearchArgs(search_term="cursor-bridge"))


def _ask_question() -> Message:
    question = agent.AskQuestionArgs_Question(
        id="q1",
        prompt="Which language?",
        options=[
            agent.AskQuestionArgs_Option(id="py", label="Python"),
            agent.AskQuestionArgs_Option(id="go", label="Go"),
        ],
    )
    return agent.AskQuestionInteractionQuery(
        args=agent.AskQuestionArgs(title="A question", questions=[question]), tool_call_id="ask-1"
    )


def _switch_mode() -> Message:
    return agent.SwitchModeRequestQuery(args=agent.SwitchModeArgs(target_mode_id="plan"))


def _exa_search() -> Message:
    return agent.ExaSearchRequestQuery(args=agent.ExaSearchArgs(query="cursor", num_results=3))


def _exa_fetch() -> Message:
    return agent.ExaFetchRequestQuery(args=agent.ExaFetchArgs(ids=["https://example.com"]))


def _create_plan() -> Message:
    return agent.CreatePlanRequestQuery(
        args=agent.CreatePlanArgs(plan="1. do it", name="plan"), tool_call_id="plan-1"
    )


def _setup_vm() -> Message:
    return agent.SetupVmEnvironmentArgs(install_command="true", start_command="true")


def _generate_image() -> Message:
    return agent.GenerateImageRequestQuery(
        args=agent.GenerateImageArgs(description="a cat", file_path="cat.png"),
        tool_call_id="img-1",
    )


# Directive word -> (InteractionQuery field, how to build its body).
QUERY_KINDS: dict[str, tuple[str, Callable[[], Message]]] = {
    "web-search": ("web_search_request_query", _web_search),
    "ask-question": ("ask_question_interaction_query", _ask_question),
    "switch-mode": ("switch_mode_request_query", _switch_mode),
    "exa-search": ("exa_search_request_query", _exa_search),
    "exa-fetch": ("exa_fetch_request_query", _exa_fetch),
    "create-plan": ("create_plan_request_query", _create_plan),
    "setup-vm": ("setup_vm_environment_args", _setup_vm),
    "web-fetch": ("web_fetch_request_query", agent.WebFetchRequestQuery),
    "pr-management": ("pr_management_request_query", agent.PrManagementRequestQuery),
    "mcp-auth": ("mcp_auth_request_query", agent.McpAuthRequestQuery),
    "generate-image": ("generate_image_request_query", _generate_image),
    "replace-env": ("replace_env_args", agent.ReplaceEnvArgs),
    "connect-scm": ("connect_scm_request_query", agent.ConnectScmRequestQuery),
}
ALL_QUERY_WORDS = (*QUERY_KINDS, "unknown")


def query_message(word: str, query_id: int) -> tuple[bytes, int]:
    """The AgentServerMessage bytes of one query, and the query's field number."""
    if word == "unknown":
        body = agent.InteractionQuery(id=query_id).SerializeToString()
        body += len_field(UNKNOWN_QUERY_FIELD, len_field(1, b"a kind from the future"))
        number = UNKNOWN_QUERY_FIELD
    else:
        field, build = QUERY_KINDS[word]
        query = agent.InteractionQuery(id=query_id)
        getattr(query, field).CopyFrom(build())
        body = query.SerializeToString()
        number = agent.InteractionQuery.DESCRIPTOR.fields_by_name[field].number
    server_field = agent.AgentServerMessage.DESCRIPTOR.fields_by_name["interaction_query"].number
    return len_field(server_field, body), number


def decision(raw_response: bytes, query_id: int, number: int) -> str | None:
    """What a raw InteractionResponse decided for the query (None: no valid decision).

    Valid: same id, a message at the query's field number, and inside it a decision: the set
    member of its oneof (one level down for `{result: {...}}` wrappers).
    """
    try:
        response = agent.InteractionResponse.FromString(raw_response)
    except DecodeError:
        return None
    if response.id != query_id:
        return None
    field = agent.InteractionResponse.DESCRIPTOR.fields_by_number.get(number)
    if field is None:
        return _unknown_decision(raw_response, number)
    if response.WhichOneof("result") != field.name:
        return None
    return _decided(getattr(response, field.name))


def _decided(message: Message) -> str | None:
    for oneof in message.DESCRIPTOR.oneofs:
        case = message.WhichOneof(oneof.name)
        if case is not None:
            detail = json_format.MessageToDict(message, preserving_proto_field_name=True)
            return f"{case} {json.dumps(detail, separators=(',', ':'), sort_keys=True)}"
    inner = message.DESCRIPTOR.fields_by_name.get("result")
    if inner is not None and inner.message_type is not None and message.HasField("result"):
        return _decided(getattr(message, "result"))  # noqa: B009
    return None


def _unknown_decision(raw_response: bytes, number: int) -> str | None:
    """A kind no schema knows: a non-empty message at its number is the best check we have."""
    for found, wire_type, value in top_level_fields(raw_response):
        if found == number and wire_type == WIRE_LEN and value:
            for case, case_type, body in top_level_fields(value):
                if case == 2 and case_type == WIRE_LEN:  # rejected{reason}, the common shape
                    reason = b"".join(v for n, t, v in top_level_fields(body) if n == 1)
                    return f"rejected {{'reason':{reason.decode(errors='replace')!r}}}"
            return f"field {number}: {value.hex()}"
    return None
