"""Structured output (JSON mode, JSON schema): the rule the model is given, and the check of
its answer with a JSON-schema validator (pure, no I/O).

Cursor's agent protocol has no response-format field, so the format travels as a rule in
the RequestContext (beside the system prompt) and the answer is validated here; the engine
(engine/enforce.py) asks once more when it fails and otherwise reports a clear error, never
silently invalid JSON.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError, ValidationError

from .request import OutputFormat

JSON_OBJECT_RULE = (
    "Respond with only a JSON object: no prose, no Markdown code fences, nothing before or "
    "after it."
)
JSON_SCHEMA_RULE = (
    "Respond with only a JSON value that matches this JSON schema (no prose, no Markdown code "
    "fences, nothing before or after it):\n"
)


def format_rule(output: OutputFormat | None) -> str:
    """The instruction for the model ('' without a structured format)."""
    if output is None:
        return ""
    if output.kind == "json_object" or output.schema is None:
        return JSON_OBJECT_RULE
    schema = json.dumps(output.schema, separators=(",", ":"), sort_keys=True)
    return JSON_SCHEMA_RULE + schema


def schema_problem(schema: dict[str, Any]) -> str | None:
    """Why a client's schema is not a usable JSON schema (None when it is)."""
    try:
        validator = jsonschema.validators.validator_for(schema)
        validator.check_schema(schema)
    except SchemaError as exc:
        return exc.message
    return None


def answer_problem(output: OutputFormat, text: str) -> str | None:
    """Why the answer does not satisfy the format (None when it does)."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"the answer is not valid JSON ({exc})"
    if output.kind == "json_object" or output.schema is None:
        return None if isinstance(value, dict) else "the answer is not a JSON object"
    try:
        jsonschema.validate(value, output.schema)
    except ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        return f"the answer does not match the schema at {where}: {exc.message}"
    except SchemaError as exc:  # checked when parsed; kept as a guard
        return f"the schema is not valid: {exc.message}"
    return None


def correction(problem: str) -> str:
    """The follow-up message that asks the model to correct a failing answer."""
    return (
        f"Your previous answer cannot be used: {problem}. Answer again following the required "
        "format exactly."
    )
