"""A bounded Kafka source for Beam: explicit offset ranges read with kafka-python.

Each element is a ``PartitionRange`` (``handoff.records``) — one topic-partition and the
offsets ``[start, end)`` to read, cut by the pipeline into chunks (``chunks``) of each
worker's share — read with kafka-python and emitted as batches (lists of
``KafkaRecord``) of up to ``batch_records`` messages or ``batch_bytes`` bytes: downstream
transforms work on batches, never one message at a time. Beam's Java ``ReadFromKafka`` is
not used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import apache_beam as beam
from kafka import TopicPartition
from kafka.errors import KafkaError

from contracts.spec import MAX_MESSAGE_BYTES
from finradar.errors import FinradarError, TransientError
from finradar.settings import KafkaSettings
from handoff.records import KafkaRecord, PartitionRange
from infra.kafka_clients import reachable, reader, replace_shared_reader, shared_reader
from pipelines.batch_gc import paused_while_consumed, tune_worker_collector
from pipelines.batches import RecordBatch
from pipelines.coders import outputs_batches
from pipelines.worker_logging import quiet_worker_logs

POLL_TIMEOUT_MS = 1000
ASK_BROKER_AFTER = 3  # empty polls before asking whether the broker is there at all
# empty polls before asking the broker whether it still holds the offsets wanted: if not,
# it lost them; if so, the reader's client stopped fetching them (seen once, under load,
# with a long-lived reader) and a new client reads them
ASK_LOG_AFTER = 10
POLL_RECORDS = 5000  # the most records a reader's poll returns


class StalledRead(TransientError):
    """The broker holds the offsets wanted, but the reader's client returns none of them."""


