"""Canonical forms are remembered by message value: the same bytes as encoding afresh,
whatever object carries the message, and the memory they take stays bounded."""

from __future__ import annotations

import pytest

from cursor_bridge.engine import fingerprint
from cursor_bridge.engine.request import ChatMessage, ImageInput, ToolCallRecord


def _history(round_number: int) -> list[ChatMessage]:
    """A tool loop's history as a client re-sends it: new objects every round."""
    messages = [ChatMessage("user", " read the files ")]
    for i in range(round_number):
        call = ToolCallRecord(f"c{i}", "read", f'{{"path": "f{i}", "n": 1}}')
        messages.append(ChatMessage("assistant", "", tool_calls=(call,)))
        messages.append(ChatMessage("tool", "x" * 100 + str(i), tool_call_id=f"c{i}"))
    return messages


def test_remembered_forms_equal_fresh_ones_and_chains_do_not_change() -> None:
    first = fingerprint.chain(_history(5))
    fresh = [fingerprint._encode(m) for m in _history(5)]
    assert [fingerprint.canonical(m) for m in _history(5)] == fresh
    assert fingerprint.chain(_history(5)) == first
    # A changed message is a different key: its own form, and a different chain.
    edited = _history(5)
    edited[2] = ChatMessage("tool", "changed", tool_call_id="c0")
    assert fingerprint.canonical(edited[2]) == fingerprint._encode(edited[2])
    assert fingerprint.chain(edited)[3] != first[3]
    assert fingerprint.chain(edited)[:3] == first[:3]


def test_the_cache_keeps_at_most_its_byte_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fingerprint, "_CANONICAL", type(fingerprint._CANONICAL)())
    monkeypatch.setattr(fingerprint, "_canonical_bytes", 0)
    monkeypatch.setattr(fingerprint, "_CANONICAL_MAX_BYTES", 2000)
    for i in range(100):
        call = ToolCallRecord(f"c{i}", "read", '{"path": "' + "y" * 200 + '"}')
        fingerprint.canonical(ChatMessage("assistant", f"message {i}", tool_calls=(call,)))
    kept = sum(len(form) for form in fingerprint._CANONICAL.values())
    assert kept == fingerprint._canonical_bytes <= 2000
    assert 0 < len(fingerprint._CANONICAL) < 100


def test_plain_messages_are_written_afresh_and_not_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fingerprint, "_CANONICAL", type(fingerprint._CANONICAL)())
    plain = [
        ChatMessage("user", " hi "),
        ChatMessage("system", "be brief"),
        ChatMessage("assistant", "ok", reasoning="r"),
    ]
    for message in plain:
        assert fingerprint.canonical(message) == fingerprint._encode(message)
    assert len(fingerprint._CANONICAL) == 0
    # Anything else is remembered (its form costs more than a lookup).
    rich = [
        ChatMessage("tool", "done", tool_call_id="c1"),
        ChatMessage("assistant", "", tool_calls=(ToolCallRecord("c1", "read", '{"b":1}'),)),
        ChatMessage("user", "look", images=(ImageInput("image/png", b"x"),)),
    ]
    for message in rich:
        assert fingerprint.canonical(message) == fingerprint._encode(message)
    assert list(fingerprint._CANONICAL) == rich


def test_a_history_continuing_known_objects_chains_as_a_fresh_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history = _history(4)
    first = fingerprint.chain(history)
    longer = [*history, *_history(5)[-2:]]  # the same objects, then a round's new messages
    hashed: list[ChatMessage] = []
    extend = fingerprint.extend
    monkeypatch.setattr(
        fingerprint, "extend", lambda known, m: hashed.append(m) or extend(known, m)
    )
    continued = fingerprint.chain(longer)
    assert hashed == longer[-2:]  # only the new messages
    second = extend(first[-1], longer[-2])
    assert (
        continued == fingerprint.chain(_history(5)) == [*first, second, extend(second, longer[-1])]
    )
    # Another start, or an edited earlier message, is not continued.
    assert fingerprint.chain(longer, "other")[1] != first[1]
    edited = [*longer]
    edited[1] = ChatMessage("assistant", "edited")
    assert fingerprint.chain(edited)[2:] != fingerprint.chain(longer)[2:]


