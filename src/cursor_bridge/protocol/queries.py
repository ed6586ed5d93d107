"""Typed answers to the backend's interaction queries (current-client.md §4).

The backend asks a question meant for a human UI (`interaction_query`) and waits for an
`interaction_response` whose result uses the **same field number** as the query, with a decision
inside (approved / rejected / success / error...). An empty or wrong-shaped reply is no
decision: the backend keeps sending heartbeats and the turn never moves on (§1 #1). So every
kind gets a well-formed reply, and every refusal carries a reason the model can act on.

A proxy has no UI, so the decisions are fixed:

- web search (2), exa search (5) / fetch (6), web fetch (9): rejected. The bridge has no web
  access of its own; O and P reject.
- ask question (3): rejected, with a reason telling the model to ask in its answer text. This
  routes the question to the client as text: the user reads it in the answer and answers it
  in the next message. (A synchronous answer needs a UI: P answers error, O holds the query
  open for its UI; neither fits a stateless API request.)
- switch mode (4): rejected; the client chose the mode (O and P reject without a host tool).
- create plan (7): error with plan_uri "" (P's reply): nowhere to save a plan, so the reason
  tells the model to write the plan out.
- setup VM (8): success; O and P both approve (nothing to do for a client).
- PR management (10): rejected, which is field 3 there (O).
- MCP auth (11), connect SCM (14): rejected (O).
- generate image (12): rejected; the bridge cannot save images for the client.
- replace env (13): failure with setup_logs "" (O).

A kind newer than our schema gets `{N: {2: {1: reason}}}`: the query's field number holding a
`rejected{reason}` at field 2, the shape of nearly every known response. (inferred: only the
shape of the known kinds supports it; `unknown_kind_reply` is the one place to change.)
"""

from __future__ import annotations

from dataclasses import dataclass

from .messages import agent
from .wire import WIRE_LEN, len_field, top_level_fields

NO_WEB = (
    "Web access is not available through this API. Answer from what you know or from the "
    "tools you were given, and say so if you cannot verify something."
)
ASK_IN_TEXT = (
    "Interactive questions are not available through this API. Ask the user your question "
    "in your reply text instead; the user's next message will answer it."
)
NO_MODE_SWITCH = "Switching modes is not available through this API. Continue in the current mode."
NO_PLAN_FILE = (
    "Plans cannot be saved through this API. Write the plan out in your reply text instead."
)
NO_UI = (
    "This interaction needs a user interface, which is not available through this API. "
    "Continue without it, and tell the user what they would need to do themselves."
)
NO_IMAGES = (
    "Images cannot be generated or saved through this API. Describe the image in text instead."
)
NO_ENV = "Replacing the environment is not available through this API."


@dataclass(frozen=True, slots=True)
class QueryAnswer:
    """The reply frame's AgentClientMessage bytes, the query kind and the decision sent."""

    message: bytes
    kind: str
    decision: str


def answer_query(query: agent.InteractionQuery, raw_query: bytes) -> QueryAnswer:
    """The typed reply to one query (`raw_query`: its bytes, for kinds newer than our schema)."""
    response = agent.InteractionResponse(id=query.id)
    kind = query.WhichOneof("query")
    decision = "rejected"
    if kind == "web_search_request_query":
        response.web_search_request_response.rejected.reason = NO_WEB
    elif kind == "ask_question_interaction_query":
        response.ask_question_interaction_response.result.rejected.reason = ASK_IN_TEXT
    elif kind == "switch_mode_request_query":
        response.switch_mode_request_response.rejected.reason = NO_MODE_SWITCH
    elif kind == "exa_search_request_query":
        response.exa_search_request_response.rejected.reason = NO_WEB
    elif kind == "exa_fetch_request_query":
        response.exa_fetch_request_response.rejected.reason = NO_WEB
    elif kind == "create_plan_request_query":
        result = response.create_plan_request_response.result
        result.error.error = NO_PLAN_FILE
        result.plan_uri = ""
        decision = "error"
    elif kind == "setup_vm_environment_args":
        response.setup_vm_environment_result.success.SetInParent()
        decision = "success"
    elif kind == "web_fetch_request_query":
        response.web_fetch_request_response.rejected.reason = NO_WEB
    elif kind == "pr_management_request_query":
        response.pr_management_result.rejected.reason = NO_UI
    elif kind == "mcp_auth_request_query":
        response.mcp_auth_request_response.rejected.reason = NO_UI
    elif kind == "generate_image_request_query":
        response.generate_image_request_response.rejected.reason = NO_IMAGES
    elif kind == "replace_env_args":
        failure = response.replace_env_result.failure
        failure.error_message = NO_ENV
        failure.setup_logs = ""
        decision = "failure"
    elif kind == "connect_scm_request_query":
        response.connect_scm_request_response.rejected.reason = NO_UI
    else:
        number = unknown_kind_number(raw_query)
        message = unknown_kind_reply(query.id, number, NO_UI)
        return QueryAnswer(message, f"unknown_{number}", "rejected")
    message = agent.AgentClientMessage(interaction_response=response).SerializeToString()
    return QueryAnswer(message, kind, decision)


def unknown_kind_number(raw_query: bytes) -> int:
    """The field number of a query kind our schema lacks (0 when the query carries none)."""
    for number, wire_type, _ in top_level_fields(raw_query):
        if number != 1 and wire_type == WIRE_LEN:
            return number
    return 0


def unknown_kind_reply(query_id: int, number: int, reason: str) -> bytes:
    """(inferred) `{id, N: {rejected(2): {reason(1)}}}` as an AgentClientMessage."""
    response = agent.InteractionResponse(id=query_id).SerializeToString()
    if number > 0:
        response += len_field(number, len_field(2, len_field(1, reason.encode())))
    return len_field(_INTERACTION_RESPONSE_FIELD, response)


_INTERACTION_RESPONSE_FIELD = agent.AgentClientMessage.DESCRIPTOR.fields_by_name[
    "interaction_response"
].number