class _ReaderFn(beam.DoFn):
    """A DoFn with a kafka-python reader: its own, or the process's (``shared``)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        batch_records: int,
        batch_bytes: int,
        shared: bool = False,
        worker_log_level: str = "CRITICAL",
    ) -> None:
        # its secrets pickle as references, read where the step runs (``Secret``)
        self.kafka = kafka
        self.batch_records = batch_records
        self.batch_bytes = batch_bytes
        self.shared = shared
        self.worker_log_level = worker_log_level
        self.consumer: Any = None

    def setup(self) -> None:
        # the first step of a worker's bundle: quiet before the reader can fail
        quiet_worker_logs(self.worker_log_level)
        tune_worker_collector()
        if not self.shared:
            self.consumer = reader(self.kafka)

    def reader(self) -> Any:
        """This DoFn's own reader, or the calling thread's (``shared``): a runner may call
        one DoFn from different threads (one at a time), and several DoFns at once."""
        return shared_reader(self.kafka) if self.shared else self.consumer

    def replace_reader(self) -> None:
        """Drop a reader that stalled (``StalledRead``): the next read opens a new client."""
        if self.shared:
            replace_shared_reader(self.kafka)
        else:
            self.consumer.close()
            self.consumer = reader(self.kafka)

    def teardown(self) -> None:
        if self.consumer is not None and not self.shared:
            self.consumer.close()


class ReadRangeFn(_ReaderFn):
    """Reads one partition range to its end; yields lists of ``KafkaRecord``."""

    def process(self, element: PartitionRange) -> Iterator[RecordBatch]:
        records = read_offsets(self.reader(), element, lambda offset: True)
        try:
            yield from paused_while_consumed(batched(records, self.batch_records, self.batch_bytes))
        except StalledRead:
            # batches already went downstream: the pass fails (transient), the next reads anew
            self.replace_reader()
            raise


def chunks(r: PartitionRange, size: int) -> list[PartitionRange]:
    """``r`` cut into ranges of at most ``size`` offsets: the units a runner spreads over
    its workers. (A splittable DoFn would let the runner cut them itself; the in-process
    runner's workers then split a range every few hundred records, each split a new seek
    and fetch, and read a hundred times slower.)"""
    return [
        PartitionRange(r.topic, r.partition, start, min(start + size, r.end))
        for start in range(r.start, r.end, size)
    ]


def read_offsets(
    consumer: Any, r: PartitionRange, claim: Callable[[int], bool]
) -> Iterator[KafkaRecord]:
    """The records of ``[r.start, r.end)`` in offset order, each claimed first (a refused
    claim ends the read: the rest of the range belongs to another reader)."""
    tp = TopicPartition(r.topic, r.partition)
    consumer.assign([tp])
    consumer.seek(tp, r.start)
    empty_polls = 0
    while True:
        polled = consumer.poll(timeout_ms=POLL_TIMEOUT_MS, max_records=POLL_RECORDS).get(tp, [])
        if not polled:
            if consumer.position(tp) >= r.end:
                return
            empty_polls += 1
            _give_up_if_gone(consumer, tp, r.end, empty_polls)
            continue
        empty_polls = 0
        for m in polled:
            if m.offset >= r.end or not claim(m.offset):
                return
            yield _record(m)
        if consumer.position(tp) >= r.end:
            return


def _record(message: Any) -> KafkaRecord:
    m = message
    return KafkaRecord(m.topic, m.partition, m.offset, m.timestamp, m.key, m.value)


def _give_up_if_gone(consumer: Any, tp: Any, end: int, empty_polls: int) -> None:
    """After a few empty polls, a broker that no longer answers ends the pass (transient:
    the next pass reads the same offsets again). After more, the broker is asked what its
    log of the partition holds: offsets it no longer holds were lost (retention, a
    truncated log); offsets it holds mean the reader stalled (``StalledRead``)."""
    position = consumer.position(tp)
    where = f"{tp.topic}[{tp.partition}] at offset {position} of {end}"
    if empty_polls >= ASK_BROKER_AFTER:
        servers = consumer.config["bootstrap_servers"]
        bootstrap = servers if isinstance(servers, str) else ",".join(servers)
        if not reachable(bootstrap):
            raise TransientError(f"lost the Kafka broker at {bootstrap} mid-pass ({where})")
    if empty_polls >= ASK_LOG_AFTER:
        try:
            first = consumer.beginning_offsets([tp])[tp]
            last = consumer.end_offsets([tp])[tp]
        except KafkaError as exc:
            raise TransientError(f"cannot ask Kafka about {where}: {exc}") from None
        if position < first or last < end:
            raise FinradarError(
                f"Kafka no longer holds {where} (its log holds offsets {first} to {last}): "
                f"the broker lost that data"
            )
        raise StalledRead(f"Kafka holds {where} but the reader got none of it")


def batched(
    records: Iterable[KafkaRecord], batch_records: int, batch_bytes: int
) -> Iterator[RecordBatch]:
    """Batches of up to ``batch_records`` records or ``batch_bytes`` bytes of keys and values,
    each in offset order. A value larger than the contract allows (``MAX_MESSAGE_BYTES``: it
    can only be quarantined, unread) goes to a batch of such values, so that a few of them
    do not cut the batches of the others short: each batch is a validation per event type,
    at a fixed cost per call. Keys count: a producer may send large keys with small values,
    and a batch is held whole by each step."""
    batches = {False: RecordBatch(), True: RecordBatch()}
    sizes = {False: 0, True: 0}
    for record in records:
        size = len(record.value or b"")
        oversize = size > MAX_MESSAGE_BYTES
        batch = batches[oversize]
        batch.append(record)
        sizes[oversize] += size + len(record.key or b"")
        if len(batch) >= batch_records or sizes[oversize] >= batch_bytes:
            yield batch
            batches[oversize], sizes[oversize] = RecordBatch(), 0
    for batch in batches.values():
        if batch:
            yield batch


def read_ranges(consumer: Any, ranges: Iterable[PartitionRange]) -> Iterator[KafkaRecord]:
    """The records of several partitions' ranges, read with one assignment (each seek to a
    partition alone is followed by a poll with no fetch in flight, which waits
    ``retry_backoff_ms``), as they arrive: each partition's in offset order. Records are
    yielded poll by poll, never gathered: a pass of few messages may still be gigabytes of
    them (a read step's batches bound what it holds)."""
    wanted = {TopicPartition(r.topic, r.partition): r for r in ranges if r.size}
    if not wanted:
        return
    consumer.assign(list(wanted))
    for tp, r in wanted.items():
        consumer.seek(tp, r.start)
    try:
        yield from _poll_until_ends(consumer, wanted)
    finally:
        # the consumer keeps a partition's state, paused or not, across assignments
        consumer.resume(*wanted)


def _poll_until_ends(consumer: Any, wanted: dict[Any, PartitionRange]) -> Iterator[KafkaRecord]:
    pending = set(wanted)
    empty_polls = 0
    while pending:
        polled = consumer.poll(timeout_ms=POLL_TIMEOUT_MS, max_records=POLL_RECORDS)
        got = False
        for tp, messages in polled.items():
            end = wanted[tp].end
            for m in messages:
                if m.offset >= end:
                    break
                got = True
                yield _record(m)
        # a partition is done once its position passes its end (offsets may have gaps)
        done = [tp for tp in pending if consumer.position(tp) >= wanted[tp].end]
        if done:
            consumer.pause(*done)
            pending.difference_update(done)
        empty_polls = 0 if got or done else empty_polls + 1
        if empty_polls:
            tp = min(pending)
            _give_up_if_gone(consumer, tp, wanted[tp].end, empty_polls)


class ReadTopicRangesFn(_ReaderFn):
    """Reads all ranges of one topic (a tuple of ``PartitionRange``) into shared batches."""

    def process(self, ranges: tuple[PartitionRange, ...]) -> Iterator[RecordBatch]:
        sent = False
        try:
            for batch in self._batches(ranges):
                sent = True
                yield batch
        except StalledRead:
            self.replace_reader()
            if sent:  # batches already went downstream: the pass fails (transient)
                raise
            yield from self._batches(ranges)  # none did: read again with the new client

    def _batches(self, ranges: tuple[PartitionRange, ...]) -> Iterator[RecordBatch]:
        records = read_ranges(self.reader(), ranges)
        return paused_while_consumed(batched(records, self.batch_records, self.batch_bytes))


class ReadKafkaRanges(beam.PTransform):
    """``PartitionRange`` elements → batches of ``KafkaRecord`` (lists), per partition range.

    ``shared``: read with this process's long-lived consumer (``follow``)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        batch_records: int = 5000,
        batch_bytes: int = 16 * 1024 * 1024,
        shared: bool = False,
        worker_log_level: str = "CRITICAL",
    ) -> None:
        super().__init__()
        self.fn = ReadRangeFn(kafka, batch_records, batch_bytes, shared, worker_log_level)

    def expand(self, ranges: beam.PCollection) -> beam.PCollection:
        return ranges | "Read offset ranges" >> outputs_batches(beam.ParDo(self.fn), RecordBatch)


def by_topic(plan: Iterable[PartitionRange]) -> list[tuple[PartitionRange, ...]]:
    """The plan's ranges grouped per topic (the elements of ``ReadSmallPass``)."""
    topics: dict[str, list[PartitionRange]] = {}
    for r in plan:
        topics.setdefault(r.topic, []).append(r)
    return [tuple(ranges) for _, ranges in sorted(topics.items())]


class ReadSmallPass(beam.PTransform):
    """Tuples of one topic's ``PartitionRange``s → batches of ``KafkaRecord``, per topic.

    For a pass that fits in one batch per topic (the short passes of ``follow`` and of a
    frequent schedule): a validation costs about the same fixed time whatever its size, so
    nine short partition ranges become three batches, and nothing needs splitting, so a
    plain DoFn reads them.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        batch_records: int,
        batch_bytes: int,
        shared: bool = False,
        worker_log_level: str = "CRITICAL",
    ) -> None:
        super().__init__()
        self.fn = ReadTopicRangesFn(kafka, batch_records, batch_bytes, shared, worker_log_level)

    def expand(self, topics: beam.PCollection) -> beam.PCollection:
        return topics | "Read topic ranges" >> outputs_batches(beam.ParDo(self.fn), RecordBatch)
