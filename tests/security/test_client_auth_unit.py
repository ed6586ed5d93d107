"""ClientAuth.refusal (server/client_auth.py) on its own: with no key anywhere it answers
without reading the request's key headers; from the first key on, every request needs one,
and a key file that changes counts from the next request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cursor_bridge.server.client_auth import ClientAuth
from cursor_bridge.server.client_keys import ClientKeys, ClientKeyStore

PATH_SCOPE = {"type": "http", "path": "/v1/chat/completions"}


def scope() -> dict[str, Any]:
    return dict(PATH_SCOPE)


def test_the_key_file_counts_from_the_next_request(tmp_path: Path) -> None:
    store = ClientKeyStore(tmp_path / "keys.json")
    auth = ClientAuth(ClientKeys(store))
    assert auth.refusal(scope(), {b"authorization": b"Bearer anything"}) is None
    key, record = store.create("one")
    refused = auth.refusal(scope(), {})
    assert refused is not None and refused.status == 401
    wrong = auth.refusal(scope(), {b"authorization": b"Bearer cbk_wrong"})
    assert wrong is not None and wrong.status == 401 and "Invalid" in wrong.message
    served = scope()
    assert auth.refusal(served, {b"x-api-key": key.encode()}) is None
    assert served["state"]["client_key"].id == record.id
    store.revoke(record.id)
    assert auth.refusal(scope(), {}) is None


def test_keys_from_the_environment_alone_are_required(tmp_path: Path) -> None:
    auth = ClientAuth(ClientKeys(ClientKeyStore(tmp_path / "none.json"), ["cbk_env"]))
    refused = auth.refusal(scope(), {})
    assert refused is not None and refused.status == 401
    assert auth.refusal(scope(), {b"authorization": b"Bearer cbk_env"}) is None


def test_an_unreadable_key_file_refuses_every_request(tmp_path: Path) -> None:
    (tmp_path / "keys.json").write_text("not json")
    auth = ClientAuth(ClientKeys(ClientKeyStore(tmp_path / "keys.json")))
    refused = auth.refusal(scope(), {b"authorization": b"Bearer cbk_any"})
    assert refused is not None and refused.status == 503
    assert auth.refusal({"type": "http", "path": "/health"}, {}) is None
