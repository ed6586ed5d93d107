"""The real OpenCode CLI runs Cursor's built-in execs through its own tools.

The emulator sends built-in read / ls / grep / shell execs; the bridge maps them onto
OpenCode's `read`, `grep` and `bash`, OpenCode runs them for real, and the bridge turns
OpenCode's real output back into typed results (no line-number prefixes, trees, matches)
that the scripted model quotes. Skipped with the reason when npm is unavailable. (OpenCode's
`bash` output carries no exit code, so the bridge can only report 0 for a command OpenCode
ran.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import Stack
from tests.integration.test_opencode import run_opencode

# Real coding clients from npm: the `clients` group (README: Tests).
pytestmark = pytest.mark.clients


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = (tmp_path / "project").resolve()
    (root / "src").mkdir(parents=True)
    (root.parent / "home").mkdir()
    (root / "notes.txt").write_text("first line\nthe secret word is marmalade\n")
    (root / "src" / "app.py").write_text("print('marmalade')\n")
    return root


def test_opencode_runs_builtin_execs(stack: Stack, project: Path) -> None:
    notes = str(project / "notes.txt")
    lines = [
        f"/exec read {json.dumps({'path': notes})}",
        f"/exec ls {json.dumps({'path': str(project)})}",
        f"/exec grep {json.dumps({'pattern': 'marmalade', 'path': str(project)})}",
        f"/exec shell {json.dumps({'command': 'echo shell-ok', 'workingDirectory': str(project)})}",
    ]
    out = run_opencode(stack, project, project.parent / "home", "Task:\n" + "\n".join(lines))
    start = out.index("Tool results:")
    quoted = dict(
        part.split(": ", 1) for part in out[start:].strip().split("\n- ")[1:] if ": " in part
    )
    read = json.loads(quoted["read"].removeprefix("success "))
    assert read["content"] == "first line\nthe secret word is marmalade"
    assert read["totalLines"] == 2
    tree = json.loads(quoted["ls"].removeprefix("success "))["directoryTreeRoot"]
    assert tree["absPath"] == str(project)
    assert "notes.txt" in [f["name"] for f in tree.get("childrenFiles", [])]
    assert [d["absPath"] for d in tree["childrenDirs"]] == [str(project / "src")]
    if shutil.which("rg"):
        grep = json.loads(quoted["grep"].removeprefix("success "))
        (found,) = grep["workspaceResults"].values()
        hits = {
            m["file"]: [x["lineNumber"] for x in m["matches"]] for m in found["content"]["matches"]
        }
        assert hits == {notes: [2], str(project / "src" / "app.py"): [1]}
    else:
        # OpenCode's grep needs ripgrep and fetches it from outside when it is not on PATH;
        # here that fails, and its error must reach the model as a grep error, not as data.
        assert quoted["grep"].startswith('error {"error":"ripgrep')
    assert quoted["shell"].strip() == "exit 0: shell-ok"
