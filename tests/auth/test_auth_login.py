"""PKCE values and the browser-login poll loop (schedule, errors, timeout, cancel)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from cursor_bridge.auth import AuthError, LoginAttempt, LoginFailed, wait_for_approval
from cursor_bridge.protocol.auth import TokenPair, challenge_for, new_verifier, poll_delay
from tests.support.polling import wait_until


def test_challenge_is_unpadded_base64url_of_sha256() -> None:
    verifier = "dBjftJeZ4CVP-mJ92K9ZUxNGxdy2Tt2PpbTNBk0RNFE"
    digest = hashlib.sha256(verifier.encode()).digest()
    expected = base64.b64encode(digest).decode().replace("+", "-").replace("/", "_").strip("=")
    assert challenge_for(verifier) == expected
    assert len(expected) == 43


def test_verifier_is_32_random_bytes_base64url() -> None:
    first, second = new_verifier(), new_verifier()
    assert len(first) == 43 and "=" not in first and first != second


def test_login_url_carries_challenge_uuid_mode_and_target() -> None:
    attempt = LoginAttempt.start("https://cursor.com")
    parts = urlsplit(attempt.url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "cursor.com", "/loginDeepControl")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "challenge": challenge_for(attempt.verifier),
        "uuid": attempt.login_id,
        "mode": "login",
        "redirectTarget": "cli",
    }
    assert attempt.verifier not in repr(attempt)


def test_poll_schedule_grows_by_1_2_up_to_10_seconds() -> None:
    assert poll_delay(0) == 1.0
    assert poll_delay(1) == pytest.approx(1.2)
    assert poll_delay(5) == pytest.approx(1.2**5)
    assert poll_delay(30) == 10.0


class FakePolls:
    """Answers polls from a script: None = 404 (pending), an exception, or a token pair."""

    def __init__(self, script: list[object]) -> None:
        self.script = script
        self.calls = 0

    async def poll(self, login_id: str, verifier: str) -> TokenPair | None:
        item = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if isinstance(item, Exception):
            raise item
        assert item is None or isinstance(item, TokenPair)
        return item


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


ATTEMPT = LoginAttempt.start("http://emulator")
PAIR = TokenPair("access", "refresh")


async def test_pending_then_approved_follows_the_schedule() -> None:
    polls, sleeps = FakePolls([None, None, None, PAIR]), Sleeps()
    pair = await wait_for_approval(polls, ATTEMPT, sleep=sleeps)  # type: ignore[arg-type]
    assert pair == PAIR
    assert polls.calls == 4
    assert sleeps.delays == pytest.approx([1.0, 1.2, 1.44])


async def test_three_failures_in_a_row_end_the_login() -> None:
    boom = AuthError("login poll: HTTP 500", status=500)
    polls = FakePolls([boom, boom, boom, PAIR])
    with pytest.raises(LoginFailed, match="3 failed polls"):
        await wait_for_approval(polls, ATTEMPT, sleep=Sleeps())  # type: ignore[arg-type]
    assert polls.calls == 3


async def test_a_pending_answer_resets_the_failure_count() -> None:
    boom = AuthError("login poll: HTTP 502", status=502)
    polls = FakePolls([boom, boom, None, boom, boom, PAIR])
    assert await wait_for_approval(polls, ATTEMPT, sleep=Sleeps()) == PAIR  # type: ignore[arg-type]


async def test_timeout_ends_the_login() -> None:
    polls = FakePolls([None])
    with pytest.raises(LoginFailed, match="not approved within"):
        await wait_for_approval(polls, ATTEMPT, timeout=0.05, delay_scale=0.01)  # type: ignore[arg-type]


async def test_too_many_polls_end_the_login() -> None:
    polls = FakePolls([None])
    with pytest.raises(LoginFailed, match="after 150 polls"):
        await wait_for_approval(polls, ATTEMPT, sleep=Sleeps())  # type: ignore[arg-type]
    assert polls.calls == 150


async def test_cancelling_stops_polling() -> None:
    polls = FakePolls([None])
    task = asyncio.create_task(wait_for_approval(polls, ATTEMPT, delay_scale=0.001))  # type: ignore[arg-type]
    await wait_until(lambda: polls.calls >= 3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    calls = polls.calls
    await asyncio.sleep(0.01)
    assert polls.calls == calls
