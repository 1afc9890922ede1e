"""The real local Kafka broker: keyed produce/consume, lifecycle truthfulness."""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest

from contracts.topics import TopicSpec, load_topics
from finradar.errors import FinradarError
from finradar.settings import load_settings
from infra.broker import LocalBroker
from infra.topics import ensure_topics

pytestmark = pytest.mark.integration

MESSAGES = 10_000
KEYS = 97


def test_platform_topics_exist_with_three_partitions(kafka_bootstrap: str) -> None:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
    try:
        for spec in load_topics():
            assert consumer.partitions_for_topic(spec.name) == {0, 1, 2}
    finally:
        consumer.close()


def test_10k_keyed_messages_keep_order_per_key(kafka_bootstrap: str, project_settings) -> None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    topic = f"test.roundtrip.{uuid.uuid4().hex[:8]}"
    ensure_topics(project_settings.kafka, (TopicSpec(topic, "test", 3, 1),))
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=10)
    for seq in range(MESSAGES):
        key = f"key-{seq % KEYS}".encode()
        producer.send(topic, key=key, value=f"{seq}".encode())
    producer.flush()
    producer.close()

    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=None, enable_auto_commit=False
    )
    partitions = [TopicPartition(topic, p) for p in range(3)]
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    seen: dict[bytes, list[int]] = defaultdict(list)
    partition_of: dict[bytes, set[int]] = defaultdict(set)
    received = 0
    deadline = time.monotonic() + 60
    while received < MESSAGES and time.monotonic() < deadline:
        for tp, records in consumer.poll(timeout_ms=500).items():
            for record in records:
                seen[record.key].append(int(record.value))
                partition_of[record.key].add(tp.partition)
                received += 1
    consumer.close()

    assert received == MESSAGES
    assert len(seen) == KEYS
    assert all(values == sorted(values) for values in seen.values())
    assert all(len(parts) == 1 for parts in partition_of.values())
    assert len({p for parts in partition_of.values() for p in parts}) == 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def spare_broker(tmp_path: Path, project_settings) -> LocalBroker:
    """A second broker on free ports and its own var/, sharing the project's jar cache."""
    settings = load_settings(
        var_dir=tmp_path / "var",
        cache_dir=project_settings.cache,
        kafka={"port": _free_port(), "controller_port": _free_port(), "heap": "256m"},
    )
    broker = LocalBroker(settings)
    yield broker
    broker.down()


def test_up_twice_is_harmless_and_status_survives_kill_9(spare_broker: LocalBroker) -> None:
    first = spare_broker.up()
    assert first.running
    second = spare_broker.up()
    assert second.running and second.pid == first.pid

    os.kill(first.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while spare_broker.status().running and time.monotonic() < deadline:
        time.sleep(0.1)
    after = spare_broker.status()
    assert not after.running
    assert "stale pid file" in after.detail

    again = spare_broker.up()  # restarts over the unclean shutdown
    assert again.running and again.pid != first.pid
    assert not spare_broker.down().running
    assert not spare_broker.down().running


def test_port_taken_is_a_clear_error(spare_broker: LocalBroker) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", spare_broker.kafka.port))
        squatter.listen()
        with pytest.raises(FinradarError, match="already taken by another process"):
            spare_broker.up()
    assert not spare_broker.status().running


def test_a_broker_started_elsewhere_is_reused_not_stopped(
    spare_broker: LocalBroker, tmp_path: Path
) -> None:
    spare_broker.up()
    other_checkout = LocalBroker(
        load_settings(
            var_dir=tmp_path / "other-var",
            cache_dir=spare_broker.settings.cache,
            kafka=spare_broker.kafka.model_dump(),
        )
    )
    status = other_checkout.up()
    assert status.running and not status.managed
    assert other_checkout.down().running  # not ours: left alone
    assert spare_broker.status().running


def test_ranges_of_several_partitions_read_with_one_assignment(
    kafka_bootstrap: str, project_settings
) -> None:
    """``read_ranges`` yields exactly the records of each range, each partition's in offset
    order, and the same consumer reads again afterwards (partitions it paused when their
    range was done are resumed)."""
    from kafka import KafkaProducer

    from handoff.records import PartitionRange
    from infra.kafka_clients import reader
    from pipelines.kafka_source import read_ranges

    topic = f"test.ranges.{uuid.uuid4().hex[:8]}"
    ensure_topics(project_settings.kafka, (TopicSpec(topic, "test", 3, 1),))
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    sent: dict[int, list[bytes]] = defaultdict(list)
    for seq in range(300):
        partition = seq % 3 if seq < 200 else 1  # partition 1 gets the most
        value = f"{partition}-{seq}".encode()
        producer.send(topic, value=value, partition=partition)
        sent[partition].append(value)
    producer.flush()
    producer.close()
    consumer = reader(project_settings.kafka)
    try:
        ends = {p: len(values) for p, values in sent.items()}
        ranges = [
            PartitionRange(topic, 1, 0, ends[1]),
            PartitionRange(topic, 0, 5, ends[0] - 7),
            PartitionRange(topic, 2, ends[2], ends[2]),  # nothing to read
        ]
        read: dict[int, list[tuple[int, bytes | None]]] = defaultdict(list)
        for r in read_ranges(consumer, ranges):
            read[r.partition].append((r.offset, r.value))
        assert read == {
            0: list(zip(range(5, ends[0] - 7), sent[0][5 : ends[0] - 7], strict=True)),
            1: list(enumerate(sent[1])),
        }
        again = read_ranges(consumer, [PartitionRange(topic, 0, 0, ends[0])])
        assert [r.value for r in again] == sent[0]
    finally:
        consumer.close()


def test_a_read_of_ranges_holds_a_poll_not_the_ranges(
    kafka_bootstrap: str, project_settings
) -> None:
    """``read_ranges`` hands on each poll's records before it polls again: a small pass (few
    messages, one read per topic) may be gigabytes of large messages, which must never be
    held whole. After its first record, the consumer has read one poll of the range."""
    from kafka import KafkaProducer, TopicPartition

    from handoff.records import PartitionRange
    from infra.kafka_clients import reader
    from pipelines.kafka_source import read_ranges

    topic = f"test.lazy.{uuid.uuid4().hex[:8]}"
    ensure_topics(project_settings.kafka, (TopicSpec(topic, "test", 1, 1),))
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=20)
    n = 20_000  # four polls of 5,000 records at the least
    for seq in range(n):
        producer.send(topic, value=b"%d" % seq, partition=0)
    producer.flush()
    producer.close()
    consumer = reader(project_settings.kafka)
    try:
        records = read_ranges(consumer, [PartitionRange(topic, 0, 0, n)])
        first = next(records)
        assert (first.offset, first.value) == (0, b"0")
        assert consumer.position(TopicPartition(topic, 0)) <= n // 2
        assert [r.offset for r in records] == list(range(1, n))
    finally:
        consumer.close()


