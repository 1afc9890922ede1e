"""Ingest rate against the raw kafka-python consume rate, on the same topic contents.

Starts a broker of its own (ports 39092/39093, data in a temporary folder), publishes N
synthetic events (2% bad), then in the same run measures

* baseline: a plain kafka-python ``KafkaConsumer`` reading every partition to its end;
* candidate: ``finradar ingest --once`` (``pipelines.ingest.run_once``) on an empty
  warehouse: read, contract check, GX suites, normalise, land in DuckLake;

and prints both rates and their ratio.

    python -m tests.bench.bench_ingest [N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from contracts.spec import contracts
from finradar.settings import load_settings
from infra.broker import LocalBroker
from infra.producing import publish_synthetic
from pipelines.ingest import run_once


def raw_consume(bootstrap: str) -> tuple[int, float]:
    from kafka import KafkaConsumer, TopicPartition

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
    started = time.perf_counter()
    n = 0
    while any(consumer.position(tp) < end[tp] for tp in parts):
        for records in consumer.poll(timeout_ms=1000, max_records=10_000).values():
            n += len(records)
    seconds = time.perf_counter() - started
    consumer.close()
    return n, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--bad-rate", type=float, default=0.02)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="finradar-bench-") as tmp:
        settings = load_settings(
            var_dir=Path(tmp) / "var", kafka={"port": 39092, "controller_port": 39093}
        )
        broker = LocalBroker(settings)
        if not broker.up().managed:  # another broker's topics would hold other events
            raise SystemExit(f"another broker answers on {settings.kafka.bootstrap}; stop it")
        try:
            report = publish_synthetic(args.n, args.bad_rate, 7, settings.kafka.bootstrap)
            print(
                f"published {report.sent:,} events ({args.bad_rate:.0%} bad) "
                f"at {report.rate:,.0f} events/s"
            )
            n, seconds = raw_consume(settings.kafka.bootstrap)
            raw_rate = n / seconds
            print(
                f"baseline  kafka-python consume:      {n:>10,} events {raw_rate:>9,.0f} events/s"
            )
            summary = run_once(settings)
            print(
                f"candidate finradar ingest --once:   {summary.consumed:>10,} events "
                f"{summary.rate:>9,.0f} events/s  (landed {summary.landed:,}, duplicates "
                f"{summary.duplicates:,}, quarantined {summary.quarantined:,})"
            )
            print(f"ratio ingest / raw consume: {summary.rate / raw_rate:.3f}")
        finally:
            broker.down(purge=True)


if __name__ == "__main__":
    main()
