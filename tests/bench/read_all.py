"""A plain kafka-python consumer positioned at the start of every contract partition: what
the ingest benchmark's baselines read with."""

from __future__ import annotations

from typing import Any

from kafka import KafkaConsumer, TopicPartition

from contracts.spec import contracts


def consumer_at_start(bootstrap: str) -> tuple[Any, list[Any], dict[Any, int]]:
    """The consumer, its partitions, and each partition's end offset now."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=16 << 20,
        fetch_max_bytes=64 << 20,
    )
    parts = [
        TopicPartition(c.topic, p)
        for c in contracts().values()
        for p in sorted(consumer.partitions_for_topic(c.topic))
    ]
    end = consumer.end_offsets(parts)
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    return consumer, parts, end
