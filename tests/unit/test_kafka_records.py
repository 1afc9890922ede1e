"""``infra.kafka_records`` reads fetched record batches as kafka-python's own code does: the
same records, field for field, the same fetch state after them, and the same error where
kafka-python raises one, on batches of every kind and on corrupted ones."""

from __future__ import annotations

import random
import struct
from collections import namedtuple
from typing import Any

import pytest
from kafka import TopicPartition
from kafka.consumer.fetcher import Fetcher
from kafka.protocol.consumer import IsolationLevel
from kafka.protocol.frame import KafkaBytes
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.legacy_records import LegacyRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords
from kafka.record.util import calc_crc32c

from infra import kafka_records
from infra.kafka_records import FastPartitionRecords

TP = TopicPartition("fi.spend.disclosures.v1", 1)
Aborted = namedtuple("Aborted", "producer_id first_offset")
CODECS = [0, 1, 2, 3, 4]  # none, gzip, snappy, lz4, zstd
LOG_APPEND_TIME = 0x08
CONTROL = 0x20


def _value(rng: random.Random) -> bytes | None:
    size = rng.choice([0, 1, 63, 64, 200, 8191, 8192, 70_000, -1])
    return None if size < 0 else rng.randbytes(size)


def _batch(
    rng: random.Random,
    base: int,
    codec: int = 0,
    transactional: bool = False,
    producer_id: int = -1,
    records: int = 20,
) -> bytes:
    """A v2 batch of ``records`` records of every shape: null and empty keys and values,
    sizes whose varints take one, two and three bytes, headers, timestamps before and long
    after the first."""
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=codec,
        is_transactional=transactional,
        producer_id=producer_id,
        producer_epoch=0 if producer_id >= 0 else -1,
        base_sequence=0 if producer_id >= 0 else -1,
        batch_size=1 << 30,
    )
    first = 1_764_000_000_000
    for i in range(records):
        headers = [
            (f"h{j}-ü", None if rng.random() < 0.3 else rng.randbytes(rng.choice([0, 5, 300])))
            for j in range(rng.choice([0, 0, 1, 3]))
        ]
        timestamp = first + rng.choice([0, 1, 63, 64, -5, 10**7, 10**11])
        key = _value(rng)
        builder.append(i * rng.choice([1, 1, 3]), timestamp, key, _value(rng), headers)
    built = bytearray(builder.build())
    struct.pack_into(">q", built, 0, base)
    return bytes(built)


def _with_attributes(batch: bytes, add: int) -> bytes:
    """``batch`` with attribute bits added and its CRC written again."""
    data = bytearray(batch)
    (attributes,) = struct.unpack_from(">h", data, 21)
    struct.pack_into(">h", data, 21, attributes | add)
    struct.pack_into(">I", data, 17, calc_crc32c(memoryview(data)[21:]))
    return bytes(data)


def _control(base: int, producer_id: int, commit: bool) -> bytes:
    """A transaction's end marker: a control batch of one record, key (version, type)."""
    builder = DefaultRecordBatchBuilder(2, 0, True, producer_id, 0, 0, 1 << 20)
    builder.append(0, 1_764_000_000_000, struct.pack(">hh", 0, int(commit)), b"\x00" * 6, [])
    data = bytearray(builder.build())
    struct.pack_into(">q", data, 0, base)
    return _with_attributes(bytes(data), CONTROL)


def _legacy(base: int, magic: int) -> bytes:
    builder = LegacyRecordBatchBuilder(magic=magic, compression_type=0, batch_size=1 << 20)
    for i in range(3):
        builder.append(base + i, 1_764_000_000_000 + i if magic else None, b"k", b"v" * i)
    return bytes(builder.build())


def _read(
    kind: type,
    data: bytes,
    fetch_offset: int = 0,
    check_crcs: bool = True,
    committed: bool = False,
    aborted: list[Aborted] | None = None,
) -> tuple[list[Any], Any, tuple[int, int, int, int]]:
    """Every record ``kind`` (kafka-python's ``PartitionRecords`` or ours) reads of the
    fetched ``data``, the error that ended the reading (its class and text), and its state
    after."""
    records = kind(
        fetch_offset,
        TP,
        MemoryRecords(data),
        check_crcs=check_crcs,
        isolation_level=IsolationLevel.READ_COMMITTED if committed else 0,
        aborted_transactions=aborted,
    )
    got: list[Any] = []
    error = None
    while records:  # as the fetcher takes them, until the records are drained
        try:
            got += records.take(7)
        except Exception as exc:
            error = (type(exc), str(exc))
            break
    state = (
        records.next_fetch_offset,
        records.bytes_read,
        records.records_read,
        records.leader_epoch,
    )
    return got, error, state


def _same(data: bytes, **options: Any) -> tuple[list[Any], Any, Any]:
    ours = _read(FastPartitionRecords, data, **options)
    theirs = _read(Fetcher.PartitionRecords, data, **options)
    assert ours == theirs
    return theirs


