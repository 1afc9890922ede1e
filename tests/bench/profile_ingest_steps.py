"""Seconds per ingest step on N in-memory synthetic messages, one core, no broker.

Times the contract check, each GX suite validation and normalisation to Arrow — the
per-step figures behind the ingest benchmark's rate.

    python -m tests.bench.profile_ingest_steps [N]
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

from contracts.synthetic import SyntheticStream
from handoff.records import KafkaRecord
from pipelines.checking import check_batch
from pipelines.gx_runner import SuiteRunner
from pipelines.normalise import Normaliser


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    now = datetime.now(UTC)
    records = [
        KafkaRecord(m.topic, 0, i, 0, m.key, m.value)
        for i, m in enumerate(SyntheticStream(n, 0.02, 5))
    ]
    started = time.perf_counter()
    batch = check_batch(records, now)
    seconds = time.perf_counter() - started
    print(f"contract check   {seconds:6.2f} s  {1e6 * seconds / n:6.1f} µs/message")
    started = time.perf_counter()
    runner = SuiteRunner()
    print(f"GX context       {time.perf_counter() - started:6.2f} s  (once per worker)")
    by_type: dict[str, list[int]] = {}
    for i, event in batch.valid.items():
        by_type.setdefault(event["event_type"], []).append(i)
    for event_type, indexes in sorted(by_type.items()):
        started = time.perf_counter()
        runner.validate(event_type, [batch.valid[i] for i in indexes], now=now)
        print(f"GX {event_type:<22} {time.perf_counter() - started:6.2f} s  ({len(indexes)} rows)")
    started = time.perf_counter()
    Normaliser("profile", now, b"key").tables(batch)
    seconds = time.perf_counter() - started
    print(f"normalise        {seconds:6.2f} s  {1e6 * seconds / n:6.1f} µs/message")


if __name__ == "__main__":
    main()
