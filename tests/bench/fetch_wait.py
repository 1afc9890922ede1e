"""How long an ingest reader's polls wait for Kafka when its thread is busy between them, as
a worker's is with each batch: the figures behind a worker's idle share of a core.

On a broker of its own (the bench's ports) holding N synthetic events (2% bad), reads one
partition of the spend disclosures to its end with ``infra.kafka_clients.reader`` as
``pipelines.kafka_source.read_offsets`` polls it, and between polls works for ``--busy``
milliseconds: holding the GIL (a busy loop, as a worker's checks mostly do) and sleeping
(the GIL free). Three ways each:

* ``as is``: the reader as the pass uses it;
* ``next fetch sent``: each poll that returned records is followed by a poll that does not
  wait (``timeout_ms=0``), which sends the partition's next fetch before the work starts
  (kafka-python sends it only from a poll that finds the partition's buffer drained
  without waiting for a response);
* ``and 1 MiB socket reads``: that, with kafka-python's socket reads of 1 MiB instead of
  4 KiB (each read gives the GIL up and must take it back from the busy thread).

For each it prints the polls, the megabytes read, the median and 90th percentile of a
poll's time and their sum against the whole read's.

    python -m tests.bench.fetch_wait 300000 --busy 150
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from kafka import TopicPartition
from kafka.errors import KafkaConnectionError
from kafka.net import transport

from finradar.settings import KafkaSettings, load_settings
from infra.broker import LocalBroker
from infra.kafka_clients import reader
from infra.producing import publish_synthetic
from pipelines.kafka_source import POLL_RECORDS, POLL_TIMEOUT_MS
from tests.bench.bench_ingest import KAFKA
from tests.bench.mart_queries import percentile

TOPIC = "fi.spend.disclosures.v1"
LARGE_READ = 1 << 20


def busy(seconds: float) -> None:
    """Work for ``seconds`` holding the GIL."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


def read_partition(
    kafka: KafkaSettings, work: Callable[[], None], send_next: bool
) -> tuple[list[float], int, float]:
    """Each poll's seconds, the bytes of the values read, and the whole read's seconds."""
    consumer = reader(kafka)
    tp = TopicPartition(TOPIC, 0)
    consumer.assign([tp])
    consumer.seek(tp, 0)
    polls: list[float] = []
    size = 0
    started = time.perf_counter()
    try:
        while True:
            before = time.perf_counter()
            polled = consumer.poll(timeout_ms=POLL_TIMEOUT_MS, max_records=POLL_RECORDS)
            records = polled.get(tp, [])
            if records and send_next:
                records += consumer.poll(timeout_ms=0, max_records=POLL_RECORDS).get(tp, [])
            polls.append(time.perf_counter() - before)
            if not records:
                return polls, size, time.perf_counter() - started
            size += sum(len(r.value or b"") for r in records)
            work()
    finally:
        consumer.close()


@contextlib.contextmanager
def socket_reads(size: int) -> Iterator[None]:
    """kafka-python's plain-TCP transport reading its socket ``size`` bytes at a time (its
    own reads 4 KiB; otherwise the same loop)."""

    def sock_recv(self: Any) -> tuple[bytes, Exception | None]:
        received: list[bytes] = []
        while True:
            try:
                data = self._sock.recv(size)
            except (BlockingIOError, InterruptedError):
                break
            except Exception as exc:
                return b"".join(received), KafkaConnectionError(exc)
            if not data:
                return b"".join(received), KafkaConnectionError("socket disconnected")
            received.append(data)
        return b"".join(received), None

    with mock.patch.object(transport.KafkaTCPTransport, "_sock_recv", sock_recv):
        yield


WAYS: list[tuple[str, bool, Callable[[], contextlib.AbstractContextManager[None]]]] = [
    ("as is", False, contextlib.nullcontext),
    ("next fetch sent", True, contextlib.nullcontext),
    ("and 1 MiB socket reads", True, lambda: socket_reads(LARGE_READ)),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", type=int)
    parser.add_argument("--busy", type=float, default=150.0, help="ms of work between polls")
    args = parser.parse_args()
    seconds = args.busy / 1000
    works = [("GIL held", lambda: busy(seconds)), ("GIL free", lambda: time.sleep(seconds))]
    with tempfile.TemporaryDirectory(prefix="finradar-fetch-wait-") as tmp:
        settings = load_settings(var_dir=Path(tmp), kafka=KAFKA)
        broker = LocalBroker(settings)
        status = broker.up()
        if not status.managed:
            raise SystemExit(f"another broker answers on {settings.kafka.bootstrap}")
        try:
            publish_synthetic(args.events, 0.02, 7, settings.kafka)
            print(f"{TOPIC}[0], {args.busy:.0f} ms of work between polls")
            for work_name, work in works:
                for way, send_next, patched in WAYS:
                    with patched():
                        polls, size, total = read_partition(settings.kafka, work, send_next)
                    print(
                        f"{work_name}, {way:<24} {len(polls):4d} polls, {size / 1e6:5.0f} MB,"
                        f" a poll {1e3 * percentile(polls, 0.5):5.1f} ms (p90"
                        f" {1e3 * percentile(polls, 0.9):5.1f}), polls {sum(polls):5.2f} s"
                        f" of {total:5.2f} s"
                    )
        finally:
            broker.down()


if __name__ == "__main__":
    main()
