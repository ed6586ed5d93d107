"""The emulator's model catalog: what AvailableModels and GetUsableModels list, what Run accepts.

Each model is one `CatalogModel`; its AvailableModels variants (effort levels, thinking on/off,
max mode with a 1M context, fast) are derived from its fields the way Cursor's catalog shapes
them: `parameterDefinitions` list the knobs, each variant carries the exact `parameterValues` a
client copies into `RequestedModel.parameters`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..protocol.messages import agent, aiserver


def context_tier(tokens: int) -> str:
    """Cursor's context parameter value for a window size: 200000 -> "200k", 1000000 -> "1m"."""
    if tokens % 1_000_000 == 0:
        return f"{tokens // 1_000_000}m"
    return f"{tokens // 1000}k"


@dataclass(frozen=True, slots=True)
class CatalogModel:
    """One model id the emulated backend serves.

    `max_mode_context_tokens` is None when the model has no max mode. `efforts` lists the
    reasoning effort levels (parameter `effort`); a thinking model without efforts gets a
    `thinking` true/false parameter instead.
    """

    model_id: str
    display_name: str
    context_tokens: int
    max_mode_context_tokens: int | None = None
    thinking: bool = False
    images: bool = True
    efforts: tuple[str, ...] = ()
    default_effort: str = ""
    fast: bool = False
    aliases: tuple[str, ...] = ()
    display_name_short: str = ""
    default_on: bool = True

    @property
    def supports_max_mode(self) -> bool:
        return self.max_mode_context_tokens is not None

    def names(self) -> Iterable[str]:
        """Every name a client may use for this model."""
        yield self.model_id
        yield from self.aliases

    def context_for(self, requested: agent.RequestedModel | None) -> int:
        """The context window a Run gets: the max-mode window for max mode or `context=1m`."""
        if requested is None or self.max_mode_context_tokens is None:
            return self.context_tokens
        wants_max = requested.max_mode or any(
            p.id == "context" and p.value == context_tier(self.max_mode_context_tokens)
            for p in requested.parameters
        )
        return self.max_mode_context_tokens if wants_max else self.context_tokens

    def model_details(self) -> agent.ModelDetails:
        """The agent.v1 ModelDetails (GetUsableModels); thinking_details present = reasons."""
        details = agent.ModelDetails(
            model_id=self.model_id,
            display_model_id=self.model_id,
            display_name=self.display_name,
            display_name_short=self.display_name_short or self.display_name,
            aliases=list(self.aliases),
        )
        if self.thinking:
            details.thinking_details.SetInParent()
        if self.supports_max_mode:
            details.max_mode = True
        return details

    def available_model(self) -> aiserver.AvailableModelsResponse_AvailableModel:
        """The aiserver.v1 AvailableModels entry, with parameter definitions and variants."""
        entry = aiserver.AvailableModelsResponse_AvailableModel(
            name=self.model_id,
            default_on=self.default_on,
            supports_agent=True,
            supports_thinking=self.thinking,
            supports_images=self.images,
            supports_max_mode=self.supports_max_mode,
            supports_non_max_mode=True,
            context_token_limit=self.context_tokens,
            context_token_limit_for_max_mode=self.max_mode_context_tokens or 0,
            client_display_name=self.display_name,
            server_model_name=self.model_id,
        )
        for param_id, values in self._parameter_definitions():
            entry.parameter_definitions.add(id=param_id, values=values)
        for name, is_max, default_max, default_non_max, params in self._variants():
            variant = entry.variants.add(
                display_name=name,
                is_max_mode=is_max,
                is_default_max_config=default_max,
                is_default_non_max_config=default_non_max,
            )
            for param_id, value in params:
                variant.parameter_values.add(id=param_id, value=value)
        return entry

    def _parameter_definitions(self) -> list[tuple[str, list[str]]]:
        defs: list[tuple[str, list[str]]] = []
        if self.efforts:
            defs.append(("effort", list(self.efforts)))
        elif self.thinking:
            defs.append(("thinking", ["false", "true"]))
        if self.max_mode_context_tokens is not None:
            tiers = [context_tier(self.context_tokens), context_tier(self.max_mode_context_tokens)]
            defs.append(("context", tiers))
        if self.fast:
            defs.append(("fast", ["false", "true"]))
        return defs

    def _variants(self) -> list[tuple[str, bool, bool, bool, list[tuple[str, str]]]]:
        """(display name, is max mode, default max, default non-max, parameter values)."""
        levels: list[tuple[str, list[tuple[str, str]], bool]] = []
        if self.efforts:
            default = self.default_effort or self.efforts[0]
            for effort in self.efforts:
                label = f"{self.display_name} {effort.capitalize()}"
                levels.append((label, [("effort", effort)], effort == default))
        elif self.thinking:
            levels.append((self.display_name, [("thinking", "false")], False))
            levels.append((f"{self.display_name} Thinking", [("thinking", "true")], True))
        else:
            levels.append((self.display_name, [], True))
        out: list[tuple[str, bool, bool, bool, list[tuple[str, str]]]] = []
        base_tier = [("context", context_tier(self.context_tokens))]
        for label, values, is_default in levels:
            extra = base_tier if self.supports_max_mode else []
            out.append((label, False, False, is_default, [*values, *extra]))
        if self.fast:
            for label, values, _ in levels:
                out.append((f"{label} Fast", False, False, False, [*values, ("fast", "true")]))
        if self.max_mode_context_tokens is not None:
            tier = context_tier(self.max_mode_context_tokens)
            for label, values, is_default in levels:
                name = f"{label} {tier.upper()}"
                out.append((name, True, is_default, False, [*values, ("context", tier)]))
        return out


