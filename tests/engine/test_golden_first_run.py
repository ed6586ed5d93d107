"""The golden first Run: what the bridge sends for a fixed conversation, field by field, against
a committed expectation that says why each value is what Cursor's current client sends
(tests/data/protocol/golden-first-run.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from golden_run import UUID, first_run_fields, to_json

EXPECTED = Path(__file__).resolve().parents[1] / "data" / "protocol" / "golden-first-run.json"


def _expected() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXPECTED.read_text(encoding="utf-8"))
    return data


def test_every_field_is_what_the_current_client_sends() -> None:
    actual = to_json(first_run_fields())
    fields = _expected()["fields"]
    unexplained = sorted(set(actual) - set(fields))
    missing = sorted(set(fields) - set(actual))
    assert not unexplained, f"sent but not in the expectation (say why): {unexplained}"
    assert not missing, f"expected but not sent: {missing}"
    wrong = []
    for path, spec in fields.items():
        value = actual[path]
        if "value" in spec and value != spec["value"]:
            wrong.append(f"{path}: {value!r}, expected {spec['value']!r} ({spec['why']})")
        elif spec.get("match") == "uuid4" and not UUID.match(str(value)):
            wrong.append(f"{path}: {value!r} is not a UUID")
        elif "same_as" in spec and value != actual[spec["same_as"]]:
            wrong.append(f"{path}: {value!r} differs from {spec['same_as']}")
    assert not wrong, "\n".join(wrong)


def test_every_expectation_says_why_citing_the_facts() -> None:
    for path, spec in _expected()["fields"].items():
        why = spec.get("why", "")
        assert "§" in why or "deviation" in why, f"{path}: no reason citing current-client.md"
        assert len({"value", "match", "same_as"} & set(spec)) == 1, path


def test_the_history_is_in_the_root_prompt_not_only_in_turns() -> None:
    """§1 #2: with history only in `turns` the model forgets the conversation."""
    actual = first_run_fields()
    texts = [v for k, v in actual.items() if ".blob_json.content" in k and k.endswith(".text")]
    joined = "\n".join(str(t) for t in texts)
    for said in (
        "Weather in Oslo?",
        "Let me check.",
        "It is sunny and 21 C in Oslo.",
        "And in Bergen?",
        "Rainy, 12 C.",
    ):
        assert said in joined
    results = [v for k, v in actual.items() if k.endswith(".blob_json.content[0].result")]
    assert results == ["Sunny, 21 C"]
    # The live question is the action, not a root entry.
    assert "Which city is warmer?" not in joined
