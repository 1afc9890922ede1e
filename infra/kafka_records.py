"""A faster reading of fetched record batches, for the readers of ``kafka_clients`` only
(kafka-python 3.0.12).

A pass spends about a quarter of a worker's time in kafka-python, and half of that in
turning a fetched record batch into records: for each record a ``DefaultRecord`` object,
seven calls of ``decode_varint``, its properties read one by one, two calls of the
consumer's deserializers (none here) and every value copied twice (a slice of the batch's
``bytearray``, then ``bytes`` of it). ``FastPartitionRecords`` reads the records of a
message-format-v2 batch in one loop instead: varints of one or two bytes (all but a few)
decoded in line, each key and value copied once, straight into kafka-python's own
``ConsumerRecord``.
``python -m tests.bench.reader_threads 1000000`` reads a backlog both ways: in three runs on
2026-12-05 the consuming thread took 3.6–3.8 s against 5.1–5.6 s.

It gives kafka-python's own records, field for field, and raises its errors
(``tests/unit/test_kafka_records.py`` compares the two on batches of every kind):

* the batch loop is kafka-python's own (``Fetcher.PartitionRecords._unpack_records``):
  CRC checks, a read-committed consumer's aborted transactions and control batches, the
  next fetch offset;
* only the records of a v2 batch are read here, and only for a consumer without
  deserializers; a legacy (v0/v1) batch, or a consumer with deserializers, is read by
  kafka-python's own code;
* a record that does not parse (a varint past the buffer, a length that disagrees) raises
  ``CorruptRecordError`` as kafka-python's ``DefaultRecordBatch`` does, and the bytes left
  after a batch's last record too.

``KafkaBytes.read`` (every field of every response the IO thread decodes, a fetched
partition's records among them) copies its slice twice, as a ``bytearray`` and then as
``bytes``, each a fresh allocation; ``install`` makes it copy once (the same bytes): a 2 MiB
field, a fetched partition's records, in 135 µs against 1,248 µs (``reader_threads`` prints
both), though the IO thread's CPU on a whole backlog varies more than that between runs.
Both are installed only for the kafka-python release whose code was read
(``CHECKED_VERSION``); another release runs its own code until someone reads it and the
tests again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from typing import Any

import kafka
from kafka import errors
from kafka.consumer.fetcher import ConsumerRecord, Fetcher
from kafka.protocol.consumer import IsolationLevel
from kafka.protocol.frame import KafkaBytes
from kafka.record.default_records import DefaultRecordBatch
from kafka.record.util import decode_varint

CHECKED_VERSION = "3.0.12"
_LOG_APPEND_TIME = DefaultRecordBatch.LOG_APPEND_TIME
# a ``ConsumerRecord`` of its fields' tuple, as its constructor makes it without the Python
# call in between (with the two-byte varints of ``_varint``: see there)
_consumer_record = partial(tuple.__new__, ConsumerRecord)
_installing = threading.Lock()
_installed = False
LIBRARY_READ = KafkaBytes.read  # kafka-python's own, before ``install``


def checked() -> bool:
    """Whether the installed kafka-python is the release this module was written against."""
    return kafka.__version__ == CHECKED_VERSION


def install(consumer: Any) -> Any:
    """``consumer`` reading its fetched batches with ``FastPartitionRecords`` (and
    ``KafkaBytes.read`` copying once, in the whole process), if kafka-python is the
    release checked; else ``consumer`` as it was."""
    global _installed
    if not checked():
        return consumer
    with _installing:
        if not _installed:
            KafkaBytes.read = _read_once
            _installed = True
    consumer._fetcher.PartitionRecords = FastPartitionRecords
    return consumer


def _read_once(self: KafkaBytes, nbytes: int | None = None) -> bytes:
    """``KafkaBytes.read``: the next ``nbytes`` (all that is left: None) as ``bytes``,
    copied once."""
    start = self._idx
    self._idx = len(self) if nbytes is None else min(start + nbytes, len(self))
    with memoryview(self) as view:
        return bytes(view[start : self._idx])


class FastPartitionRecords(Fetcher.PartitionRecords):
    """kafka-python's ``PartitionRecords``, reading v2 batches with ``batch_records``."""

    def _unpack_records(
        self, tp: Any, records: Any, key_deserializer: Any, value_deserializer: Any
    ) -> Iterator[Any]:
        if key_deserializer is not None or value_deserializer is not None:
            yield from super()._unpack_records(tp, records, key_deserializer, value_deserializer)
            return
        # kafka-python 3.0.12's loop over the batches, its own records read as there
        try:
            batch = records.next_batch()
            last_batch = None
            while batch is not None:
                last_batch = batch
                if self.check_crcs and not batch.validate_crc():
                    raise errors.CorruptRecordError(
                        f"Record batch for partition {self.topic_partition} at offset "
                        f"{batch.base_offset} failed crc check"
                    )
                if batch.magic == 2:
                    self.leader_epoch = batch.leader_epoch
                    if (
                        self.isolation_level == IsolationLevel.READ_COMMITTED
                        and batch.has_producer_id()
                    ):
                        self._consume_aborted_transactions_up_to(batch.last_offset)
                        producer_id = batch.producer_id
                        if self._contains_abort_marker(batch):
                            self.aborted_producer_ids.discard(producer_id)
                        elif self._is_batch_aborted(batch):
                            self.next_fetch_offset = batch.next_offset
                            batch = records.next_batch()
                            continue
                    if batch.is_control_batch:
                        self.next_fetch_offset = batch.next_offset
                        batch = records.next_batch()
                        continue
                    yield from batch_records(batch, tp, self)
                else:
                    yield from self._legacy_records(tp, batch)
                batch = records.next_batch()
            else:
                if last_batch and last_batch.magic == 2:
                    self.next_fetch_offset = last_batch.next_offset
                self.drain()
        except StopIteration:  # as kafka-python: not taken for the generator's end
            raise RuntimeError("StopIteration raised unpacking messageset") from None

    def _legacy_records(self, tp: Any, batch: Any) -> Iterator[Any]:
        """A v0/v1 batch's records, as kafka-python's loop makes them."""
        for record in batch:
            if self.check_crcs and not record.validate_crc():
                raise errors.CorruptRecordError(
                    f"Record for partition {self.topic_partition} at offset {record.offset} "
                    "failed crc check"
                )
            key, value = record.key, record.value
            self.records_read += 1
            self.bytes_read += record.size_in_bytes
            self.next_fetch_offset = record.offset + 1
            yield ConsumerRecord(
                tp.topic,
                tp.partition,
                self.leader_epoch,
                record.offset,
                record.timestamp,
                record.timestamp_type,
                key,
                value,
                record.headers,
                record.checksum,
                len(key) if key is not None else -1,
                len(value) if value is not None else -1,
                -1,
            )


