"""The settings read on every stream opened (transport/h2_settings.py `stream_limit`,
`initial_window`) answer what h2's Settings properties answer, in every state a value
can be in: default, unset, given at start, proposed and not yet acknowledged,
acknowledged, proposed anew for a setting that had none."""

from __future__ import annotations

import pytest
from h2.settings import SettingCodes, Settings

from cursor_bridge.transport.h2_settings import initial_window, stream_limit


def _states() -> list[Settings]:
    fresh = Settings(client=True)
    given = Settings(
        client=False,
        initial_values={
            SettingCodes.MAX_CONCURRENT_STREAMS: 7,
            SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20,
        },
    )
    proposed = Settings(client=True)  # a new setting proposed: current value None
    proposed.max_concurrent_streams = 100
    proposed.initial_window_size = 1000
    acknowledged = Settings(client=True)
    acknowledged.max_concurrent_streams = 100
    acknowledged.initial_window_size = 1000
    acknowledged.acknowledge()
    again = Settings(client=True)  # acknowledged, then a change proposed on top
    again.max_concurrent_streams = 100
    again.acknowledge()
    again.max_concurrent_streams = 5
    again.initial_window_size = 5
    zero = Settings(client=True, initial_values={SettingCodes.MAX_CONCURRENT_STREAMS: 0})
    return [fresh, given, proposed, acknowledged, again, zero]


@pytest.mark.parametrize("settings", _states())
def test_the_readers_answer_what_h2_answers(settings: Settings) -> None:
    assert stream_limit(settings) == settings.max_concurrent_streams
    assert initial_window(settings) == settings.initial_window_size


def test_a_missing_window_is_h2s_to_answer() -> None:
    settings = Settings(client=True)
    del settings[SettingCodes.INITIAL_WINDOW_SIZE]
    with pytest.raises(KeyError):
        settings.initial_window_size  # noqa: B018 - h2's own answer
    with pytest.raises(KeyError):
        initial_window(settings)
