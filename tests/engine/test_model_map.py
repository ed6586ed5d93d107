"""Model-name mapping: Claude names onto Cursor's catalog, and the user's CURSOR_BRIDGE_MODEL_MAP."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from click.testing import CliRunner
from google.protobuf import json_format

from cursor_bridge.cli import main
from cursor_bridge.config import Settings
from cursor_bridge.emulator.catalog import DEFAULT_MODELS, Catalog, CatalogModel
from cursor_bridge.engine.catalog import ModelCatalog
from cursor_bridge.engine.errors import ModelNotFound
from cursor_bridge.engine.model_map import ModelMap
from cursor_bridge.protocol.headers import AVAILABLE_MODELS_PATH

Headers = list[tuple[str, str]]


def catalog_of(models: Sequence[CatalogModel], model_map: ModelMap | None = None) -> ModelCatalog:
    """An engine catalog fed the emulator catalog's AvailableModels answer."""
    body = json_format.MessageToJson(Catalog(models).available_models()).encode()

    async def call(path: str, request: bytes, json_codec: bool) -> tuple[int, bytes, Headers]:
        assert path == AVAILABLE_MODELS_PATH
        return 200, body, []

    return ModelCatalog(call, model_map=model_map or ModelMap())


def model(model_id: str) -> CatalogModel:
    return CatalogModel(model_id=model_id, display_name=model_id, context_tokens=200_000)


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("claude-opus-5-5", "claude-4.6-opus"),
        ("claude-opus-4-1-20250805", "claude-4.6-opus"),
        ("claude-sonnet-4-5-20250929", "claude-4.6-sonnet"),
        ("claude-3-5-sonnet-20241022", "claude-4.6-sonnet"),
        ("CLAUDE-SONNET-4-6", "claude-4.6-sonnet"),
        ("opus", "claude-4.6-opus"),
        ("claude-haiku-4-5", "composer-1"),  # no Claude Haiku in the catalog: the fast model
        ("claude-4.6-sonnet", "claude-4.6-sonnet"),  # catalog names are untouched
    ],
)
async def test_claude_names_map_onto_the_emulator_catalog(requested: str, expected: str) -> None:
    choice = await catalog_of(DEFAULT_MODELS).resolve(requested)
    assert choice.model_id == expected


async def test_the_matching_version_wins_then_the_newest() -> None:
    catalog = catalog_of(
        [
            model("claude-4.5-sonnet"),
            model("claude-4.6-sonnet"),
            model("claude-4.6-sonnet-thinking"),
        ]
    )
    assert (await catalog.resolve("claude-sonnet-4-5-20250929")).model_id == "claude-4.5-sonnet"
    assert (await catalog.resolve("claude-sonnet-4-6")).model_id == "claude-4.6-sonnet"
    assert (await catalog.resolve("claude-sonnet-5")).model_id == "claude-4.6-sonnet"


async def test_haiku_prefers_a_claude_haiku_and_missing_families_get_default() -> None:
    with_haiku = catalog_of([model("claude-4.5-haiku"), model("composer-1"), model("default")])
    assert (await with_haiku.resolve("claude-haiku-4-5")).model_id == "claude-4.5-haiku"
    assert (await with_haiku.resolve("claude-opus-5-5")).model_id == "default"
    only_gpt = catalog_of([model("gpt-5.4")])
    assert (await only_gpt.resolve("claude-haiku-4-5")).model_id == "default"


@pytest.mark.parametrize("requested", ["claude-4.6-sonet", "gpt-9", "claudius"])
async def test_names_without_a_family_stay_unknown(requested: str) -> None:
    with pytest.raises(ModelNotFound):
        await catalog_of(DEFAULT_MODELS).resolve(requested)


async def test_user_map_comes_first_and_the_effort_follows_the_target() -> None:
    model_map = ModelMap.parse(
        {"claude-opus-*": "gpt-5.4", "CLAUDE-*": "gemini-3.1-pro", "composer-1": "auto"}
    )
    catalog = catalog_of(DEFAULT_MODELS, model_map)
    opus = await catalog.resolve("claude-opus-5-5", "high")
    assert opus.model_id == "gpt-5.4" and ("effort", "high") in opus.parameters
    assert (await catalog.resolve("claude-sonnet-4-5")).model_id == "gemini-3.1-pro"
    # A mapping applies even to a name the catalog has.
    assert (await catalog.resolve("composer-1")).model_id == "default"
    assert (await catalog.resolve("gpt-5.4")).model_id == "gpt-5.4"


async def test_a_mapped_target_missing_from_the_catalog_is_reported() -> None:
    catalog = catalog_of(DEFAULT_MODELS, ModelMap.parse({"claude-*": "gpt-4.1"}))
    with pytest.raises(ModelNotFound) as info:
        await catalog.resolve("claude-opus-5-5")
    assert info.value.requested == "gpt-4.1"


def test_map_parsing_rejects_empty_names() -> None:
    with pytest.raises(ValueError):
        ModelMap.parse({"claude-*": ""})
    with pytest.raises(ValueError):
        ModelMap.parse({" ": "gpt-5.4"})


def test_the_map_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURSOR_BRIDGE_MODEL_MAP", '{"claude-opus-*": "gpt-5.4"}')
    assert ModelMap.parse(Settings().model_map).configured("claude-opus-5-5") == "gpt-5.4"


def test_serve_refuses_a_bad_map(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURSOR_BRIDGE_MODEL_MAP", '{"claude-*": ""}')
    result = CliRunner().invoke(main, ["serve", "--port", "0"])
    assert result.exit_code != 0 and "CURSOR_BRIDGE_MODEL_MAP" in result.output
