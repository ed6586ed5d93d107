"""Load-adaptive write pacing (server/pacing.py): when the loop is behind, a stream's writes
are held so the words arriving meanwhile go out together; when it is not, nothing is held.

The lag is injected (a LagSource the test sets) rather than made by burning CPU; the
streams are real ones, from the paced emulator (10 ms between words) through the bridge.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cursor_bridge.server import pacing
from cursor_bridge.server.app import create_app
from cursor_bridge.server.pacing import LoopLag, WritePacing
from tests.conftest import Stack
from tests.support.bridge_apps import serve
from tests.support.polling import wait_for

WORDS = 30
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


class FakeLag:
    """A LagSource whose lag the test sets; counts the streams that hold it."""

    def __init__(self, lag: float) -> None:
        self.value = lag
        self.users = 0
        self.acquired = 0

    def acquire(self) -> None:
        self.users += 1
        self.acquired += 1

    def release(self) -> None:
        self.users -= 1

    def lag(self) -> float:
        return self.value


class RecordingPacing(WritePacing):
    """WritePacing that keeps every hold it decided."""

    def __init__(self, lag: FakeLag, max_hold: float) -> None:
        super().__init__(lag, behind=0.004, per_lag=2.0, max_hold=max_hold)
        self.holds: list[float] = []

    def hold(self) -> float:
        seconds = super().hold()
        self.holds.append(seconds)
        return seconds


@dataclass
class BodyWrites:
    """ASGI wrapper keeping each response body message (one per client write)."""

    app: ASGIApp
    writes: list[bytes] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def recording(message: Message) -> None:
            if message["type"] == "http.response.body":
                self.writes.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, recording)


@dataclass
class Served:
    url: str
    pacing: RecordingPacing
    lag: FakeLag
    recorder: BodyWrites


@pytest.fixture
def served(paced_stack: Stack) -> Iterator[Served]:
    """The bridge on the paced emulator with an injected lag (none until a test sets it)."""
    app = create_app(paced_stack.backend, mode="emulator")
    lag = FakeLag(0.0)
    app.state.write_pacing = RecordingPacing(lag, max_hold=0.04)
    recorder = BodyWrites(app)
    with serve(paced_stack, recorder) as url:
        yield Served(url, app.state.write_pacing, lag, recorder)


def stream(url: str, content: str, **extra: Any) -> list[str]:
    """The `data:` payloads of one streamed chat completion, in order."""
    return stream_messages(url, [{"role": "user", "content": content}], **extra)


def stream_messages(url: str, messages: list[dict[str, Any]], **extra: Any) -> list[str]:
    body = {"model": "gpt-5.4", "stream": True, "messages": messages, **extra}
    with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=30) as response:
        assert response.status_code == 200
        return [line[6:] for line in response.iter_lines() if line.startswith("data: ")]


def digest(events: list[str]) -> list[Any]:
    """What a client makes of the stream: its parts in order, consecutive text joined (words
    that arrive together may share a delta), ids and timestamps left out."""
    parts: list[Any] = []
    for data in events:
        if data == "[DONE]":
            parts.append("[DONE]")
            continue
        event = json.loads(data)
        if "error" in event:
            parts.append(("error", event["error"]["message"]))
            continue
        choice = event["choices"][0]
        delta = choice["delta"]
        if delta.get("content"):
            if parts and parts[-1][0] == "text":
                parts[-1] = ("text", parts[-1][1] + delta["content"])
            else:
                parts.append(("text", delta["content"]))
        for call in delta.get("tool_calls", ()):
            function = call.get("function", {})
            parts.append(("call", call["index"], function.get("name"), function["arguments"]))
        if choice.get("finish_reason"):
            parts.append(("finish", choice["finish_reason"]))
    return parts


def words_in(write: bytes) -> int:
    return write.count(b'"content":"') - write.count(b'"content":""')


def test_nothing_is_held_when_the_loop_is_not_behind(served: Served) -> None:
    events = stream(served.url, f"/tokens {WORDS}")
    assert digest(events)[-2:] == [("finish", "stop"), "[DONE]"]
    # Each write after the first asked the pacing, and it never held.
    assert len(served.pacing.holds) >= 1
    assert set(served.pacing.holds) == {0.0}
    assert served.lag.acquired == 1
    wait_for(lambda: served.lag.users == 0)


def test_writes_coalesce_under_lag_with_the_same_content_and_order(served: Served) -> None:
    unheld = stream(served.url, f"/tokens {WORDS}")
    unheld_writes = len(served.recorder.writes)
    served.recorder.writes.clear()
    served.pacing.holds.clear()
    served.lag.value = 0.05  # behind: each hold is capped at 0.04 s
    started = time.monotonic()
    held = stream(served.url, f"/tokens {WORDS}")
    elapsed = time.monotonic() - started
    writes = served.recorder.writes
    assert digest(held) == digest(unheld)
    assert len(digest(held)[0][1].split()) == WORDS
    # The first output went out before any hold was decided (it is never held); every
    # later write but the stream's end was followed by a hold of 0.04 s ...
    assert served.pacing.holds == [0.04] * (len(writes) - 1)
    # ... so there are at most elapsed / 0.04 writes after the first, and they carried
    # several words each.
    assert len(writes) <= 2 + elapsed / 0.04
    assert max(words_in(write) for write in writes) >= 2
    assert len(writes) < unheld_writes
    assert writes[-1].endswith(b"data: [DONE]\n\n")
    wait_for(lambda: served.lag.users == 0)


def test_tool_calls_and_errors_keep_their_shape_under_lag(served: Served) -> None:
    def both(prompt: str, **extra: Any) -> list[Any]:
        served.lag.value = 0.0
        unheld = digest(stream(served.url, prompt, **extra))
        served.lag.value = 0.05
        held = digest(stream(served.url, prompt, **extra))
        assert held == unheld
        return held

    call = both('/tool get_weather {"city": "Paris"}', tools=[WEATHER])
    assert call[0][:3] == ("call", 0, "get_weather")
    assert json.loads("".join(part[3] for part in call if part[0] == "call")) == {"city": "Paris"}
    assert call[-2:] == [("finish", "tool_calls"), "[DONE]"]
    failed = both("/tokens 12\n/fault error unavailable late")
    assert failed[0][0] == "text"
    assert failed[-1][0] == "error" and "late" in failed[-1][1]
    assert 0.04 in served.pacing.holds


def test_the_end_of_a_tool_round_is_not_held(served: Served) -> None:
    """A hold pays off only while words stream in; after a tool call the round ends next,
    and the client (an agent waiting to run the tool) would wait out the hold for nothing."""
    served.lag.value = 0.05
    before = len(served.pacing.holds)
    call = digest(stream(served.url, '/tool get_weather {"city": "Paris"}', tools=[WEATHER]))
    assert call[0][:3] == ("call", 0, "get_weather")
    assert call[-2:] == [("finish", "tool_calls"), "[DONE]"]
    assert served.pacing.holds[before:] == []
    words = digest(stream(served.url, "/tokens 12"))  # the same lag holds streamed words
    assert words[0][0] == "text" and words[-1] == "[DONE]"
    assert served.pacing.holds[before:] and all(h > 0 for h in served.pacing.holds[before:])


def test_a_continued_run_coalesces_under_lag_too(served: Served, paced_stack: Stack) -> None:
    """The answer after a tool round comes from a Run read by its own task (held open):
    what queued while the stream held goes out together, not one queued batch per hold."""

    def round_trip(tag: str) -> tuple[list[Any], int]:
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": f'{tag}\n/tool get_weather {{"city": "Paris"}}\n/tokens 30'}
        ]
        body = {"model": "gpt-5.4", "messages": messages, "tools": [WEATHER]}
        first = httpx.post(served.url + "/v1/chat/completions", json=body, timeout=30).json()
        call = first["choices"][0]["message"]["tool_calls"][0]
        messages.append(first["choices"][0]["message"])
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": "sunny"})
        served.recorder.writes.clear()
        continued = paced_stack.backend.tool_rounds["continued"]
        events = stream_messages(served.url, messages, tools=[WEATHER])
        assert paced_stack.backend.tool_rounds["continued"] == continued + 1
        return digest(events), len(served.recorder.writes)

    unheld, _ = round_trip("unheld")
    served.lag.value = 0.05
    held, writes = round_trip("held")
    assert held == unheld
    assert len(held[0][1].split()) == 30
    assert writes < 30 / 2


def test_a_client_leaving_during_a_hold_cancels_the_run(paced_stack: Stack) -> None:
    app = create_app(paced_stack.backend, mode="emulator")
    lag = FakeLag(100.0)
    # A hold far longer than the wait below: the Run is cancelled while the stream holds.
    app.state.write_pacing = RecordingPacing(lag, max_hold=60.0)
    cancelled = paced_stack.counters.runs_cancelled
    body = {"model": "gpt-5.4", "stream": True}
    body["messages"] = [{"role": "user", "content": "/tokens 200"}]
    with serve(paced_stack, app) as url:
        with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=30) as r:
            for line in r.iter_lines():
                if '"content":"' in line and '"content":""' not in line:
                    break
            wait_for(lambda: 60.0 in app.state.write_pacing.holds)
        wait_for(lambda: paced_stack.counters.runs_cancelled > cancelled)
        wait_for(lambda: lag.users == 0)


# -- the policy and the lag measure ----------------------------------------------------------


def test_the_hold_grows_with_the_lag_up_to_its_cap() -> None:
    lag = FakeLag(0.0)
    policy = WritePacing(lag, behind=0.004, per_lag=2.0, max_hold=0.05)
    assert policy.hold() == 0.0
    lag.value = 0.0039
    assert policy.hold() == 0.0
    lag.value = 0.01
    assert policy.hold() == pytest.approx(0.02)
    lag.value = 1.0
    assert policy.hold() == 0.05


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def tick(lag: LoopLag) -> None:
    """Run the pending tick now (on the fake clock), in place of its timer."""
    assert lag._timer is not None
    lag._timer.cancel()
    lag._tick()


async def test_loop_lag_averages_how_late_its_timer_runs_while_acquired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(pacing.time, "perf_counter", clock)
    lag = LoopLag(asyncio.get_running_loop(), interval=0.005)
    policy = WritePacing(lag)
    assert lag.lag() == 0.0  # nobody listens: no timer, no reading
    lag.acquire()
    lag.acquire()
    assert lag.lag() == 0.0  # the tick is not due yet
    # One stray late tick (the process descheduled for 10 ms) is not "behind".
    clock.now += 0.005 + 0.010
    tick(lag)
    assert 0.0 < lag.lag() < pacing.BEHIND
    assert policy.hold() == 0.0
    # A loop that stays late is, already before its next tick runs ...
    for _ in range(3):
        clock.now += 0.005 + 0.030
        tick(lag)
    clock.now += 0.005 + 0.030
    stalled = lag.lag()
    assert stalled > pacing.BEHIND
    assert policy.hold() == min(pacing.MAX_HOLD, stalled * pacing.HOLD_PER_LAG)
    # ... and is no longer after a few ticks on time.
    clock.now -= 0.030
    for _ in range(12):
        tick(lag)
        clock.now += 0.005
    assert lag.lag() < pacing.BEHIND
    assert policy.hold() == 0.0
    lag.release()
    assert lag._timer is not None  # one stream still open
    lag.release()
    assert lag._timer is None
    clock.now += 1.0
    assert lag.lag() == 0.0


async def test_each_event_loop_has_its_own_pacing() -> None:
    here = pacing.loop_pacing()
    assert pacing.loop_pacing() is here
    other = await asyncio.to_thread(lambda: asyncio.run(_loop_pacing()))
    assert other is not here


async def _loop_pacing() -> WritePacing:
    return pacing.loop_pacing()
