"""`ModelCatalog.resolve` answers a name it resolved before from memory, and never a stale
or wrong answer: a refetched catalog or a replaced model map resolve again, and names that
fail keep failing."""

from __future__ import annotations

import json

import pytest
from test_catalog import AVAILABLE, FakeBackend

from cursor_bridge.engine import catalog as catalog_module
from cursor_bridge.engine.catalog import ModelCatalog
from cursor_bridge.engine.errors import InvalidChatRequest, ModelNotFound
from cursor_bridge.engine.model_map import ModelMap
from cursor_bridge.protocol.headers import AVAILABLE_MODELS_PATH


class ChangingBackend(FakeBackend):
    """The catalog of FakeBackend, whose default gpt-5.4 variant the test can move."""

    def __init__(self) -> None:
        super().__init__()
        self.default = "medium"

    async def __call__(
        self, path: str, body: bytes, json_codec: bool
    ) -> tuple[int, bytes, list[tuple[str, str]]]:
        assert path == AVAILABLE_MODELS_PATH
        self.calls.append(path)
        models = json.loads(json.dumps(AVAILABLE))
        for variant in models["models"][0]["variants"]:
            variant["isDefaultNonMaxConfig"] = variant["displayName"] == self.default
        return 200, json.dumps(models).encode(), []


async def test_a_repeated_name_gets_the_same_choice_without_a_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    catalog = ModelCatalog(FakeBackend())
    first = await catalog.resolve("GPT-5.4", "high")
    lookups: list[str] = []
    monkeypatch.setattr(catalog, "_lookup", lambda name, *_: lookups.append(name))
    assert await catalog.resolve("GPT-5.4", "high") is first
    assert lookups == []
    assert first.parameters == (("effort", "high"),)


async def test_a_refetched_catalog_is_resolved_again() -> None:
    backend = ChangingBackend()
    catalog = ModelCatalog(backend, ttl=0.0)
    assert (await catalog.resolve("gpt-5.4")).parameters == (("effort", "medium"),)
    backend.default = "low"
    await catalog.resolve("gpt-5.4")  # stale: starts the background refresh
    assert catalog._refreshing is not None
    await catalog._refreshing
    assert (await catalog.resolve("gpt-5.4")).parameters == (("effort", "low"),)
    assert len(backend.calls) == 2


async def test_a_replaced_model_map_is_resolved_again() -> None:
    catalog = ModelCatalog(FakeBackend())
    assert (await catalog.resolve("composer-1")).model_id == "composer-1"
    catalog.model_map = ModelMap.parse({"composer-1": "gpt-5.4"})
    assert (await catalog.resolve("composer-1")).model_id == "gpt-5.4"


async def test_names_that_fail_keep_failing() -> None:
    catalog = ModelCatalog(FakeBackend())
    for _ in range(2):
        with pytest.raises(ModelNotFound):
            await catalog.resolve("no-such-model")
        with pytest.raises(InvalidChatRequest):
            await catalog.resolve("gpt-5.4", "extreme")


async def test_memory_is_bounded_and_every_name_still_resolves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(catalog_module, "MAX_REMEMBERED_CHOICES", 3)
    catalog = ModelCatalog(FakeBackend())
    names = ["gpt-5.4", "GPT-5.4", "composer-1", "Composer 1", " gpt-5.4 "]
    for _ in range(2):
        assert [(await catalog.resolve(n)).model_id for n in names] == [
            "gpt-5.4",
            "gpt-5.4",
            "composer-1",
            "composer-1",
            "gpt-5.4",
        ]
    assert len(catalog._choices) == 3