DEFAULT_MODELS: tuple[CatalogModel, ...] = (
    CatalogModel(
        model_id="default",
        display_name="Auto",
        context_tokens=200_000,
        images=True,
        aliases=("auto",),
    ),
    CatalogModel(
        model_id="composer-1",
        display_name="Composer 1",
        context_tokens=200_000,
        images=False,
    ),
    CatalogModel(
        model_id="claude-4.6-sonnet",
        display_name="Claude 4.6 Sonnet",
        context_tokens=200_000,
        max_mode_context_tokens=1_000_000,
        thinking=True,
        aliases=("claude-4.6-sonnet-thinking", "sonnet-4.6"),
        display_name_short="Sonnet 4.6",
    ),
    CatalogModel(
        model_id="claude-4.6-opus",
        display_name="Claude 4.6 Opus",
        context_tokens=200_000,
        max_mode_context_tokens=1_000_000,
        thinking=True,
        efforts=("low", "medium", "high"),
        default_effort="high",
        aliases=("claude-4.6-opus-high", "opus-4.6"),
        display_name_short="Opus 4.6",
    ),
    CatalogModel(
        model_id="gpt-5.4",
        display_name="GPT-5.4",
        context_tokens=272_000,
        max_mode_context_tokens=1_000_000,
        thinking=True,
        efforts=("low", "medium", "high"),
        default_effort="medium",
        fast=True,
        aliases=("gpt-5.4-low", "gpt-5.4-medium", "gpt-5.4-high"),
    ),
    CatalogModel(
        model_id="gemini-3.1-pro",
        display_name="Gemini 3.1 Pro",
        context_tokens=1_000_000,
        thinking=True,
        aliases=("gemini-3.1-pro-preview",),
    ),
)


class Catalog:
    """The models of one emulator; resolves the names a Run may ask for."""

    def __init__(self, models: Sequence[CatalogModel] = DEFAULT_MODELS) -> None:
        self.models = tuple(models)
        self._by_name: dict[str, CatalogModel] = {}
        for model in self.models:
            for name in model.names():
                self._by_name.setdefault(name.lower(), model)

    def resolve(self, name: str) -> CatalogModel | None:
        """The model for an id or alias (case-insensitive), or None when it is unknown."""
        return self._by_name.get(name.lower())

    def available_models(self) -> aiserver.AvailableModelsResponse:
        response = aiserver.AvailableModelsResponse()
        for model in self.models:
            response.model_names.append(model.model_id)
            response.models.append(model.available_model())
        return response

    def usable_models(self) -> agent.GetUsableModelsResponse:
        return agent.GetUsableModelsResponse(models=[m.model_details() for m in self.models])
