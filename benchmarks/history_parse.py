"""What reading one chat-completions tool round costs the bridge in-process: decoding and
checking the body, parsing it, fingerprinting its history; for a follow-up (the same
loop's previous rounds read just before) and for a history never seen before.

    uv run python -m benchmarks.history_parse [--rounds 1 10 40] [--loops 100]

No server: each loop reads rounds N-2 and N-1, then round N is timed (a follow-up in a
loop under way: a history's first follow-up is read whole, see engine/resent_body.py), then
another loop's round N (a new history). Medians in ms of CPU time; compare runs taken back
to back.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from benchmarks.tool_loop import RESULT, TOOL
from cursor_bridge.dialects.chat_body import parse_request
from cursor_bridge.engine.fingerprint import chain
from cursor_bridge.server.json_body import _decode_and_parse


def body(rounds: int, tag: str) -> bytes:
    """A loop's request after *rounds* rounds (what benchmarks.tool_loop's client sends)."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "round 0"},
        {"role": "user", "content": f"loop {tag}: read the files"},
    ]
    for i in range(rounds):
        call = {"id": f"call_{tag}_{i:04d}", "type": "function"}
        call["function"] = {"name": "read", "arguments": json.dumps({"path": f"f{i}.txt"})}
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": RESULT})
    return json.dumps({"model": "default", "messages": messages, "tools": [TOOL]}).encode()


def read(raw: bytes) -> float:
    """CPU seconds to decode, check, parse and fingerprint *raw*."""
    start = time.process_time()
    request = _decode_and_parse(raw, parse_request)
    chain(request.messages)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, nargs="+", default=[1, 10, 40])
    parser.add_argument("--loops", type=int, default=100)
    args = parser.parse_args()
    for rounds in args.rounds:
        follow: list[float] = []
        fresh: list[float] = []
        for loop in range(args.loops):
            read(body(max(rounds - 2, 0), f"{rounds}-{loop}"))
            read(body(rounds - 1, f"{rounds}-{loop}"))
            follow.append(read(body(rounds, f"{rounds}-{loop}")))
            fresh.append(read(body(rounds, f"{rounds}-new{loop}")))
        print(
            f"{rounds:3d} rounds: follow-up {statistics.median(follow) * 1e3:.3f} ms, "
            f"new history {statistics.median(fresh) * 1e3:.3f} ms (median of {args.loops})"
        )


if __name__ == "__main__":
    main()
