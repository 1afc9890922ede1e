"""What reading a backlog costs finradar's Kafka reader, thread by thread: with its record
parsing (``infra.kafka_records``) and with kafka-python's own.

On a broker of its own (the bench's ports) holding N synthetic events (2% bad), reads every
contract partition to its end with ``infra.kafka_clients.reader``, alternately with
``kafka_records`` installed and without (``ROUNDS`` each), and prints each read's rate and
the CPU of the thread that consumes (parses the records) and of kafka-python's IO thread
(receives and decodes the fetch responses); then the time of reading one 2 MiB field of a
response both ways, and the parsing of one record alone (finradar's loop against iterating
kafka-python's ``DefaultRecordBatch``, on 2,000-record batches of the synthetic stream).
The bench stream's oversized messages are most of its bytes, which the IO thread copies.

    python -m tests.bench.reader_threads 1000000
    python -m tests.bench.reader_threads --parse-only   # the in-process figures, no broker
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

from kafka import TopicPartition
from kafka.protocol.frame import KafkaBytes
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from contracts.spec import contracts
from contracts.synthetic import SyntheticStream
from finradar.settings import KafkaSettings, load_settings
from infra import kafka_records
from infra.broker import LocalBroker
from infra.kafka_clients import reader
from infra.kafka_records import LIBRARY_READ
from infra.producing import publish_synthetic
from tests.bench.bench_ingest import KAFKA

ROUNDS = 2
PARSED_RECORDS = 20_000  # of the synthetic stream, in batches of
BATCH_RECORDS = 2_000


def thread_cpu(thread: threading.Thread) -> float:
    """Seconds of CPU ``thread`` has used (Linux)."""
    fields = Path(f"/proc/self/task/{thread.native_id}/stat").read_text().rsplit(")", 1)[1]
    user, system = fields.split()[11:13]
    return (int(user) + int(system)) / os.sysconf("SC_CLK_TCK")


def read_all(kafka: KafkaSettings) -> tuple[int, float, float, float]:
    """Messages read, seconds, CPU of the consuming thread and of the IO thread."""
    consumer = reader(kafka)
    parts = [
        TopicPartition(c.topic, p)
        for c in contracts().values()
        for p in sorted(consumer.partitions_for_topic(c.topic))
    ]
    ends = consumer.end_offsets(parts)
    io_thread = next(t for t in threading.enumerate() if t.name.startswith("kafka-io"))
    before = thread_cpu(threading.current_thread()), thread_cpu(io_thread)
    started, n = time.perf_counter(), 0
    for tp in parts:  # a partition at a time, as a pass's read step
        consumer.assign([tp])
        consumer.seek(tp, 0)
        while consumer.position(tp) < ends[tp]:
            n += sum(map(len, consumer.poll(timeout_ms=1000, max_records=5000).values()))
    seconds = time.perf_counter() - started
    after = thread_cpu(threading.current_thread()), thread_cpu(io_thread)
    consumer.close()
    return n, seconds, after[0] - before[0], after[1] - before[1]


@contextlib.contextmanager
def _kafka_pythons_own() -> Iterator[None]:
    """kafka-python's record parsing and response reading, ``kafka_records`` not installed
    (``KafkaBytes.read`` stays installed in a process once it is)."""
    with (
        mock.patch.object(kafka_records, "CHECKED_VERSION", "not this release"),
        mock.patch.object(KafkaBytes, "read", LIBRARY_READ),
    ):
        yield


def field_read_seconds(read: Callable[[KafkaBytes, int | None], bytes]) -> float:
    """Seconds ``read`` takes for a 2 MiB field of a response (a fetched partition's
    records at ``kafka.fetch_partition_bytes``), the best of 300 reads."""
    frame = KafkaBytes(2 << 20)
    best = float("inf")
    for _ in range(300):
        frame.seek(0)
        started = time.perf_counter()
        read(frame, len(frame))
        best = min(best, time.perf_counter() - started)
    return best


def record_batches(n: int, size: int) -> list[bytes]:
    """``n`` synthetic messages (2% bad) as message-format-v2 batches of ``size`` records,
    uncompressed, as a fetch response holds them."""
    messages = list(SyntheticStream(n, 0.02, 7))
    batches = []
    for first in range(0, n, size):
        builder = DefaultRecordBatchBuilder(
            magic=2,
            compression_type=0,
            is_transactional=False,
            producer_id=-1,
            producer_epoch=-1,
            base_sequence=-1,
            batch_size=1 << 30,
        )
        for i, m in enumerate(messages[first : first + size]):
            builder.append(i, timestamp=1_700_000_000_000 + i, key=m.key, value=m.value, headers=[])
        batches.append(bytes(builder.build()))
    return batches


def _finradar_parse(buffer: bytes) -> int:
    state = SimpleNamespace(leader_epoch=0, records_read=0, bytes_read=0, next_fetch_offset=0)
    tp = SimpleNamespace(topic="t", partition=0)
    records = kafka_records.batch_records(DefaultRecordBatch(bytearray(buffer)), tp, state)
    return sum(1 for _ in records)


def _library_parse(buffer: bytes) -> int:
    """kafka-python's own records of the batch, each field a consumer record holds read."""
    records = [
        (r.offset, r.timestamp, r.timestamp_type, r.key, r.value, r.headers)
        for r in DefaultRecordBatch(bytearray(buffer))
    ]
    return len(records)


