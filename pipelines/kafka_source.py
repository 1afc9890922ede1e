"""A bounded Kafka source for Beam: explicit offset ranges read with kafka-python.

Each element is a ``PartitionRange`` — one topic-partition and the offsets ``[start, end)``
to read. A splittable DoFn claims offsets with an ``OffsetRestrictionTracker`` (so a runner
may split a long range) and emits the records as batches (lists of ``KafkaRecord``) of up
to ``batch_records`` messages or ``batch_bytes`` bytes: downstream transforms work on
batches, never one message at a time. Beam's Java ``ReadFromKafka`` is not used.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.transforms.core import RestrictionProvider

POLL_TIMEOUT_MS = 1000
SPLIT_SIZE = 200_000  # offsets per initial split of a range (parallelism on several workers)
MAX_EMPTY_POLLS = 30  # a range that stays empty this long means the broker lost the data


class PartitionRange(NamedTuple):
    topic: str
    partition: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


class KafkaRecord(NamedTuple):
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None


class _RangeRestrictions(RestrictionProvider):
    def initial_restriction(self, element: PartitionRange) -> OffsetRange:
        return OffsetRange(element.start, element.end)

    def create_tracker(self, restriction: OffsetRange) -> OffsetRestrictionTracker:
        return OffsetRestrictionTracker(restriction)

    def restriction_size(self, element: PartitionRange, restriction: OffsetRange) -> int:
        return restriction.size()

    def split(self, element: PartitionRange, restriction: OffsetRange) -> Iterator[OffsetRange]:
        yield from restriction.split(SPLIT_SIZE)


class ReadRangeFn(beam.DoFn):
    """Reads one partition range; yields lists of ``KafkaRecord``."""

    def __init__(self, bootstrap: str, batch_records: int, batch_bytes: int) -> None:
        self.bootstrap = bootstrap
        self.batch_records = batch_records
        self.batch_bytes = batch_bytes
        self.consumer: Any = None

    def setup(self) -> None:
        from kafka import KafkaConsumer

        # kafka-python warns whenever decoding a large fetch holds its event loop >100 ms
        logging.getLogger("kafka.net.selector").setLevel(logging.ERROR)

        self.consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            client_id="finradar-ingest",
            max_partition_fetch_bytes=16 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
            receive_message_max_bytes=128 * 1024 * 1024,
        )

    def teardown(self) -> None:
        if self.consumer is not None:
            self.consumer.close()

    def process(
        self,
        element: PartitionRange,
        tracker: OffsetRestrictionTracker = beam.DoFn.RestrictionParam(_RangeRestrictions()),  # noqa: B008
    ) -> Iterator[list[KafkaRecord]]:
        from kafka import TopicPartition

        restriction = tracker.current_restriction()
        tp = TopicPartition(element.topic, element.partition)
        self.consumer.assign([tp])
        self.consumer.seek(tp, restriction.start)
        batch: list[KafkaRecord] = []
        batch_size = 0
        empty_polls = 0
        while True:
            polled = self.consumer.poll(timeout_ms=POLL_TIMEOUT_MS, max_records=5000).get(tp, [])
            if not polled:
                if self.consumer.position(tp) >= restriction.stop:
                    break
                empty_polls += 1
                if empty_polls >= MAX_EMPTY_POLLS:
                    raise RuntimeError(
                        f"{element.topic}[{element.partition}] returned nothing at offset "
                        f"{self.consumer.position(tp)}, before the end {restriction.stop}"
                    )
                continue
            empty_polls = 0
            for r in polled:
                if not tracker.try_claim(r.offset):
                    if batch:
                        yield batch
                    return
                batch.append(
                    KafkaRecord(r.topic, r.partition, r.offset, r.timestamp, r.key, r.value)
                )
                batch_size += len(r.value or b"")
                if len(batch) >= self.batch_records or batch_size >= self.batch_bytes:
                    yield batch
                    batch, batch_size = [], 0
            if self.consumer.position(tp) >= restriction.stop:
                break
        if batch:
            yield batch
        # offsets may have gaps (transaction markers, compaction): claiming the end marks the
        # whole range done whatever the last record's offset was
        tracker.try_claim(restriction.stop)


class ReadKafkaRanges(beam.PTransform):
    """``PartitionRange`` elements → batches of ``KafkaRecord`` (lists), per partition range."""

    def __init__(
        self, bootstrap: str, batch_records: int = 5000, batch_bytes: int = 16 * 1024 * 1024
    ) -> None:
        super().__init__()
        self.bootstrap = bootstrap
        self.batch_records = batch_records
        self.batch_bytes = batch_bytes

    def expand(self, ranges: beam.PCollection) -> beam.PCollection:
        fn = ReadRangeFn(self.bootstrap, self.batch_records, self.batch_bytes)
        return ranges | "Read offset ranges" >> beam.ParDo(fn)
