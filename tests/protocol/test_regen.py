"""The committed generated protobuf modules are exactly what scripts/regen_proto.py produces."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "regen_proto.py"
COMMITTED = REPO_ROOT / "src" / "cursor_bridge" / "protocol" / "gen"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("regen_proto", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(root: Path) -> dict[str, bytes]:
    """Relative path -> content for every generated file (caches excluded)."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_committed_generated_code_is_up_to_date(tmp_path: Path) -> None:
    out_dir = tmp_path / "gen"
    _load_script().generate(out_dir)
    fresh, committed = _files(out_dir), _files(COMMITTED)

    assert any(name.endswith("_pb2.py") for name in fresh), "generation produced no modules"
    missing = sorted(fresh.keys() - committed.keys())
    extra = sorted(committed.keys() - fresh.keys())
    stale = sorted(
        name for name in fresh.keys() & committed.keys() if fresh[name] != committed[name]
    )
    assert not (missing or extra or stale), (
        "src/cursor_bridge/protocol/gen/ is out of date; run `uv run python scripts/regen_proto.py`"
        f" and commit the result.\n  not committed: {missing}\n  not generated: {extra}"
        f"\n  differ: {stale}"
    )
