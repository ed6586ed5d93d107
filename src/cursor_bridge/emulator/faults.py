"""Scripted faults (`/fault ...`): the backend failures a turn can be told to show — a
Connect error, a dropped stream, a stall, malformed or oversized frames, an early end, a
GOAWAY."""

from __future__ import annotations

from ..protocol.framing import encode_envelope
from ..protocol.messages import agent
from .run import RunError, RunSession
from .script import Fault

_FAULT_MESSAGES = {
    "resource_exhausted": "You've hit your usage limit",
    "unauthenticated": "Not logged in",
    "permission_denied": "Permission denied",
    "unavailable": "Service temporarily unavailable",
}
_MALFORMED_PAYLOAD = b"\x0f\xff\xff\xff not an AgentServerMessage"
_HUGE_FRAME_HEADER = bytes((0,)) + (64 * 1024 * 1024).to_bytes(4, "big")


async def fire_fault(session: RunSession, fault: Fault) -> None:
    """Do what a `/fault` directive asks, at the point of the turn where it stands."""
    session.counters.faults_injected += 1
    if fault.kind == "disconnect":
        session.reset_stream()
    elif fault.kind == "stall":
        await session.stall()
    elif fault.kind == "error":
        message = fault.message or _FAULT_MESSAGES.get(fault.code, f"emulated {fault.code}")
        raise RunError(fault.code, message)
    elif fault.kind == "malformed":
        if fault.variant == "flags":
            update = agent.InteractionUpdate(text_delta=agent.TextDeltaUpdate(text="?"))
            payload = agent.AgentServerMessage(interaction_update=update).SerializeToString()
            await session.send_raw(bytes((0x40,)) + encode_envelope(payload)[1:])
        else:
            await session.send_raw(encode_envelope(_MALFORMED_PAYLOAD))
    elif fault.kind == "huge-frame":
        await session.send_raw(_HUGE_FRAME_HEADER)
        await session.stall()
    elif fault.kind == "end-early":
        session.end_early()
    elif fault.kind == "goaway":
        session.goaway(close=fault.variant == "close")
