"""Model names a client asks for that are not in the catalog: the user's map and Claude names.

Claude Code and the Anthropic SDKs ask for Anthropic model ids (`claude-opus-5-5`,
`claude-sonnet-4-5-20250929`, `claude-haiku-4-5`), which Cursor's catalog does not list under
those names. Two layers translate them, both applied by `ModelCatalog.resolve`:

1. The user's map (setting `CURSOR_BRIDGE_MODEL_MAP`, a JSON object): glob patterns matched
   case-insensitively against the requested name, first match wins, e.g.
   ``{"claude-opus-*": "gpt-5.4", "claude-*haiku*": "composer-1"}``. A mapped name is always
   used, even when the requested name exists in the catalog.
2. Built-in Claude families, for names the catalog does not know that start with `claude` (or
   are just `opus`, `sonnet`, `haiku`): opus -> the catalog's Claude Opus model, sonnet -> its
   Claude Sonnet model, haiku -> its Claude Haiku model, else Cursor's fast Composer model; a
   family the catalog lacks -> `default` (Cursor's automatic routing). Claude names without a
   family word stay unknown (404 with suggestions). Among several candidates the one
   whose version matches the request wins (`claude-sonnet-4-5` -> `claude-4.5-sonnet`), else the
   newest, then the shortest id (the base model rather than a variant).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

FAMILIES = ("opus", "sonnet", "haiku")
# Cursor's own fast model: what haiku requests get when the catalog has no Claude Haiku.
FAST_FAMILY = "composer"
AUTO = "default"

_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class ModelMap:
    """User rules (pattern, target) in priority order, plus the built-in Claude families."""

    rules: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, str] | None) -> ModelMap:
        """Build from the setting's JSON object; raises ValueError on empty names."""
        rules: list[tuple[str, str]] = []
        for pattern, target in (raw or {}).items():
            if not isinstance(target, str) or not pattern.strip() or not target.strip():
                raise ValueError(f"model map entry {pattern!r}: {target!r} needs two names")
            rules.append((pattern.strip().lower(), target.strip()))
        return cls(tuple(rules))

    def configured(self, name: str) -> str | None:
        """The target of the first user rule matching *name*, if any."""
        lookup = name.strip().lower()
        for pattern, target in self.rules:
            if fnmatch.fnmatchcase(lookup, pattern):
                return target
        return None

    def claude_target(self, name: str, model_ids: Sequence[str]) -> str | None:
        """The catalog id a Claude family name maps onto, `default`, or None (not mapped)."""
        lookup = name.strip().lower()
        if not (lookup.startswith("claude") or lookup in FAMILIES):
            return None
        family = next((f for f in FAMILIES if f in lookup), None)
        if family is None:
            return None  # a typo of a catalog name deserves a 404 with suggestions
        best = _best(family, _version(lookup), model_ids)
        if best is None and family == "haiku":
            best = _best(FAST_FAMILY, (), model_ids)
        return best or AUTO


def _version(name: str) -> tuple[int, ...]:
    """Version numbers in a name, dates left out: claude-opus-4-5-20251101 -> (4, 5)."""
    return tuple(int(n) for n in _NUMBER.findall(name) if len(n) <= 3)


def _best(family: str, wanted: tuple[int, ...], model_ids: Iterable[str]) -> str | None:
    candidates = [m for m in model_ids if family in m.lower()]
    if not candidates:
        return None

    def rank(model_id: str) -> tuple[bool, tuple[int, ...], int, str]:
        version = _version(model_id.lower())
        return (bool(wanted) and version == wanted, version, -len(model_id), model_id)

    return max(candidates, key=rank)
