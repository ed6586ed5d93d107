"""Random ids (protocol/ids.py, and the dialects' response ids in dialects/common.py): drawn
from os.urandom in batches, each value handed out once, a forked child starting afresh."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable

import pytest

from cursor_bridge.dialects import common
from cursor_bridge.protocol import ids


class CountingUrandom:
    """os.urandom, remembering what it gave."""

    def __init__(self) -> None:
        self.given: list[bytes] = []
        self.real = os.urandom

    def __call__(self, size: int) -> bytes:
        data = self.real(size)
        self.given.append(data)
        return data


@pytest.fixture
def urandom(monkeypatch: pytest.MonkeyPatch) -> CountingUrandom:
    counting = CountingUrandom()
    monkeypatch.setattr(os, "urandom", counting)
    ids._pool.clear()
    ids._uuids.clear()
    common._ids.clear()
    return counting


def test_uuids_are_os_urandom_bytes_in_order_each_used_once(urandom: CountingUrandom) -> None:
    made = [ids.new_uuid() for _ in range(3 * ids._BATCH + 5)]
    assert len(urandom.given) == 4, "one read per batch, not one per id"
    stream = b"".join(urandom.given)
    for index, text in enumerate(made):
        raw = bytearray(stream[16 * index : 16 * index + 16])
        raw[6] = (raw[6] & 0x0F) | 0x40
        raw[8] = (raw[8] & 0x3F) | 0x80
        assert uuid.UUID(text) == uuid.UUID(bytes=bytes(raw))
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert len(set(made)) == len(made)


def test_uuid_texts_are_those_of_uuid_for_every_digit() -> None:
    """Each batch position, and every value of the two digits the version and variant
    replace, written as `uuid.UUID(bytes=..., version=4)` writes it."""
    block = bytes(range(256)) + os.urandom(16 * 64)
    made = ids._uuid_texts(block)
    assert len(made) == len(block) // 16
    for index, text in enumerate(made):
        assert text == str(uuid.UUID(bytes=block[16 * index : 16 * index + 16], version=4))
    every_nibble = b"".join(bytes([n * 17] * 16) for n in range(16))  # 0x00, 0x11, ... 0xff
    for index, text in enumerate(ids._uuid_texts(every_nibble)):
        raw = every_nibble[16 * index : 16 * index + 16]
        assert text == str(uuid.UUID(bytes=raw, version=4))


def test_random_16_draws_apart_from_uuids(urandom: CountingUrandom) -> None:
    uuids = [ids.new_uuid() for _ in range(3)]
    raws = [ids.random_16() for _ in range(3)]
    assert len(urandom.given) == 2, "a batch each"
    assert raws == [urandom.given[1][16 * i : 16 * i + 16] for i in range(3)]
    assert uuids == ids._uuid_texts(urandom.given[0])[:3]


def test_response_ids_are_os_urandom_hex_in_order_each_used_once(
    urandom: CountingUrandom,
) -> None:
    made = [common.random_hex() for _ in range(2 * common._ID_BATCH + 1)]
    assert len(urandom.given) == 3
    assert "".join(made) == b"".join(urandom.given).hex()[: 32 * len(made)]
    assert all(len(text) == 32 for text in made) and len(set(made)) == len(made)


@pytest.mark.parametrize("make", [ids.new_uuid, common.random_hex])
def test_threads_never_get_the_same_id(make: Callable[[], str]) -> None:
    results: list[list[str]] = [[] for _ in range(8)]

    def work(out: list[str]) -> None:
        out.extend(make() for _ in range(2000))

    threads = [threading.Thread(target=work, args=(out,)) for out in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [text for out in results for text in out]
    assert len(set(every)) == len(every) == 16000


@pytest.mark.parametrize(
    ("make", "pool"),
    [
        (ids.new_uuid, ids._uuids),
        (lambda: ids.random_16().hex(), ids._pool),
        (common.random_hex, common._ids),
    ],
)
def test_a_forked_child_does_not_repeat_its_parents_ids(
    make: Callable[[], str], pool: object
) -> None:
    make()  # the pool now holds the parent's next ids
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, to the parent
        os.write(write, make().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read)
    assert child and child != make(), "the child drew from a fresh read"
