"""Every checkpoint tier's store keeps the same promises (see ``controlplane.checkpoints.blobstore``)."""

from __future__ import annotations

import threading

import pytest

from controlplane.checkpoints.blobstore import BlobNotFoundError
from tests.contract.checkpoints.conftest import StoreUnderTest


def test_a_value_put_is_read_back_and_a_second_put_replaces_it(subject: StoreUnderTest) -> None:
    key = subject.key("step-1/shard-0.bin")

    subject.store.put(key, b"first")
    assert subject.store.get(key) == b"first" and subject.store.size(key) == 5
    subject.store.put(key, bytearray(b"second value"))

    assert subject.store.get(key) == b"second value" and subject.store.size(key) == 12


def test_missing_keys_raise_not_found_and_have_no_size(subject: StoreUnderTest) -> None:
    with pytest.raises(BlobNotFoundError):
        subject.store.get(subject.key("nowhere.bin"))
    assert subject.store.size(subject.key("nowhere.bin")) is None


def test_byte_ranges_are_read_with_the_end_clipped_to_the_size(subject: StoreUnderTest) -> None:
    key = subject.key("range.bin")
    subject.store.put(key, memoryview(bytes(range(100))))

    assert subject.store.get(key, 10, 20) == bytes(range(10, 20))
    assert subject.store.get(key, 95, 1000) == bytes(range(95, 100))
    assert subject.store.get(key, 0, 0) == b""


def test_listing_returns_every_key_under_a_prefix_sorted(subject: StoreUnderTest) -> None:
    for relative in ("b/2.bin", "a/1.bin", "a/deeper/3.json", "c.txt"):
        subject.store.put(subject.key(relative), b"x")

    assert subject.store.list(subject.key("a/")) == [subject.key("a/1.bin"), subject.key("a/deeper/3.json")]
    assert subject.store.list(subject.prefix) == sorted(subject.key(name) for name in
                                                        ("a/1.bin", "a/deeper/3.json", "b/2.bin", "c.txt"))
    assert subject.store.list(subject.key("missing/")) == []


def test_deleting_is_idempotent_and_a_prefix_delete_spares_its_neighbours(subject: StoreUnderTest) -> None:
    for relative in ("keep/1", "drop/1", "drop/2/3"):
        subject.store.put(subject.key(relative), b"x")

    subject.store.delete(subject.key("never-written"))
    subject.store.delete(subject.key("keep/1"))
    subject.store.delete(subject.key("keep/1"))
    subject.store.delete_prefix(subject.key("drop/"))

    assert subject.store.list(subject.prefix) == []
    subject.store.put(subject.key("keep/2"), b"y")
    assert subject.store.list(subject.prefix) == [subject.key("keep/2")]


@pytest.mark.parametrize("bad", ["../escape", "/absolute", "a//b", "dir/", "a/./b", ""])
def test_keys_that_could_escape_or_name_a_directory_are_refused(subject: StoreUnderTest, bad: str) -> None:
    with pytest.raises(ValueError):
        subject.store.put(bad, b"x")


def test_large_values_survive_intact(subject: StoreUnderTest) -> None:
    value = bytes(range(256)) * (20 * 4096 + 3)  # ~20 MiB, not a multiple of any part size
    key = subject.key("large.bin")

    subject.store.put(key, value)

    assert subject.store.size(key) == len(value)
    assert subject.store.get(key) == value
    assert subject.store.get(key, len(value) - 10) == value[-10:]


def test_a_reader_never_sees_a_partly_written_value(subject: StoreUnderTest) -> None:
    key = subject.key("atomic.bin")
    size = 4 << 20
    values = [bytes([1]) * size, bytes([2]) * size]
    subject.store.put(key, values[0])
    seen: list[bytes] = []
    done = threading.Event()

    def write() -> None:
        try:
            for index in range(6):
                subject.store.put(key, values[index % 2])
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    while not done.is_set() or len(seen) < 3:
        seen.append(subject.store.get(key))
    writer.join()

    assert all(value in values for value in seen)
