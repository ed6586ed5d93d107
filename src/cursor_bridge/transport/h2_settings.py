"""h2 settings read on every stream opened, without h2's Mapping machinery.

h2's `Settings` is a MutableMapping: `settings.max_concurrent_streams` runs `Mapping.get`,
`__getitem__` and a property, three Python frames, and opening a stream reads three such
values. These read the same backing stacks directly (the answers are h2's in every state:
tests/transport/test_settings_reads.py).
"""

from __future__ import annotations

from h2.settings import SettingCodes, Settings

__all__ = ["current_setting", "initial_window", "stream_limit"]

# What h2's Settings answers for an unset MAX_CONCURRENT_STREAMS (unlimited).
_UNLIMITED_STREAMS = 2**32 + 1
_MAX_CONCURRENT_STREAMS = SettingCodes.MAX_CONCURRENT_STREAMS
_INITIAL_WINDOW_SIZE = SettingCodes.INITIAL_WINDOW_SIZE


def current_setting(settings: Settings, code: SettingCodes, default: int) -> int:
    """`settings.get(code, default)`: the current (acknowledged) value, read from h2's
    backing dict of value stacks as `Settings.__getitem__` reads it (a stack whose current
    value is None, made when a new setting was proposed, counts as unset), without the
    three Python frames of `Mapping.get`. Read on every stream opened."""
    values = settings._settings.get(code)
    value = values[0] if values else None
    return default if value is None else value


def stream_limit(settings: Settings) -> int:
    """`settings.max_concurrent_streams` (see `current_setting`)."""
    return current_setting(settings, _MAX_CONCURRENT_STREAMS, _UNLIMITED_STREAMS)


def initial_window(settings: Settings) -> int:
    """`settings.initial_window_size` (see `current_setting`; h2 starts it at 65,535 and
    it stays set: were it not, h2's own property answers, raising as it does)."""
    values = settings._settings.get(_INITIAL_WINDOW_SIZE)
    value = values[0] if values else None
    return settings.initial_window_size if value is None else value
