"""The account's model catalog: fetched from the backend, cached, resolved by name.

`AvailableModels` (Connect JSON) is preferred: it is the only source of variants (effort,
max mode, context tiers) and capability flags. `GetUsableModels` (binary) is the fallback.
Variants are not exposed as separate model ids: a request picks one with `reasoning_effort`.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from ..protocol.errors import ConnectError, http_error
from ..protocol.headers import AVAILABLE_MODELS_PATH, GET_USABLE_MODELS_PATH
from ..protocol.messages import agent, aiserver
from .errors import InvalidChatRequest, ModelNotFound
from .model_map import ModelMap

log = logging.getLogger(__name__)

AUTO_MODEL_ID = "default"
DEFAULT_CONTEXT = 200_000
EFFORT_PARAMETER_IDS = ("effort", "reasoning")


@dataclass(frozen=True, slots=True)
class ModelVariant:
    parameters: tuple[tuple[str, str], ...]
    max_mode: bool = False
    default_non_max: bool = False
    default_max: bool = False

    def parameter(self, ids: tuple[str, ...]) -> str | None:
        for key, value in self.parameters:
            if key in ids:
                return value
        return None


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    display_name: str
    context_window: int = DEFAULT_CONTEXT
    max_context_window: int | None = None
    supports_thinking: bool = False
    supports_images: bool = False
    supports_tools: bool = True
    aliases: tuple[str, ...] = ()
    variants: tuple[ModelVariant, ...] = ()

    @property
    def efforts(self) -> tuple[str, ...]:
        values = {v.parameter(EFFORT_PARAMETER_IDS) for v in self.variants}
        return tuple(sorted(value for value in values if value))


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """What goes into `AgentRunRequest.requested_model` for one request."""

    model: ModelInfo
    model_id: str
    max_mode: bool = False
    parameters: tuple[tuple[str, str], ...] = ()

    def requested_model(self) -> agent.RequestedModel:
        return agent.RequestedModel(
            model_id=self.model_id,
            max_mode=self.max_mode,
            parameters=[
                agent.RequestedModel_ModelParameter(id=key, value=value)
                for key, value in self.parameters
            ],
        )


# Distinct (model name, effort) pairs `resolve` remembers (names come from clients).
MAX_REMEMBERED_CHOICES = 256

# (path, body, json codec) -> (HTTP status, response body, response headers)
UnaryCall = Callable[[str, bytes, bool], Awaitable[tuple[int, bytes, Sequence[tuple[str, str]]]]]


@dataclass
class ModelCatalog:
    """Cached catalog; stale entries are served while a background refresh runs."""

    call: UnaryCall
    ttl: float = 300.0
    model_map: ModelMap = field(default_factory=ModelMap)
    _models: dict[str, ModelInfo] = field(default_factory=dict)
    _fetched_at: float = 0.0
    _refreshing: asyncio.Task[None] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # What `resolve` answered for (name, effort), for the catalog and map it answered from.
    _choices: dict[tuple[str, str | None], ModelChoice] = field(default_factory=dict)
    _choices_from: tuple[dict[str, ModelInfo], ModelMap] | None = None

    async def models(self) -> list[ModelInfo]:
        await self._fresh()
        return list(self._models.values())

    async def _fresh(self) -> None:
        """Fetch the catalog if there is none; start a background refresh when stale."""
        if not self._models:
            async with self._lock:
                if not self._models:
                    await self._refresh()
        elif time.monotonic() - self._fetched_at > self.ttl and self._refreshing is None:
            self._refreshing = asyncio.create_task(self._background_refresh())

    async def resolve(self, name: str, reasoning_effort: str | None = None) -> ModelChoice:
        """Map a client's model name (id, alias, display name, `auto`) and effort to a choice.

        Names the catalog does not know go through `model_map` (the user's map first, then
        the built-in Claude families; see engine/model_map.py). A name resolved before is
        answered from memory until the catalog is fetched again or the map is replaced.
        """
        if not self._models or time.monotonic() - self._fetched_at > self.ttl:
            await self._fresh()  # (a fresh catalog needs nothing: no coroutine to await)
        source = self._choices_from
        if source is None or source[0] is not self._models or source[1] is not self.model_map:
            self._choices = {}
            self._choices_from = (self._models, self.model_map)
        key = (name, reasoning_effort)
        choice = self._choices.get(key)
        if choice is None:
            choice = self._resolve(name, reasoning_effort, list(self._models.values()))
            if len(self._choices) < MAX_REMEMBERED_CHOICES:
                self._choices[key] = choice
        return choice

    def _resolve(
        self, name: str, reasoning_effort: str | None, models: list[ModelInfo]
    ) -> ModelChoice:
        wanted = name.strip()
        mapped = self.model_map.configured(wanted)
        choice = self._lookup(mapped or wanted, reasoning_effort, models)
        if choice is None and mapped is None:
            target = self.model_map.claude_target(wanted, [m.id for m in models])
            if target is not None:
                choice = self._lookup(target, reasoning_effort, models)
        if choice is not None:
            return choice
        missing = mapped or wanted
        candidates = [m.id for m in models] + [a for m in models for a in m.aliases]
        raise ModelNotFound(
            missing, difflib.get_close_matches(missing, candidates, n=3, cutoff=0.4)
        )

    def _lookup(
        self, name: str, reasoning_effort: str | None, models: list[ModelInfo]
    ) -> ModelChoice | None:
        lookup = name.lower()
        if lookup in ("auto", AUTO_MODEL_ID):
            auto = self._models.get(AUTO_MODEL_ID) or ModelInfo(AUTO_MODEL_ID, "Auto")
            return ModelChoice(auto, AUTO_MODEL_ID)
        for model in models:
            names = {model.id.lower(), model.display_name.lower(), *map(str.lower, model.aliases)}
            if lookup in names:
                return _choose_variant(model, reasoning_effort)
        return None

    async def _background_refresh(self) -> None:
        try:
            await self._refresh()
        except Exception as exc:  # keep serving the stale catalog
            log.warning("model catalog refresh failed: %s", exc)
        finally:
            self._refreshing = None

    async def _refresh(self) -> None:
        try:
            models = await self._available_models()
        except (ConnectError, ValueError, DecodeError) as exc:
            log.info("AvailableModels failed (%s); falling back to GetUsableModels", exc)
            models = await self._usable_models()
        if not models:
            raise ConnectError("unavailable", "the backend returned an empty model list")
        self._models = {model.id: model for model in models}
        self._fetched_at = time.monotonic()

    async def _available_models(self) -> list[ModelInfo]:
        body = json.dumps(
            {
                "includeLongContextModels": True,
                "useModelParameters": True,
                "useCloudAgentEffortModes": True,
            }
        ).encode()
        status, raw, headers = await self.call(AVAILABLE_MODELS_PATH, body, True)
        if status != 200:
            raise http_error(status, raw, headers)
        response = aiserver.AvailableModelsResponse()
        json_format.Parse(raw.decode(), response, ignore_unknown_fields=True)
        return [_from_available(model) for model in response.models if model.name]

    async def _usable_models(self) -> list[ModelInfo]:
        request = agent.GetUsableModelsRequest().SerializeToString()
        status, raw, headers = await self.call(GET_USABLE_MODELS_PATH, request, False)
        if status != 200:
            raise http_error(status, raw, headers)
        response = agent.GetUsableModelsResponse()
        response.ParseFromString(raw)
        return [_from_details(details) for details in response.models if details.model_id]


def _from_available(model: aiserver.AvailableModelsResponse_AvailableModel) -> ModelInfo:
    variants = tuple(
        ModelVariant(
            parameters=tuple((p.id, p.value) for p in variant.parameter_values),
            max_mode=variant.is_max_mode,
            default_non_max=variant.is_default_non_max_config,
            default_max=variant.is_default_max_config,
        )
        for variant in model.variants
    )
    context = model.context_token_limit or DEFAULT_CONTEXT
    return ModelInfo(
        id=model.name,
        display_name=model.client_display_name or model.name,
        context_window=context,
        max_context_window=model.context_token_limit_for_max_mode or None,
        supports_thinking=model.supports_thinking,
        supports_images=model.supports_images,
        supports_tools=model.supports_agent,
        aliases=tuple(a for a in (model.server_model_name,) if a and a != model.name),
        variants=variants,
    )


def _from_details(details: agent.ModelDetails) -> ModelInfo:
    aliases = [details.display_model_id, *details.aliases]
    return ModelInfo(
        id=details.model_id,
        display_name=details.display_name or details.model_id,
        supports_thinking=details.HasField("thinking_details"),
        aliases=tuple(a for a in aliases if a and a != details.model_id),
    )


def _choose_variant(model: ModelInfo, effort: str | None) -> ModelChoice:
    """Pick the variant for a requested effort; else the default non-max one."""
    variants = model.variants
    chosen: ModelVariant | None = None
    if effort:
        matching = [v for v in variants if v.parameter(EFFORT_PARAMETER_IDS) == effort.lower()]
        # Prefer the non-max, non-"fast" flavour of that effort.
        matching.sort(key=lambda v: (v.max_mode, v.parameter(("fast",)) == "true"))
        chosen = matching[0] if matching else None
        if chosen is None and not variants:
            return ModelChoice(model, model.id, parameters=(("effort", effort.lower()),))
        if chosen is None and model.efforts:
            raise InvalidChatRequest(
                f"reasoning_effort '{effort}' is not available for {model.id}; "
                f"choose one of: {', '.join(model.efforts)}"
            )
    if chosen is None:
        chosen = next((v for v in variants if v.default_non_max), None)
    if chosen is None:
        return ModelChoice(model, model.id)
    return ModelChoice(model, model.id, chosen.max_mode, chosen.parameters)
