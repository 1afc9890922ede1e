"""Kafka offset ranges and the records read from them."""

from __future__ import annotations

from typing import NamedTuple

Coordinates = tuple[str, int, int]  # a message's topic, partition and offset


class PartitionRange(NamedTuple):
    """One topic-partition and the offsets ``[start, end)`` of a pass (or of a lag)."""

    topic: str
    partition: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


class KafkaRecord(NamedTuple):
    """One message as read from Kafka (or from ``quarantine.events`` for a replay)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None

    @property
    def coordinates(self) -> Coordinates:
        return self.topic, self.partition, self.offset
