"""A bulk Kafka producer for volume runs: our own record batches over kafka-python's client.

kafka-python's ``KafkaProducer`` spends ~60 µs of Python per message (futures, accumulator,
per-record varint encoding), which caps one process near 11,000 messages/s. For synthetic
volume the platform needs more, so this producer encodes whole v2 record batches itself
(``encode_batch``: precomputed varints, one CRC-32C per batch in C) and sends them as
``ProduceRequest``s through kafka-python's ``KafkaClient`` (its connection, metadata and
protocol code), with ``acks=all``.

Delivery: one request in flight at a time and a failed request is retried before the next
is sent, so per-partition order is kept. A request that timed out after the broker wrote
it is written twice (at-least-once, like any non-idempotent producer); the ingest counts a
byte-identical repeat as a duplicate.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable
from typing import Any

import crc32c
from kafka import errors as kafka_errors
from kafka.errors import KafkaError
from kafka.partitioner.default import murmur2
from kafka.protocol.producer import ProduceRequest
from kafka.structs import TopicPartition

from finradar.errors import FinradarError
from finradar.settings import KafkaSettings
from infra.kafka_clients import protocol_client

MAX_REQUEST_BYTES = 4 * 1024 * 1024
MAX_BATCH_BYTES = 1024 * 1024
ACKS_ALL = -1
REQUEST_TIMEOUT_MS = 30_000
RETRIES = 5
_HEADER_AFTER_LENGTH = 49  # bytes of the v2 batch header after the batchLength field
_HEAD = struct.Struct(">qiib")  # baseOffset, batchLength, partitionLeaderEpoch, magic
_TAIL = struct.Struct(">hiqqqhii")  # attributes .. recordsCount (the CRC-covered header)
_CRC = struct.Struct(">I")


def _zigzag_varint(value: int) -> bytes:
    z = (value << 1) ^ (value >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


_VARINT = [_zigzag_varint(v) for v in range(1 << 14)]
_NULL_KEY = _zigzag_varint(-1)


def varint(value: int) -> bytes:
    return _VARINT[value] if 0 <= value < 16384 else _zigzag_varint(value)


def encode_record(offset_delta: int, key: bytes | None, value: bytes) -> bytes:
    """One v2 record: attributes 0, timestamp delta 0, no headers."""
    key_part = _NULL_KEY if key is None else varint(len(key)) + key
    body = b"".join(
        (b"\x00\x00", varint(offset_delta), key_part, varint(len(value)), value, b"\x00")
    )
    return varint(len(body)) + body


def encode_batch(records: list[tuple[bytes | None, bytes]], timestamp_ms: int) -> bytes:
    """A v2 record batch (magic 2, no compression, CreateTime, no producer id)."""
    body = b"".join(encode_record(i, k, v) for i, (k, v) in enumerate(records))
    n = len(records)
    tail = _TAIL.pack(0, n - 1, timestamp_ms, timestamp_ms, -1, -1, -1, n) + body
    head = _HEAD.pack(0, _HEADER_AFTER_LENGTH + len(body), -1, 2)
    return head + _CRC.pack(crc32c.crc32c(tail)) + tail


class BulkProducer:
    """Send keyed messages in large batches; ``close()`` flushes and waits for every ack."""

    def __init__(
        self,
        kafka: KafkaSettings,
        topics: Iterable[str],
        client_id: str = "finradar-bulk-produce",
    ) -> None:
        self.client = protocol_client(
            kafka, client_id, request_timeout_ms=REQUEST_TIMEOUT_MS + 5000
        )
        self.partitions: dict[str, list[int]] = {}
        self._leaders: dict[tuple[str, int], int] = {}
        self._refresh_metadata(list(topics))
        self._partition_of: dict[tuple[str, bytes | None], int] = {}
        self._buffers: dict[tuple[str, int], list[tuple[bytes | None, bytes]]] = {}
        self._buffer_bytes: dict[tuple[str, int], int] = {}
        self._pending: list[tuple[int, Any, dict[tuple[str, int], bytes], int]] = []
        self._round_robin = 0
        self.sent = 0
        self.acked = 0

    def _refresh_metadata(self, topics: list[str]) -> None:
        for topic in topics:
            self.client.cluster.add_topic(topic)
        deadline = time.monotonic() + 30
        while True:
            future = self.client.cluster.request_update()
            self.client.poll(future=future, timeout_ms=5000)
            missing = [t for t in topics if not self.client.cluster.partitions_for_topic(t)]
            if not missing:
                break
            if time.monotonic() > deadline:
                raise FinradarError(f"no metadata for topics {missing}")
            time.sleep(0.2)
        for topic in topics:
            parts = sorted(self.client.cluster.partitions_for_topic(topic))
            self.partitions[topic] = parts
            for p in parts:
                self._leaders[(topic, p)] = self.client.cluster.leader_for_partition(
                    TopicPartition(topic, p)
                )

    def _partition(self, topic: str, key: bytes | None) -> int:
        cached = self._partition_of.get((topic, key))
        if cached is None:
            parts = self.partitions[topic]
            if key is None:
                self._round_robin += 1
                return parts[self._round_robin % len(parts)]
            # the Java client's murmur2 partitioner, so keys land where any client puts them
            cached = parts[(murmur2(key) & 0x7FFFFFFF) % len(parts)]
            self._partition_of[(topic, key)] = cached
        return cached

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        tp = (topic, self._partition(topic, key))
        buf = self._buffers.get(tp)
        if buf is None:
            buf = self._buffers[tp] = []
            self._buffer_bytes[tp] = 0
        buf.append((key, value))
        size = self._buffer_bytes[tp] + len(value) + (len(key) if key else 0) + 16
        self._buffer_bytes[tp] = size
        self.sent += 1
        if size >= MAX_BATCH_BYTES or sum(self._buffer_bytes.values()) >= MAX_REQUEST_BYTES:
            self._dispatch()

    def _dispatch(self) -> None:
        """Encode the buffered batches, wait for the previous request, send this one."""
        if not self._buffers:
            return
        now_ms = int(time.time() * 1000)
        by_node: dict[int, dict[tuple[str, int], bytes]] = {}
        counts: dict[int, int] = {}
        for tp, records in self._buffers.items():
            node = self._leaders[tp]
            by_node.setdefault(node, {})[tp] = encode_batch(records, now_ms)
            counts[node] = counts.get(node, 0) + len(records)
        self._buffers, self._buffer_bytes = {}, {}
        self._await_pending()
        for node, batches in by_node.items():
            self._pending.append((node, self._send_request(node, batches), batches, counts[node]))

    def _send_request(self, node: int, batches: dict[tuple[str, int], bytes]) -> Any:
        topic_cls = ProduceRequest.TopicProduceData
        part_cls = topic_cls.PartitionProduceData
        by_topic: dict[str, list[Any]] = {}
        for (topic, partition), records in batches.items():
            by_topic.setdefault(topic, []).append(part_cls(index=partition, records=records))
        request = ProduceRequest(
            transactional_id=None,
            acks=ACKS_ALL,
            timeout_ms=REQUEST_TIMEOUT_MS,
            topic_data=[topic_cls(name=t, partition_data=p) for t, p in by_topic.items()],
            min_version=3,
            max_version=9,
        )
        try:
            self.client.await_ready(node, timeout_ms=30_000)
        except KafkaError as exc:
            raise FinradarError(f"Kafka broker {node} is not reachable: {exc}") from None
        return self.client.send(node, request)

    def _await_pending(self) -> None:
        while self._pending:
            node, future, batches, count = self._pending.pop(0)
            for attempt in range(RETRIES + 1):
                self.client.poll(future=future, timeout_ms=REQUEST_TIMEOUT_MS + 10_000)
                failed: dict[tuple[str, int], bytes] = {}
                error: Any = None
                if future.failed():
                    failed, error = batches, future.exception
                else:
                    for topic_response in future.value.responses:
                        for pr in topic_response.partition_responses:
                            if pr.error_code:
                                tp = (topic_response.name, pr.index)
                                failed[tp] = batches[tp]
                                error = kafka_errors.for_code(pr.error_code)
                if not failed:
                    break
                retriable = getattr(error, "retriable", False) or isinstance(
                    error, kafka_errors.KafkaConnectionError
                )
                if not retriable or attempt == RETRIES:
                    raise FinradarError(f"Kafka rejected a produce request: {error}")
                time.sleep(0.1 * 2**attempt)
                future, batches = self._send_request(node, failed), failed
            self.acked += count

    def flush(self) -> None:
        self._dispatch()
        self._await_pending()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.client.close()


def publish_bulk(
    messages: Iterable[tuple[str, bytes | None, bytes]],
    kafka: KafkaSettings,
    topics: Iterable[str],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Send every message with a ``BulkProducer``; returns how many were acknowledged."""
    producer = BulkProducer(kafka, topics)
    reported = 0
    try:
        for topic, key, value in messages:
            producer.send(topic, key, value)
            if progress and producer.sent - reported >= 5000:
                progress(producer.sent - reported)
                reported = producer.sent
        producer.flush()
    finally:
        producer.client.close()
    if progress and producer.sent > reported:
        progress(producer.sent - reported)
    return producer.acked