def test_kept_chains_stay_within_their_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    chains = fingerprint._Chains()
    monkeypatch.setattr(fingerprint, "_CHAINS", chains)
    monkeypatch.setattr(fingerprint, "_CHAINS_MAX_SIZE", 5000)
    for i in range(50):
        first = ChatMessage("user", f"conversation {i} " + "y" * 300)
        fingerprint.chain([first, ChatMessage("assistant", "ok")])
    assert chains._size == sum(kept[3] for kept in chains._kept.values()) <= 5000
    assert 0 < len(chains._kept) < 50


def test_a_one_message_history_chains_as_any_other_without_being_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new conversation's one message skips the kept chains: its chain is still the
    first two fingerprints of any history it starts, for any start."""
    chains = fingerprint._Chains()
    monkeypatch.setattr(fingerprint, "_CHAINS", chains)
    only = ChatMessage("user", " hello ")
    longer = fingerprint.chain([only, ChatMessage("assistant", "hi")])
    kept = len(chains._kept)
    assert fingerprint.chain([only]) == longer[:2]
    assert fingerprint.chain((only,), "other") == [
        "other",
        fingerprint.chain([only, ChatMessage("assistant", "hi")], "other")[1],
    ]
    assert fingerprint.chain([only], "other")[1] != longer[1]
    assert len(chains._kept) == kept  # nothing kept for one message
    assert fingerprint.chain([ChatMessage("user", "hello")]) == longer[:2]  # canonical: trimmed
    assert fingerprint.chain([ChatMessage("user", "hellO")]) != longer[:2]
    assert fingerprint.chain([]) == [fingerprint.EMPTY]


def test_fingerprints_are_those_of_earlier_versions() -> None:
    """Checkpoints are filed under fingerprints that outlive the process: a history's chain
    may never change (this value was computed by the version before the plain-message
    fast path)."""
    history = [
        ChatMessage("system", " Be brief. "),
        ChatMessage("user", 'h\u00e9llo "q" \\ \n\t\x01 \U0001f600'),
        ChatMessage("assistant", "hi", reasoning="r"),
        ChatMessage("assistant", "", tool_calls=(ToolCallRecord("c1", "read", '{"b":1, "a":2}'),)),
        ChatMessage("tool", "ok", tool_call_id="c1"),
        ChatMessage("user", "again"),
    ]
    expected = "aa35b3a1c7567996ca26bfa3eb7aed41587e599d84d3dac139415943cbd16fbc"
    assert fingerprint.chain(history)[-1] == expected
    # And a one-message history's (the path that skips the kept chains).
    one = "362be7c284bd3e0344f0ebb1910a69b5158bc57777191294e1608d3d0e5feebf"
    assert fingerprint.chain(history[1:2]) == [fingerprint.EMPTY, one]


@pytest.mark.parametrize("seed", range(5))
def test_plain_messages_encode_as_json_dumps_of_role_and_text(seed: int) -> None:
    """The plain-message fast path writes exactly the general path's JSON."""
    import json
    import random

    rng = random.Random(seed)
    alphabet = ['"', "\\", "\n", "\t", "\x00", "\x1f", "\x7f", "é", "\u2028", "😀", "a", " ", "/"]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(20)))
        role = rng.choice(["system", "user", "assistant"])
        message = ChatMessage(role, text, reasoning=rng.choice(["", "thought"]))  # type: ignore[arg-type]
        body = {"role": role, "text": text.strip()}
        assert (
            fingerprint._encode(message)
            == json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        )


@pytest.mark.parametrize(
    "text",
    ["", "  plain answer \n", 'quotes " and \\ backslash', "ünïcödé ✓ 😀", "tab\there\nnew", " "],
)
def test_extend_answer_is_extend_with_an_assistant_message(text: str) -> None:
    """The turn-end shortcut files checkpoints under the very fingerprint the next request's
    chain gives the answer (surrounding whitespace dropped, JSON escapes as json.dumps)."""
    start = fingerprint.chain([ChatMessage("user", "hi")])[-1]
    shortcut = fingerprint.extend_answer(start, text)
    assert shortcut == fingerprint.extend(start, ChatMessage("assistant", text))
