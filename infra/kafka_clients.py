"""Every Kafka client finradar builds (kafka-python), built here and nowhere else, from the
one ``kafka`` settings block: its address and its security (``client_config``).

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
from finradar.settings import KafkaSettings
from infra.kafka_diagnosis import PROBE_TIMEOUT_S, connection_error
from infra.kafka_records import install as read_records_fast

__all__ = [
    "OffsetsClient",
    "admin",
    "client_config",
    "close_shared",
    "producer",
    "protocol_client",
    "reachable",
    "reader",
    "shared_offsets_client",
    "shared_reader",
]


class _MaskedSecret(str):
    """A password as kafka-python needs it (a ``str``) that prints masked: kafka-python
    logs a client's whole configuration at DEBUG."""

    def __repr__(self) -> str:
        return "'**********'"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Kafka password is not pickled")


def client_config(kafka: KafkaSettings) -> dict[str, Any]:
    """kafka-python's options for reaching the broker of ``kafka``: its address, encryption
    (a CA, hostname checking) and authentication (SASL, or a client certificate)."""
    config: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap,
        "security_protocol": kafka.security_protocol,
        "bootstrap_timeout_ms": int(kafka.connect_timeout_s * 1000),
    }
    if kafka.tls:
        config["ssl_check_hostname"] = kafka.ssl_check_hostname
        if kafka.ssl_cafile:
            config["ssl_cafile"] = str(kafka.ssl_cafile)
        if kafka.ssl_certfile and kafka.ssl_keyfile:
            config["ssl_certfile"] = str(kafka.ssl_certfile)
            config["ssl_keyfile"] = str(kafka.ssl_keyfile)
            if kafka.ssl_key_password:
                config["ssl_password"] = _MaskedSecret(kafka.ssl_key_password.get_secret_value())
    if kafka.sasl:
        assert kafka.sasl_password is not None  # KafkaSettings checks it
        config["sasl_mechanism"] = kafka.sasl_mechanism
        config["sasl_plain_username"] = kafka.sasl_username
        config["sasl_plain_password"] = _MaskedSecret(kafka.sasl_password.get_secret_value())
    return config


# What finradar reads of a transactional producer: the records of committed transactions,
# never an aborted one's; and the end offsets it plans to are the last stable offset, so a
# pass stops before a transaction still open, which a later pass reads once it has ended.
# Records of other producers read as before.
READ_COMMITTED: dict[str, Any] = {"isolation_level": "read_committed"}


def reader(kafka: KafkaSettings) -> KafkaConsumer:
    """A consumer for explicit offset ranges (no group, no commits)."""
    # kafka-python warns whenever decoding a large fetch holds its event loop >100 ms
    logging.getLogger("kafka.net.selector").setLevel(logging.ERROR)
    _refuse_if_unreachable(kafka)
    try:
        consumer = KafkaConsumer(
            **client_config(kafka),
            group_id=None,
            enable_auto_commit=False,
            client_id="finradar-ingest",
            **READ_COMMITTED,
            max_partition_fetch_bytes=kafka.fetch_partition_bytes,
            fetch_max_bytes=max(64 * 1024 * 1024, kafka.fetch_partition_bytes),
            receive_message_max_bytes=128 * 1024 * 1024,
            # a poll right after a seek has no fetch in flight and sleeps this long
            retry_backoff_ms=20,
        )
    except KafkaError as exc:
        raise connection_error(kafka, exc) from None
    return read_records_fast(consumer)  # a quarter of a pass is kafka-python's: see there


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


def _refuse_if_unreachable(kafka: KafkaSettings) -> None:
    """Fail at once, in one line, when no server of the bootstrap list accepts a connection:
    kafka-python would retry for ``kafka.connect_timeout_s`` (30 s) first."""
    if not reachable(kafka.bootstrap, timeout_s=min(PROBE_TIMEOUT_S, kafka.connect_timeout_s)):
        raise TransientError(f"no Kafka at {kafka.bootstrap} (start one with 'finradar infra up')")


def producer(kafka: KafkaSettings, client_id: str, **config: Any) -> KafkaProducer:
    """A producer; a broker that cannot be reached is one clear line."""
    _refuse_if_unreachable(kafka)
    try:
        return KafkaProducer(**{**client_config(kafka), "client_id": client_id, **config})
    except KafkaError as exc:
        raise connection_error(kafka, exc) from None


def protocol_client(kafka: KafkaSettings, client_id: str, **config: Any) -> KafkaNetClient:
    """kafka-python's network client, for a producer that builds its own record batches."""
    _refuse_if_unreachable(kafka)
    try:
        return KafkaNetClient(**{**client_config(kafka), "client_id": client_id, **config})
    except KafkaError as exc:
        raise connection_error(kafka, exc) from None


def admin(
    kafka: KafkaSettings, client_id: str = "finradar-infra", **config: Any
) -> KafkaAdminClient:
    """An admin client (topics, a readiness check). One that cannot connect is a
    ``FinradarError`` saying why (``TransientError`` if no broker answers)."""
    _refuse_if_unreachable(kafka)
    try:
        return KafkaAdminClient(**{**client_config(kafka), "client_id": client_id, **config})
    except KafkaError as exc:
        raise connection_error(kafka, exc) from None


class OffsetsClient:
    """Partition metadata and offsets (no group, no commits). A broker that cannot be
    reached or answered is a ``TransientError``: the same question may succeed later."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.kafka = kafka
        self.bootstrap = kafka.bootstrap
        _refuse_if_unreachable(kafka)
        try:
            self.consumer = KafkaConsumer(
                **client_config(kafka),
                group_id=None,
                enable_auto_commit=False,
                request_timeout_ms=15000,
                **READ_COMMITTED,  # end offsets: the last stable offset
            )
        except KafkaError as exc:
            raise connection_error(kafka, exc) from None

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
        key = _client_key(self.kafka)
        if _offsets_clients.get(key) is self:
            del _offsets_clients[key]
        self.consumer.close()


_offsets_clients: dict[str, OffsetsClient] = {}
_readers: dict[tuple[str, int], KafkaConsumer] = {}


def _client_key(kafka: KafkaSettings) -> str:
    # secrets print masked: two settings that differ only in a password share a client
    return kafka.model_dump_json()


def shared_offsets_client(kafka: KafkaSettings) -> OffsetsClient:
    """This process's long-lived offsets client for the broker of ``kafka``."""
    key = _client_key(kafka)
    client = _offsets_clients.get(key)
    if client is None:
        client = _offsets_clients[key] = OffsetsClient(kafka)
    return client


def shared_reader(kafka: KafkaSettings) -> KafkaConsumer:
    """This thread's long-lived reader for the broker of ``kafka`` (``follow``'s passes): a
    consumer is not thread-safe, and a runner may run bundles in parallel threads (Prism
    does)."""
    key = (_client_key(kafka), threading.get_ident())
    consumer = _readers.get(key)
    if consumer is None:
        consumer = _readers[key] = reader(kafka)
    return consumer


def replace_shared_reader(kafka: KafkaSettings) -> None:
    """Close this thread's long-lived reader: the next ``shared_reader`` opens a new one."""
    consumer = _readers.pop((_client_key(kafka), threading.get_ident()), None)
    if consumer is not None:
        consumer.close()


def close_shared() -> None:
    """Close the clients ``shared_reader`` and ``shared_offsets_client`` kept open."""
    while _readers:
        _readers.popitem()[1].close()
    while _offsets_clients:
        _offsets_clients.popitem()[1].consumer.close()
