"""Regenerate the committed protobuf Python modules from proto/.

Run with `uv run python scripts/regen_proto.py`. tests/protocol/test_regen.py runs the same
generation into a temporary folder and fails when the committed output differs.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT_DIR = ROOT / "src" / "cursor_bridge" / "protocol" / "gen"
PROTO_FILES = ["agent/v1/agent.proto", "aiserver/v1/aiserver.proto"]


def generate(out_dir: Path) -> None:
    """Write `<name>_pb2.py` and `.pyi` for every proto file into *out_dir*."""
    from grpc_tools import protoc

    out_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{PROTO_DIR}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        *[str(PROTO_DIR / name) for name in PROTO_FILES],
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for package_dir in {out_dir / Path(name).parent for name in PROTO_FILES}:
        for folder in [package_dir, *package_dir.parents]:
            if folder == out_dir.parent:
                break
            (folder / "__init__.py").touch()


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR)