def record_parse_us(parse: Callable[[bytes], int], batches: list[bytes]) -> float:
    """Microseconds ``parse`` takes a record over ``batches``, the best of 7 rounds."""
    best = float("inf")
    for _ in range(7):
        started = time.perf_counter()
        n = sum(map(parse, batches))
        best = min(best, (time.perf_counter() - started) / n)
    return 1e6 * best


def print_in_process() -> None:
    """The figures that need no broker: a response field's read, a record's parsing."""
    ours, theirs = (field_read_seconds(r) for r in (kafka_records._read_once, LIBRARY_READ))
    print(
        f"a 2 MiB field of a response: KafkaBytes.read {1e6 * theirs:.0f} µs,"
        f" kafka_records' {1e6 * ours:.0f} µs (best of 300)"
    )
    batches = record_batches(PARSED_RECORDS, BATCH_RECORDS)
    ours, theirs = (record_parse_us(p, batches) for p in (_finradar_parse, _library_parse))
    print(
        f"a record of a {BATCH_RECORDS:,}-record batch: kafka-python's DefaultRecordBatch"
        f" {theirs:.2f} µs, kafka_records' {ours:.2f} µs (best of 7)"
    )


def main() -> None:
    if "--parse-only" in sys.argv[1:]:
        print_in_process()
        return
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory(prefix="finradar-reader-") as tmp:
        settings = load_settings(var_dir=Path(tmp), kafka=KAFKA)
        broker = LocalBroker(settings)
        status = broker.up()
        if not status.managed or status.pid is None:
            raise SystemExit(f"another broker answers on {settings.kafka.bootstrap}")
        try:
            publish_synthetic(events, 0.02, 7, settings.kafka)
            for _ in range(ROUNDS):
                for label, theirs in (("kafka_records", False), ("kafka-python's", True)):
                    with _kafka_pythons_own() if theirs else contextlib.nullcontext():
                        n, seconds, consuming, io = read_all(settings.kafka)
                    print(
                        f"{label:15s} {n:,} messages  {n / seconds:9,.0f}/s  consuming thread "
                        f"{consuming:5.1f} s  IO thread {io:5.1f} s  ({1e6 * consuming / n:.1f}"
                        f" and {1e6 * io / n:.1f} µs a message)"
                    )
        finally:
            broker.down()
    print_in_process()


if __name__ == "__main__":
    main()
