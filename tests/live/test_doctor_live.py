"""The doctor's scenarios against Cursor's real backend, one test per step: `pytest -m live`.

Credentials: the account `cursor-bridge login` stored in your real bridge home
(`CURSOR_BRIDGE_HOME` as set when pytest started, else the platform data dir). Without one,
every test is skipped with the reason. The whole session runs once (about a dozen small
requests, as `cursor-bridge doctor` says); `CURSOR_BRIDGE_LIVE_MODEL` picks the model
(default `auto`) and `CURSOR_BRIDGE_LIVE_RECORD=DIR` keeps the wire trace.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from cursor_bridge.auth import TokenStore
from cursor_bridge.config import CURSOR_API_URL
from cursor_bridge.doctor.report import FAIL, SKIP, StepResult
from cursor_bridge.doctor.steps import STEP_NAMES, check
from cursor_bridge.doctor.target import choose_target
from cursor_bridge.live import device_ids, resolve_client_version
from cursor_bridge.paths import bridge_home
from cursor_bridge.protocol.headers import ClientIdentity
from cursor_bridge.wiretrace import WireRecorder

pytestmark = pytest.mark.live

# Read before the autouse fixture points CURSOR_BRIDGE_HOME at a temp dir.
REAL_HOME: Path = bridge_home()
MODEL = os.environ.get("CURSOR_BRIDGE_LIVE_MODEL", "auto")
RECORD = os.environ.get("CURSOR_BRIDGE_LIVE_RECORD")


@pytest.fixture(scope="module")
def results() -> dict[str, StepResult]:
    store = TokenStore(REAL_HOME / "accounts")
    target = choose_target(CURSOR_API_URL, store)
    if target.kind != "account":
        pytest.skip("no Cursor login: run `cursor-bridge login` to run the live doctor tests")
    ids = device_ids(REAL_HOME)  # the real device id: a new one per run looks like a new device
    identity = ClientIdentity(
        client_version=resolve_client_version(
            os.environ.get("CURSOR_BRIDGE_CLIENT_VERSION"), fetch=True, home=REAL_HOME
        ),
        machine_id=ids.machine_id,
        mac_machine_id=ids.mac_machine_id,
    )
    recorder = WireRecorder(Path(RECORD)) if RECORD else None
    try:
        found = asyncio.run(check(target, identity, MODEL, recorder))
    finally:
        if recorder is not None:
            recorder.close()
    return {result.name: result for result in found}


@pytest.mark.parametrize("step", STEP_NAMES)
def test_doctor_step(results: dict[str, StepResult], step: str) -> None:
    result = results[step]
    if result.status == SKIP:
        pytest.skip(result.seen)
    assert result.status != FAIL, result.line()
