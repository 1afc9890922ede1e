"""Publish messages to the contract topics with kafka-python, with progress and a rate.

``publish`` sends ``(topic, key, value)`` triples through kafka-python's ``KafkaProducer``
(idempotent, large batches, a short linger): the corpus and files go this way. Synthetic
volume goes through ``infra.bulk_producer`` from several processes at once
(``publish_synthetic``): each generates and sends its share of the stream's chunks.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from contracts.corpus import seed_corpus
from contracts.corpus.printed import corpus_json
from contracts.spec import topics_by_event_type
from contracts.synthetic import CHUNK, SyntheticStream
from finradar.errors import FinradarError
from finradar.settings import KafkaSettings, secrets_in_environment
from infra import kafka_clients
from infra.bulk_producer import publish_bulk

PRODUCER_CONFIG: dict[str, Any] = {
    # idempotent, acks=all (kafka-python's defaults): a retried batch is never written twice
    # and per-key order holds with several requests in flight.
    "enable_idempotence": True,
    "linger_ms": 20,
    "batch_size": 512 * 1024,
    "max_request_size": 8 * 1024 * 1024,
    "metrics_enabled": False,
}


@dataclass
class PublishReport:
    sent: int = 0
    seconds: float = 0.0
    by_topic: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def merge(self, other: PublishReport) -> None:
        self.sent += other.sent
        self.by_topic.update(other.by_topic)

    def line(self) -> str:
        topics = ", ".join(f"{t} {n}" for t, n in sorted(self.by_topic.items()))
        return (
            f"produced {self.sent} messages in {self.seconds:.1f} s "
            f"({self.rate:,.0f} events/s): {topics}"
        )


def publish(
    messages: Iterable[tuple[str, bytes | None, bytes]],
    kafka: KafkaSettings,
    progress: Callable[[int], None] | None = None,
) -> PublishReport:
    """Send every message and wait until all are acknowledged."""
    producer = kafka_clients.producer(kafka, "finradar-produce", **PRODUCER_CONFIG)
    report = PublishReport()
    errors: list[BaseException] = []
    started = time.perf_counter()
    pending = 0
    try:
        for topic, key, value in messages:
            producer.send(topic, value=value, key=key).add_errback(errors.append)
            report.sent += 1
            report.by_topic[topic] += 1
            pending += 1
            if pending == 1000:
                if progress:
                    progress(pending)
                pending = 0
                if errors:
                    break
        producer.flush()
    finally:
        producer.close()
    if progress and pending:
        progress(pending)
    report.seconds = time.perf_counter() - started
    if errors:
        raise FinradarError(f"Kafka rejected a message: {errors[0]}")
    return report


def corpus_messages() -> Iterator[tuple[str, bytes, bytes]]:
    """The seed corpus as Kafka messages: topic of its event type, entity key, compact JSON."""
    topics = topics_by_event_type()
    for e in seed_corpus():
        yield topics[e["event_type"]], e["subject"]["entity_id"].encode("utf-8"), corpus_json(e)


def _synthetic_worker(
    args: tuple[int, float, int, int, int, KafkaSettings, Any],
) -> PublishReport:
    n, bad_rate, seed, worker, workers, kafka, queue = args
    stream = SyntheticStream(n, bad_rate=bad_rate, seed=seed)
    report = PublishReport()

    def messages() -> Iterable[tuple[str, bytes, bytes]]:
        for chunk in stream.chunks():
            if chunk % workers == worker:
                for m in stream.chunk(chunk):
                    report.by_topic[m.topic] += 1
                    yield m.topic, m.key, m.value

    started = time.perf_counter()
    report.sent = publish_bulk(messages(), kafka, set(stream.topics.values()), progress=queue.put)
    report.seconds = time.perf_counter() - started
    return report


def publish_synthetic(
    n: int,
    bad_rate: float,
    seed: int,
    kafka: KafkaSettings,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> PublishReport:
    """Produce a synthetic stream from ``workers`` processes (default: one per CPU)."""
    workers = max(1, min(workers or mp.cpu_count(), (n + CHUNK - 1) // CHUNK))
    ctx = mp.get_context("spawn")
    manager = ctx.Manager()
    queue = manager.Queue()
    started = time.perf_counter()
    total = PublishReport()
    # the workers unpickle the settings' secrets from the environment they inherit
    with secrets_in_environment(kafka), ctx.Pool(workers) as pool:
        result = pool.map_async(
            _synthetic_worker,
            [(n, bad_rate, seed, w, workers, kafka, queue) for w in range(workers)],
        )
        while not result.ready() or not queue.empty():
            try:
                done = queue.get(timeout=0.2)
            except Exception:  # queue.Empty from the manager proxy
                continue
            if progress:
                progress(done)
        for part in result.get():
            total.merge(part)
    manager.shutdown()
    total.seconds = time.perf_counter() - started
    return total


class ProgressBar:
    """A tqdm bar on stderr when it is a terminal, silent otherwise."""

    def __init__(self, total: int | None, desc: str) -> None:
        self.bar = tqdm(
            total=total,
            desc=desc,
            unit="ev",
            unit_scale=True,
            file=sys.stderr,
            disable=not sys.stderr.isatty(),
            mininterval=0.5,
        )

    def __call__(self, n: int) -> None:
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()