def test_a_reader_that_stops_fetching_is_replaced_and_lost_offsets_are_named(
    kafka_bootstrap: str, project_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader whose client fetches nothing while the broker holds the offsets wanted
    (here: a partition left paused, which an assignment keeps) stalls, and the read step
    reads the range again with a new client; offsets the broker no longer holds (a range
    past the log's end, as after a truncation) fail the read with one line naming them."""
    from kafka import KafkaProducer, TopicPartition

    from handoff.records import PartitionRange
    from infra.kafka_clients import reader, replace_shared_reader, shared_reader
    from pipelines import kafka_source

    monkeypatch.setattr(kafka_source, "ASK_LOG_AFTER", 3)
    topic = f"test.stall.{uuid.uuid4().hex[:8]}"
    ensure_topics(project_settings.kafka, (TopicSpec(topic, "test", 1, 1),))
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    values = [f"v{n}".encode() for n in range(50)]
    for value in values:
        producer.send(topic, value=value, partition=0)
    producer.flush()
    producer.close()
    tp = TopicPartition(topic, 0)
    whole = PartitionRange(topic, 0, 0, len(values))

    stuck = reader(project_settings.kafka)
    try:
        stuck.assign([tp])
        stuck.pause(tp)
        with pytest.raises(kafka_source.StalledRead, match=rf"holds {topic}\[0\] at offset 0"):
            list(kafka_source.read_ranges(stuck, [whole]))
    finally:
        stuck.close()

    kafka = project_settings.kafka
    stalled = shared_reader(kafka)
    stalled.assign([tp])
    stalled.pause(tp)
    step = kafka_source.ReadTopicRangesFn(kafka, 1000, 1 << 20, shared=True)
    try:
        batches = list(step.process((whole,)))
        assert [r.value for batch in batches for r in batch] == values
        assert shared_reader(kafka) is not stalled
    finally:
        replace_shared_reader(kafka)

    fresh = reader(project_settings.kafka)
    try:
        past_the_end = PartitionRange(topic, 0, 0, len(values) + 30)
        with pytest.raises(FinradarError, match="no longer holds") as lost:
            list(kafka_source.read_ranges(fresh, [past_the_end]))
        assert not isinstance(lost.value, kafka_source.StalledRead)
        assert f"at offset {len(values)} of {len(values) + 30}" in str(lost.value)
    finally:
        fresh.close()


def _mapped_files(pid: int) -> set[str]:
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {line.split(maxsplit=5)[5] for line in lines if len(line.split(maxsplit=5)) == 6}


def test_the_first_stop_leaves_a_class_archive_that_later_starts_map(
    tmp_path: Path, project_settings
) -> None:
    """A jar cache of its own (the project's jars, linked): its first broker records the
    archive as it stops, the next maps it; an archive the JVM cannot use (here a damaged
    one) only means a start without it."""
    jars = LocalBroker(project_settings).ensure_jars()
    cache = tmp_path / "cache"
    (cache / "kafka" / jars.parent.name).mkdir(parents=True)
    (cache / "kafka" / jars.parent.name / "lib").symlink_to(jars, target_is_directory=True)
    ports = {"port": _free_port(), "controller_port": _free_port(), "heap": "256m"}
    settings = load_settings(var_dir=tmp_path / "var", cache_dir=cache, kafka=ports)
    broker = LocalBroker(settings)
    archive = broker.lib_dir.with_name("broker-classes.jsa")

    first = broker.up()
    assert not archive.exists()
    assert str(archive) not in _mapped_files(first.pid)
    broker.down()
    assert archive.is_file() and archive.stat().st_size > 1_000_000
    assert list(archive.parent.glob("*.partial")) == []

    second = broker.up()
    assert str(archive) in _mapped_files(second.pid)
    broker.down()

    archive.write_bytes(archive.read_bytes()[:4096])  # cut short
    third = broker.up()
    assert third.running and str(archive) not in _mapped_files(third.pid)
    broker.down()
