"""Model catalog: AvailableModels parsing, GetUsableModels fallback, resolution, caching."""

from __future__ import annotations

import json

import pytest

from cursor_bridge.engine.catalog import ModelCatalog
from cursor_bridge.engine.errors import InvalidChatRequest, ModelNotFound
from cursor_bridge.protocol.errors import ConnectError
from cursor_bridge.protocol.headers import AVAILABLE_MODELS_PATH, GET_USABLE_MODELS_PATH
from cursor_bridge.protocol.messages import agent

Headers = list[tuple[str, str]]

AVAILABLE = {
    "models": [
        {
            "name": "gpt-5.4",
            "clientDisplayName": "GPT-5.4",
            "supportsThinking": True,
            "supportsImages": True,
            "supportsAgent": True,
            "contextTokenLimit": 272000,
            "someFutureField": {"x": 1},
            "variants": [
                {"displayName": "low", "parameterValues": [{"id": "effort", "value": "low"}]},
                {
                    "displayName": "medium",
                    "isDefaultNonMaxConfig": True,
                    "parameterValues": [{"id": "effort", "value": "medium"}],
                },
                {
                    "displayName": "high fast",
                    "parameterValues": [
                        {"id": "effort", "value": "high"},
                        {"id": "fast", "value": "true"},
                    ],
                },
                {"displayName": "high", "parameterValues": [{"id": "effort", "value": "high"}]},
            ],
        },
        {"name": "composer-1", "clientDisplayName": "Composer 1", "supportsAgent": True},
    ]
}


class FakeBackend:
    def __init__(self, available_status: int = 200) -> None:
        self.calls: list[str] = []
        self.available_status = available_status

    async def __call__(
        self, path: str, body: bytes, json_codec: bool
    ) -> tuple[int, bytes, Headers]:
        self.calls.append(path)
        if path == AVAILABLE_MODELS_PATH:
            assert json_codec and json.loads(body)["useModelParameters"] is True
            if self.available_status != 200:
                return self.available_status, b'{"code":"unimplemented","message":"nope"}', []
            return 200, json.dumps(AVAILABLE).encode(), []
        assert path == GET_USABLE_MODELS_PATH and not json_codec
        details = agent.ModelDetails(
            model_id="claude-4.6-sonnet", display_model_id="sonnet-4.6", aliases=["sonnet"]
        )
        details.thinking_details.SetInParent()
        return 200, agent.GetUsableModelsResponse(models=[details]).SerializeToString(), []


async def test_available_models_are_parsed_with_variants() -> None:
    catalog = ModelCatalog(FakeBackend())
    models = {m.id: m for m in await catalog.models()}
    gpt = models["gpt-5.4"]
    assert gpt.context_window == 272000 and gpt.supports_thinking and gpt.supports_images
    assert gpt.efforts == ("high", "low", "medium")
    assert models["composer-1"].context_window == 200_000


async def test_effort_selects_the_plain_variant_and_default_is_non_max() -> None:
    catalog = ModelCatalog(FakeBackend())
    assert (await catalog.resolve("gpt-5.4", "high")).parameters == (("effort", "high"),)
    assert (await catalog.resolve("GPT-5.4")).parameters == (("effort", "medium"),)
    with pytest.raises(InvalidChatRequest, match="low, medium"):
        await catalog.resolve("gpt-5.4", "extreme")


async def test_auto_maps_to_default() -> None:
    catalog = ModelCatalog(FakeBackend())
    assert (await catalog.resolve("auto")).model_id == "default"


async def test_unknown_model_suggests_close_names() -> None:
    catalog = ModelCatalog(FakeBackend())
    with pytest.raises(ModelNotFound) as info:
        await catalog.resolve("gpt-5.5")
    assert "gpt-5.4" in info.value.suggestions


async def test_falls_back_to_get_usable_models_and_resolves_aliases() -> None:
    backend = FakeBackend(available_status=404)
    catalog = ModelCatalog(backend)
    choice = await catalog.resolve("sonnet")
    assert choice.model_id == "claude-4.6-sonnet" and choice.model.supports_thinking
    assert backend.calls == [AVAILABLE_MODELS_PATH, GET_USABLE_MODELS_PATH]


async def test_catalog_is_cached_within_ttl() -> None:
    backend = FakeBackend()
    catalog = ModelCatalog(backend, ttl=3600)
    await catalog.models()
    await catalog.resolve("gpt-5.4")
    assert backend.calls == [AVAILABLE_MODELS_PATH]


async def test_failure_with_no_cache_raises_connect_error() -> None:
    async def down(path: str, body: bytes, json_codec: bool) -> tuple[int, bytes, Headers]:
        return 503, b"", []

    with pytest.raises(ConnectError):
        await ModelCatalog(down).models()


async def test_a_429_without_a_body_is_a_rate_limit_with_its_retry_after() -> None:
    """The catalog reads an HTTP error answer the way a Run does (one mapping): a bare 429
    is `resource_exhausted`, not `unknown`, and keeps the backend's retry-after."""

    async def limited(path: str, body: bytes, json_codec: bool) -> tuple[int, bytes, Headers]:
        return 429, b"", [("retry-after", "7")]

    with pytest.raises(ConnectError) as caught:
        await ModelCatalog(limited).models()
    assert caught.value.code == "resource_exhausted"
    assert caught.value.retry_after == 7 and caught.value.http_status == 429
