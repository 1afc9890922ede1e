"""Every Kafka client finradar builds (kafka-python), built here and nowhere else.

* ``reader``: a consumer for explicit offset ranges (no group, no commits; large fetches);
* ``OffsetsClient``: partition metadata and offsets (ends, beginnings, offsets for times):
  what planning a pass, the consumer lag and a backfill's plan ask Kafka;
* ``producer``, ``protocol_client`` (the bulk producer's), ``admin`` (topics, readiness).

``follow`` plans and reads every second or two: ``shared_reader`` and
``shared_offsets_client`` keep one of each per process until ``close_shared``.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.net.compat import KafkaNetClient

from finradar.errors import FinradarError, TransientError

__all__ = [
    "OffsetsClient",
    "admin",
    "close_shared",
    "producer",
    "protocol_client",
    "reachable",
    "reader",
    "shared_offsets_client",
    "shared_reader",
]


def reader(bootstrap: str) -> KafkaConsumer:
    """A consumer for explicit offset ranges (no group, no commits)."""
    # kafka-python warns whenever decoding a large fetch holds its event loop >100 ms
    logging.getLogger("kafka.net.selector").setLevel(logging.ERROR)
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        client_id="finradar-ingest",
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        receive_message_max_bytes=128 * 1024 * 1024,
        # a poll right after a seek has no fetch in flight and sleeps this long: keep it short
        retry_backoff_ms=20,
    )


def reachable(bootstrap: str, timeout_s: float = 2.0) -> bool:
    """Whether any server of ``bootstrap`` accepts a TCP connection now."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
            return True
        except (OSError, ValueError):
            continue
    return False


def producer(bootstrap: str, client_id: str, **config: Any) -> KafkaProducer:
    """A producer; a broker that cannot be reached is one clear line."""
    try:
        return KafkaProducer(bootstrap_servers=bootstrap, client_id=client_id, **config)
    except KafkaError:
        raise FinradarError(
            f"no Kafka broker at {bootstrap} (start one with 'finradar infra up')"
        ) from None


def protocol_client(bootstrap: str, client_id: str, **config: Any) -> KafkaNetClient:
    """kafka-python's network client, for a producer that builds its own record batches."""
    try:
        return KafkaNetClient(bootstrap_servers=bootstrap, client_id=client_id, **config)
    except KafkaError as exc:
        raise FinradarError(f"no Kafka broker at {bootstrap}: {exc}") from None


def admin(bootstrap: str, client_id: str = "finradar-infra", **config: Any) -> KafkaAdminClient:
    """An admin client (topics, a readiness check); raises kafka-python's errors."""
    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id, **config)


class OffsetsClient:
    """Partition metadata and offsets (no group, no commits). A broker that cannot be
    reached or answered is a ``TransientError``: the same question may succeed later."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        try:
            self.consumer = KafkaConsumer(
                bootstrap_servers=bootstrap,
                group_id=None,
                enable_auto_commit=False,
                request_timeout_ms=15000,
            )
        except KafkaError as exc:
            raise TransientError(f"cannot reach Kafka at {bootstrap}: {exc}") from None

    def partitions(self, topics: Iterable[str]) -> list[TopicPartition]:
        """Every partition of ``topics``, in order; a missing topic is an error."""
        partitions = []
        for topic in topics:
            ids = self._ask(self.consumer.partitions_for_topic, topic)
            if not ids:
                raise FinradarError(f"topic {topic} does not exist (run 'finradar infra up')")
            partitions += [TopicPartition(topic, p) for p in sorted(ids)]
        return partitions

    def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return self._ask(self.consumer.end_offsets, partitions)

    def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return self._ask(self.consumer.beginning_offsets, partitions)

    def offsets_for_time(
        self, partitions: list[TopicPartition], timestamp_ms: int
    ) -> Mapping[TopicPartition, Any]:
        """The first offset at or after ``timestamp_ms`` per partition (None: none yet)."""
        return self._ask(self.consumer.offsets_for_times, {tp: timestamp_ms for tp in partitions})

    def _ask(self, question: Any, *args: Any) -> Any:
        try:
            return question(*args)
        except KafkaError as exc:
            raise TransientError(
                f"cannot read offsets from Kafka at {self.bootstrap}: {exc}"
            ) from None

    def close(self) -> None:
        # a one-off client (a lag check beside ``follow`` in the same process) must not
        # unregister the shared one: that one would be left open, its thread running
        if _offsets_clients.get(self.bootstrap) is self:
            del _offsets_clients[self.bootstrap]
        self.consumer.close()


_offsets_clients: dict[str, OffsetsClient] = {}
_readers: dict[tuple[str, int], KafkaConsumer] = {}


def shared_offsets_client(bootstrap: str) -> OffsetsClient:
    """This process's long-lived offsets client for ``bootstrap``."""
    client = _offsets_clients.get(bootstrap)
    if client is None:
        client = _offsets_clients[bootstrap] = OffsetsClient(bootstrap)
    return client


def shared_reader(bootstrap: str) -> KafkaConsumer:
    """This thread's long-lived reader for ``bootstrap`` (``follow``'s passes): a consumer
    is not thread-safe, and a runner may run bundles in parallel threads (Prism does)."""
    key = (bootstrap, threading.get_ident())
    consumer = _readers.get(key)
    if consumer is None:
        consumer = _readers[key] = reader(bootstrap)
    return consumer


def close_shared() -> None:
    """Close the clients ``shared_reader`` and ``shared_offsets_client`` kept open."""
    while _readers:
        _readers.popitem()[1].close()
    while _offsets_clients:
        _offsets_clients.popitem()[1].consumer.close()
