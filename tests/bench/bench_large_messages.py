"""Ingest of large messages: what a pass holds must not grow with the bytes of a backlog.

The ingest benchmark's backlogs are many small events; a producer may as well send few large
ones (the contract lets it add fields of its own; ``MAX_MESSAGE_BYTES`` bounds a message).
For a backlog of N and of 2N valid events, each carrying an undeclared field of
``--kib`` KiB of random text, on a broker of its own (ports 28392/28393): the raw
kafka-python consume rate (MB/s) and ``finradar ingest --once``'s on an empty warehouse,
their ratio, the peak RSS of the ingest's process tree, and the ratio of the two peaks (1.0:
memory does not grow with the backlog). A pass of fewer than ``beam.parallel_from``
messages runs in the ``finradar`` process, reading each topic's ranges in one step.

    python -m tests.bench.bench_large_messages [--events 2000] [--kib 900]
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import tempfile
from pathlib import Path
from typing import Any

from contracts.synthetic import SyntheticStream
from finradar.settings import Settings, load_settings
from infra.kafka_clients import producer
from tests.bench.bench_ingest import (
    GIB,
    bench_env,
    finradar_command,
    own_broker,
    raw_consume,
    succeeded,
)
from tests.bench.process_tree import run_tree
from tests.bench.record import record

KAFKA = {"port": 28392, "controller_port": 28393}
MB = 1e6


def publish_large(settings: Settings, n: int, kib: int, seed: int) -> int:
    """``n`` valid synthetic events, each with a field ``x_attachment`` of ``kib`` KiB of
    random Base64 text (which no codec shrinks much); the bytes sent."""
    rng = random.Random(seed)
    client = producer(
        settings.kafka, "finradar-bench-large", linger_ms=20, max_request_size=8 << 20
    )
    sent = 0
    try:
        for m in SyntheticStream(n, 0.0, seed):
            event = json.loads(m.value)
            event["x_attachment"] = base64.b64encode(rng.randbytes(kib * 768)).decode()
            value = json.dumps(event).encode()
            client.send(m.topic, key=m.key, value=value)
            sent += len(value)
        client.flush()
    finally:
        client.close()
    return sent


def measure(n: int, kib: int, tmp: Path) -> dict[str, Any]:
    settings = load_settings(var_dir=tmp / "var", kafka=KAFKA)
    broker = own_broker(settings)
    try:
        sent = publish_large(settings, n, kib, seed=n)
        consumed, raw_seconds = raw_consume(settings.kafka.bootstrap)
        ingest = succeeded(
            run_tree(finradar_command("ingest", "--once", "--json"), bench_env(settings)),
            "finradar ingest",
        )
        summary = json.loads(ingest.stdout.strip().splitlines()[-1])
    finally:
        broker.down(purge=True)
    return {
        "events": consumed,
        "megabytes": round(sent / MB),
        "raw_consume_mb_per_s": round(sent / MB / raw_seconds, 1),
        "ingest_mb_per_s": round(sent / MB / ingest.seconds, 1),
        "ingest_ratio_to_raw": round(raw_seconds / ingest.seconds, 3),
        "ingest_peak_rss_gib": round(ingest.peak_rss_bytes / GIB, 2),
        "landed": summary["landed"],
    }


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        ("events", "{events:,}"),
        ("megabytes", "{megabytes:,}"),
        ("raw kafka-python consume (MB/s)", "{raw_consume_mb_per_s:,.1f}"),
        ("finradar ingest --once (MB/s)", "{ingest_mb_per_s:,.1f}"),
        ("ratio to raw consume", "{ingest_ratio_to_raw:.3f}"),
        ("ingest peak RSS, process tree (GiB)", "{ingest_peak_rss_gib:.2f}"),
        ("landed", "{landed:,}"),
    ]
    return "\n".join(
        f"{label:<40}" + "".join(f"{fmt.format(**r):>16}" for r in results) for label, fmt in rows
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="N: backlogs of N and 2N")
    parser.add_argument("--kib", type=int, default=900, help="the added field's KiB per event")
    args = parser.parse_args()
    results = []
    for n in (args.events, 2 * args.events):
        with tempfile.TemporaryDirectory(prefix="finradar-bench-large-") as tmp:
            results.append(measure(n, args.kib, Path(tmp)))
    growth = results[1]["ingest_peak_rss_gib"] / results[0]["ingest_peak_rss_gib"]
    print(table(results))
    print(f"{'peak RSS at 2N / at N':<40}{growth:>16.2f}")
    print(f"written to {record('large_messages', {'runs': results, 'peak_growth': growth})}")


if __name__ == "__main__":
    main()