def batch_records(batch: DefaultRecordBatch, tp: Any, state: Any) -> Iterator[Any]:
    """The records of a v2 batch (decompressed first) as ``ConsumerRecord``s, with
    ``state``'s counts and next fetch offset kept as kafka-python keeps them."""
    batch._maybe_uncompress()
    buffer = batch._buffer
    pos = batch._pos
    topic, partition, epoch = tp.topic, tp.partition, state.leader_epoch
    base_offset = batch.base_offset
    timestamp_type = batch.timestamp_type
    append_time = batch.max_timestamp if timestamp_type == _LOG_APPEND_TIME else None
    first_timestamp = batch.first_timestamp
    try:
        with memoryview(buffer) as view:
            for _ in range(batch._num_records):
                # length, attributes, timestamp delta, offset delta: zigzag varints
                length, pos = _varint(buffer, pos)
                start = pos
                _, pos = _varint(buffer, pos)
                timestamp_delta, pos = _varint(buffer, pos)
                offset_delta, pos = _varint(buffer, pos)
                key, pos = _nullable_bytes(buffer, view, pos)
                value, pos = _nullable_bytes(buffer, view, pos)
                headers, header_size, pos = _headers(buffer, view, pos)
                if pos - start != length:
                    raise errors.CorruptRecordError(
                        "Invalid record size: expected to read "
                        f"{length} bytes in record payload, but instead read {pos - start}"
                    )
                offset = base_offset + offset_delta
                state.records_read += 1
                state.bytes_read += length  # as kafka-python counts a record
                state.next_fetch_offset = offset + 1
                yield _consumer_record(
                    (
                        topic,
                        partition,
                        epoch,
                        offset,
                        first_timestamp + timestamp_delta if append_time is None else append_time,
                        timestamp_type,
                        key,
                        value,
                        headers,
                        None,
                        len(key) if key is not None else -1,
                        len(value) if value is not None else -1,
                        header_size,
                    )
                )
    except (ValueError, IndexError) as err:
        raise errors.CorruptRecordError(f"Found invalid record structure: {err!r}") from None
    if pos != len(buffer):
        raise errors.CorruptRecordError(
            f"{len(buffer) - pos} unconsumed bytes after all records consumed"
        )


def _varint(buffer: bytearray, pos: int) -> tuple[int, int]:
    """A zigzag varint at ``pos`` and the position after it (``decode_varint``)."""
    b = buffer[pos]
    if b < 0x80:
        return (b >> 1) ^ -(b & 1), pos + 1
    # two bytes (64 to 8,191): most records' lengths and values' sizes. With these and
    # ``_consumer_record``, ``python -m tests.bench.reader_threads --parse-only`` read a
    # record in 3.16–3.35 µs against 3.88–4.23 µs before (kafka-python's own 4.33–4.86 µs;
    # three runs each, alternating, 2026-12-07)
    c = buffer[pos + 1]
    if c < 0x80:
        n = (b & 0x7F) | (c << 7)
        return (n >> 1) ^ -(n & 1), pos + 2
    return decode_varint(buffer, pos)


def _nullable_bytes(buffer: bytearray, view: memoryview, pos: int) -> tuple[bytes | None, int]:
    """Bytes at ``pos`` after their size (a varint; -1: None), copied once, and the
    position after them."""
    size, pos = _varint(buffer, pos)
    if size < 0:
        return None, pos
    return bytes(view[pos : pos + size]), pos + size


def _headers(buffer: bytearray, view: memoryview, pos: int) -> tuple[list[Any], int, int]:
    """A record's headers, their serialized size (-1 without any) as kafka-python counts
    it, and the position after them."""
    count, pos = _varint(buffer, pos)
    if count < 0:
        raise errors.CorruptRecordError(f"Found invalid number of record headers {count}")
    headers: list[Any] = []
    size = 0
    for _ in range(count):
        key_size, pos = _varint(buffer, pos)
        if key_size < 0:
            raise errors.CorruptRecordError(f"Invalid negative header key size {key_size}")
        name = bytes(view[pos : pos + key_size]).decode("utf-8")
        value, pos = _nullable_bytes(buffer, view, pos + key_size)
        headers.append((name, value))
        size += len(name.encode("utf-8")) + (len(value) if value is not None else 0)
    return headers, (size if headers else -1), pos
