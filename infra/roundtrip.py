"""Send one keyed message through a platform topic and read it back (smoke check)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from finradar.errors import FinradarError
from infra.topics import load_topics


@dataclass(frozen=True)
class RoundTrip:
    topic: str
    partition: int
    offset: int
    seconds: float


def roundtrip(bootstrap: str, timeout_s: float = 20.0) -> RoundTrip:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    topic = load_topics()[0].name
    marker = f"finradar-roundtrip-{uuid.uuid4()}".encode()
    t0 = time.monotonic()
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        meta = producer.send(topic, key=b"finradar.smoke", value=marker).get(timeout=timeout_s)
    finally:
        producer.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, meta.partition)
        consumer.assign([tp])
        consumer.seek(tp, meta.offset)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for record in consumer.poll(timeout_ms=500).get(tp, []):
                if record.offset == meta.offset and record.value == marker:
                    return RoundTrip(topic, meta.partition, meta.offset, time.monotonic() - t0)
    finally:
        consumer.close()
    raise FinradarError(f"message sent to {topic} did not come back within {timeout_s:.0f}s")
