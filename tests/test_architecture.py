"""The layering of docs/architecture.md, checked: which package may import what.

Every module of src/cursor_bridge is parsed (ast, nothing is imported) and each of its
imports, at any depth and under TYPE_CHECKING too, is held against the rules below. A rule
names the modules it covers, the bridge parts they may import (or must not) and the
outside modules they must not import; a known exception is listed with its reason, and an
exception that no longer occurs fails too, so the list only shrinks. Each rule's `doc` line
appears word for word in docs/architecture.md ("Import rules").
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "cursor_bridge"
PACKAGE = "cursor_bridge"

# Outside modules that mean I/O or concurrency: the sans-IO core uses none of them.
IO_MODULES = (
    "asyncio",
    "socket",
    "ssl",
    "selectors",
    "threading",
    "subprocess",
    "concurrent",
    "h2",
    "httpx",
    "anyio",
    "starlette",
    "uvicorn",
)
# The modules that read settings or build the object graph: the top of the tree.
TOP = ("config", "compose", "cli", "serve_cli", "emulator_cli", "live", "backend_choice")


@dataclass(frozen=True)
class Rule:
    name: str
    covers: str  # a package ("protocol") or a top-level module ("config")
    doc: str
    only: tuple[str, ...] | None = None  # the bridge parts it may import (None: any)
    never: tuple[str, ...] = ()  # the modules it must not import (bridge parts or outside)
    exceptions: dict[tuple[str, str], str] = field(default_factory=dict)  # (file, import)


RULES = (
    Rule(
        "protocol is sans-IO",
        "protocol",
        "`protocol/` imports no other bridge package and no I/O or concurrency "
        "(asyncio, sockets, threads, h2, httpx, Starlette).",
        only=("protocol",),
        never=IO_MODULES,
    ),
    Rule(
        "transport knows bytes, not turns",
        "transport",
        "`transport/` imports only `protocol/` of the bridge (never engine, server, dialects).",
        only=("transport", "protocol"),
    ),
    Rule(
        "the emulator is independent",
        "emulator",
        "`emulator/` imports only `protocol/` and `wiretrace/` (never engine, server, "
        "dialects): a bug shared with the bridge would agree with itself.",
        only=("emulator", "protocol", "wiretrace"),
    ),
    Rule(
        "dialects are pure translations",
        "dialects",
        "`dialects/` import only `engine/` (its request and output types), never "
        "`protocol/`, except the aiserver.v1 schema the Cursor IDE stream is rendered in.",
        only=("dialects", "engine"),
        exceptions={
            (
                "dialects/cursor_chat.py",
                "cursor_bridge.protocol.messages",
            ): "the IDE stream is aiserver.v1 StreamUnifiedChatResponse in protobuf JSON",
            (
                "dialects/cursor_tools.py",
                "cursor_bridge.protocol.messages",
            ): "ClientSideToolV2 values and StreamedBackToolCallV2 params are that schema's",
        },
    ),
    Rule(
        "server speaks HTTP through the engine",
        "server",
        "`server/` imports nothing from `protocol/`, `transport/` or `emulator/`, and "
        "never reads settings (`config`, `compose`).",
        never=(
            "cursor_bridge.protocol",
            "cursor_bridge.transport",
            "cursor_bridge.emulator",
            *(f"cursor_bridge.{name}" for name in TOP),
        ),
    ),
    Rule(
        "the engine sits under the dialects and the server",
        "engine",
        "`engine/` imports `protocol/`, `transport/`, `store/`, `auth/`, `wiretrace/` and "
        "the shared `access` and `paths` modules, never server, dialects, emulator or "
        "settings.",
        only=("engine", "protocol", "transport", "store", "auth", "wiretrace", "access", "paths"),
    ),
    Rule(
        "the store takes plain parameters",
        "store",
        "`store/` imports only `protocol/` (the BlobStore interface) and `paths`: it is given "
        "paths and sizes, never the settings.",
        only=("store", "protocol", "paths"),
    ),
    Rule(
        "auth is credentials only",
        "auth",
        "`auth/` imports only `protocol/` (Cursor's account endpoints), `transport/` (the "
        "usage report call) and `paths`.",
        only=("auth", "protocol", "transport", "paths"),
    ),
    Rule(
        "settings sit below everything",
        "config",
        "`config` imports only Cursor's constants (`protocol.auth`) and the model map it "
        "validates (`engine.model_map`).",
        only=("config", "protocol.auth", "engine.model_map"),
    ),
    *(
        Rule(
            f"{package} never reads settings",
            package,
            f"`{package}/` never imports the settings or the composition root.",
            never=tuple(f"cursor_bridge.{name}" for name in TOP),
        )
        for package in ("passthrough", "mcp_host", "wiretrace")
    ),
    Rule(
        "one composition root",
        "*",
        "Only `compose` builds the app and the backend's config (`create_app`, "
        "`BackendConfig`) outside their own packages.",
        never=("cursor_bridge.server.app:create_app", "cursor_bridge.engine.backend:BackendConfig"),
        exceptions={
            (
                "compose.py",
                "cursor_bridge.server.app:create_app",
            ): "the composition root",
            (
                "compose.py",
                "cursor_bridge.engine.backend:BackendConfig",
            ): "the composition root",
            (
                "doctor/target.py",
                "cursor_bridge.engine.backend:BackendConfig",
            ): "doctor checks a bare backend step by step (no settings, store or pool)",
        },
    ),
)


@dataclass(frozen=True)
class Import:
    file: str  # relative to src/cursor_bridge, with "/"
    module: str  # absolute dotted name
    name: str | None  # for `from module import name`


def _part(file: str) -> str:
    """The package a file belongs to, or its module name when it is top level."""
    first = file.split("/")[0]
    return first.removesuffix(".py")


def _dotted(file: str) -> list[str]:
    parts = [PACKAGE, *file.removesuffix(".py").split("/")]
    return parts[:-1] if parts[-1] == "__init__" else parts


def _is_module(dotted: str) -> bool:
    path = SOURCE.joinpath(*dotted.split(".")[1:])
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> Iterator[Import]:
    file = path.relative_to(SOURCE).as_posix()
    here = _dotted(file)
    package = here if file.endswith("__init__.py") else here[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(file, alias.name, None)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                if module.startswith(PACKAGE) and _is_module(submodule):
                    yield Import(file, submodule, None)
                else:
                    yield Import(file, module, alias.name)


def all_imports() -> list[Import]:
    return [imp for path in sorted(SOURCE.rglob("*.py")) for imp in _imports(path)]


def _within(dotted: str, prefix: str) -> bool:
    return dotted == prefix or dotted.startswith(prefix + ".")


def _bridge_part(module: str) -> str | None:
    """`engine.backend` for cursor_bridge.engine.backend; None outside the bridge or for the
    package itself (its version)."""
    if not _within(module, PACKAGE) or module == PACKAGE:
        return None
    return module.removeprefix(PACKAGE + ".")


def violations(rule: Rule, imports: list[Import]) -> list[tuple[str, str]]:
    """(file, import) pairs breaking *rule*, exceptions included."""
    found = []
    for imp in imports:
        if rule.covers != "*" and _part(imp.file) != rule.covers:
            continue
        target = f"{imp.module}:{imp.name}" if imp.name else imp.module
        part = _bridge_part(imp.module)
        bad = False
        if rule.only is not None and part is not None:
            bad = not any(_within(part, allowed) for allowed in rule.only)
        # `module:name` bans one name; a bare module bans it and everything under it.
        bad = bad or any(
            target == banned if ":" in banned else _within(imp.module, banned)
            for banned in rule.never
        )
        if bad:
            # An exception names the module, or the module and the name imported from it.
            short = (imp.file, imp.module)
            found.append(short if short in rule.exceptions else (imp.file, target))
    return sorted(set(found))


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return all_imports()


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_rule_holds(rule: Rule, imports: list[Import]) -> None:
    broken = [v for v in violations(rule, imports) if v not in rule.exceptions]
    assert not broken, f"{rule.doc}\nbroken by: " + ", ".join(f"{f} -> {m}" for f, m in broken)


@pytest.mark.parametrize("rule", [r for r in RULES if r.exceptions], ids=lambda rule: rule.name)
def test_every_exception_still_exists(rule: Rule, imports: list[Import]) -> None:
    gone = set(rule.exceptions) - set(violations(rule, imports))
    assert not gone, f"no longer needed, remove from the rule's exceptions: {sorted(gone)}"


def test_the_rules_are_the_documented_ones() -> None:
    text = " ".join((ROOT / "docs" / "architecture.md").read_text().split())
    for rule in RULES:
        assert rule.doc in text, f"docs/architecture.md lacks the rule: {rule.doc}"


def test_a_forbidden_import_is_caught() -> None:
    """The checker itself: a protocol module importing asyncio and the engine breaks the
    sans-IO rule; a plain one does not."""
    protocol_rule = RULES[0]
    bad = [
        Import("protocol/x.py", "asyncio", None),
        Import("protocol/x.py", "cursor_bridge.engine.backend", "CursorBackend"),
        Import("protocol/x.py", "cursor_bridge.protocol.events", None),
        Import("engine/y.py", "asyncio", None),
    ]
    assert violations(protocol_rule, bad) == [
        ("protocol/x.py", "asyncio"),
        ("protocol/x.py", "cursor_bridge.engine.backend:CursorBackend"),
    ]
    root_rule = RULES[-1]
    built = [Import("server/z.py", "cursor_bridge.engine.backend", "BackendConfig")]
    assert violations(root_rule, built) == [
        ("server/z.py", "cursor_bridge.engine.backend:BackendConfig")
    ]
