"""Schemathesis against the server's own OpenAPI document: no generated request gets a 5xx.

Every operation of src/cursor_bridge/server/openapi.json is called with bodies generated
from (and deliberately outside) its schema, over real HTTP against the bridge on the
emulator. Half of the generated bodies keep a real model name, so the turn code runs too,
not only validation. Examples per operation are bounded to keep the suite fast.
"""

from __future__ import annotations

import json

import hypothesis
import schemathesis
from schemathesis.checks import not_a_server_error

from cursor_bridge.server.openapi import document
from tests.conftest import Stack

EXAMPLES_PER_OPERATION = 20
CALLS: list[int] = []

schema = schemathesis.openapi.from_dict(json.loads(document()))
# Bodies that follow the schema and bodies that break it (wrong types, missing fields).
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
    allow_x00=True,
)


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
)
def test_no_request_gets_a_server_error(case: schemathesis.Case, stack: Stack) -> None:
    if isinstance(case.body, dict) and "model" in case.body and len(CALLS) % 2 == 0:
        case.body["model"] = "gpt-5.4"
    CALLS.append(1)
    response = case.call(base_url=stack.bridge_url, timeout=30)
    case.validate_response(response, checks=[not_a_server_error])


def test_the_document_describes_every_route(stack: Stack) -> None:
    from starlette.routing import Route

    from cursor_bridge.server.app import create_app

    app = create_app(stack.backend)
    served = {
        (route.path.replace("{model_id:path}", "{model_id}"), method.lower())
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    paths = json.loads(document())["paths"]
    described = {
        (path, method) for path, item in paths.items() for method in item if method != "parameters"
    }
    assert served == described
