"""The in-process response store: LRU bound, TTL, delete."""

from __future__ import annotations

from cursor_bridge.engine.request import ChatMessage
from cursor_bridge.server.response_store import ResponseStore

HISTORY = (ChatMessage("user", "hi"), ChatMessage("assistant", "hello"))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_put_get_delete() -> None:
    store = ResponseStore()
    store.put("resp_1", {"id": "resp_1"}, HISTORY)
    entry = store.get("resp_1")
    assert entry is not None and entry.body == {"id": "resp_1"} and entry.history == HISTORY
    assert store.delete("resp_1") is True
    assert store.get("resp_1") is None
    assert store.delete("resp_1") is False


def test_least_recently_used_entries_go_first() -> None:
    store = ResponseStore(max_entries=2)
    store.put("a", {}, ())
    store.put("b", {}, ())
    assert store.get("a") is not None  # a is now the most recently used
    store.put("c", {}, ())
    assert store.get("b") is None
    assert store.get("a") is not None and store.get("c") is not None
    assert len(store) == 2


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    store = ResponseStore(ttl=10, clock=clock)
    store.put("a", {}, ())
    clock.now = 9.9
    assert store.get("a") is not None
    clock.now = 10.0
    assert store.get("a") is None
    assert store.delete("a") is False


def test_expired_entries_are_pruned_on_put() -> None:
    clock = Clock()
    store = ResponseStore(ttl=5, clock=clock)
    store.put("old", {}, ())
    clock.now = 6
    store.put("new", {}, ())
    assert len(store) == 1


def test_a_zero_size_store_keeps_nothing() -> None:
    store = ResponseStore(max_entries=0)
    store.put("a", {}, ())
    assert store.get("a") is None and len(store) == 0