def test_release_checked() -> None:
    assert kafka_records.checked(), "kafka-python changed: read its fetcher again (CHECKED_VERSION)"


@pytest.mark.parametrize("codec", CODECS)
def test_batches_of_every_codec_read_alike(codec: int) -> None:
    rng = random.Random(codec)
    data = b"".join(_batch(rng, base, codec) for base in (0, 60, 120))
    records, error, _ = _same(data)
    assert error is None and len(records) == 60
    assert any(r.headers for r in records) and any(r.value is None for r in records)


def test_a_fetch_from_the_middle_of_a_batch_and_log_append_time() -> None:
    rng = random.Random(7)
    data = _with_attributes(_batch(rng, 100), LOG_APPEND_TIME) + _batch(rng, 200)
    records, error, _ = _same(data, fetch_offset=105)
    assert error is None and records[0].offset >= 105


def test_transactions_read_committed() -> None:
    rng = random.Random(3)
    data = b"".join(
        [
            _batch(rng, 0, transactional=True, producer_id=5, records=4),
            _control(4, 5, commit=False),  # aborted: its records are never read
            _batch(rng, 5, transactional=True, producer_id=5, records=4),  # a new one
            _control(9, 5, commit=True),
            _batch(rng, 10, records=3),
        ]
    )
    committed, error, _ = _same(data, committed=True, aborted=[Aborted(5, 0)])
    assert error is None
    assert len(committed) == 7 and min(r.offset for r in committed) >= 5
    uncommitted, _, _ = _same(data)
    assert len(uncommitted) == 11  # control records are never records


def test_the_offset_after_skipped_batches_stands_when_a_later_one_fails() -> None:
    rng = random.Random(5)
    broken = bytearray(_batch(rng, 10, records=2))
    broken[-1] ^= 0xFF  # its CRC no longer holds
    for skipped in (_control(4, 5, commit=False), _batch(rng, 5, True, 5, records=4)):
        data = _batch(rng, 0, transactional=True, producer_id=5, records=4) + skipped
        _, error, state = _same(data + broken, committed=True, aborted=[Aborted(5, 0)])
        assert error is not None and error[0].__name__ == "CorruptRecordError"
        assert state[0] >= 5  # past what was skipped


@pytest.mark.parametrize("magic", [0, 1])
def test_legacy_batches_read_alike(magic: int) -> None:
    records, error, _ = _same(_legacy(0, magic) + _legacy(3, magic))
    assert error is None and len(records) == 6


def test_corrupted_batches_fail_alike() -> None:
    """Bytes changed, cut short or added after a batch's records: the same records read,
    then the same error (or none), whatever the change."""
    rng = random.Random(11)
    errors = set()
    for case in range(400):
        data = bytearray(_batch(rng, 0, records=rng.choice([1, 3, 8])) + _batch(rng, 30, records=2))
        for _ in range(rng.choice([1, 2, 4])):
            at = rng.randrange(61, len(data))  # in the records, past the batch header
            data[at] = rng.randrange(256)
        if case % 5 == 0:
            data = data[: rng.randrange(61, len(data))]
        if case % 7 == 0:  # bytes beyond the records the batch counts, length fixed up
            data = bytearray(_batch(rng, 0, records=2)) + b"\x02\x00"
            struct.pack_into(">i", data, 8, len(data) - 12)
        _, error, _ = _same(bytes(data), check_crcs=False)
        errors.add(error[0].__name__ if error else None)
    assert {"CorruptRecordError", None} <= errors


def test_installed_on_finradar_readers_only(monkeypatch: pytest.MonkeyPatch) -> None:
    class Consumer:
        _fetcher = Fetcher.__new__(Fetcher)

    consumer = Consumer()
    assert kafka_records.install(consumer) is consumer
    assert consumer._fetcher.PartitionRecords is FastPartitionRecords
    assert Fetcher.PartitionRecords is not FastPartitionRecords  # other clients: their own
    other = Consumer()
    other._fetcher = Fetcher.__new__(Fetcher)
    monkeypatch.setattr(kafka_records, "CHECKED_VERSION", "0.0.0")
    assert kafka_records.install(other) is other
    assert "PartitionRecords" not in vars(other._fetcher)


def test_a_response_field_is_read_as_kafka_python_reads_it() -> None:
    rng = random.Random(2)
    for _ in range(200):
        data = rng.randbytes(rng.randrange(0, 64))
        ours, theirs = KafkaBytes(len(data)), KafkaBytes(len(data))
        ours.write(data), theirs.write(data)
        ours.seek(0), theirs.seek(0)
        for _ in range(4):
            n = rng.choice([None, 0, 1, 3, 70])
            read = kafka_records._read_once(ours, n)
            assert type(read) is bytes and read == kafka_records.LIBRARY_READ(theirs, n)
            assert ours.tell() == theirs.tell()
    kafka_records.install(type("Consumer", (), {"_fetcher": Fetcher.__new__(Fetcher)})())
    assert KafkaBytes.read is kafka_records._read_once
