"""Ingest, refresh and analyst queries at size, each against a baseline in the same run.

For every size N (``--sizes``; ``make bench`` passes ``BENCH_N`` and five times it) on a
broker of its own (ports 28092/28093, data in a temporary folder) holding N synthetic
events (2% bad):

* baseline: a plain kafka-python ``KafkaConsumer`` reading every partition to its end,
  before the candidate and again after it: the ratio is to the faster of the two reads,
  so that a moment when the machine is slow (the raw read at 5,000,000 events once fell by
  a quarter from the one at 1,000,000 in the same run) never flatters the candidate;
* baseline: the plain script a user might write (``tests.bench.plain_ingest``: json.loads,
  pyarrow, a DuckDB insert per 100,000 messages, no checks), as a process of its own;
* candidate: ``finradar ingest --once`` on an empty warehouse, as a process of its own:
  its rate, the ratio to both baselines, peak RSS of its whole process tree (worker
  processes included) and the CPU share of the machine's cores;
* then ``finradar refresh --full`` on that warehouse (time, peak RSS), and the p50/p95 of
  a fixed set of analyst queries on the marts (``tests.bench.mart_queries``).

Prints a table and writes the figures to ``var/bench/<date>.json`` (``tests.bench.record``).

    python -m tests.bench.bench_ingest [--sizes 1000000 5000000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from finradar.settings import Settings, load_settings
from infra.broker import LocalBroker
from infra.producing import publish_synthetic
from tests.bench.mart_queries import time_queries
from tests.bench.process_tree import TreeRun, run_tree
from tests.bench.read_all import consumer_at_start
from tests.bench.record import record

KAFKA = {"port": 28092, "controller_port": 28093}
GIB = 1024**3


def raw_consume(bootstrap: str) -> tuple[int, float]:
    consumer, parts, end = consumer_at_start(bootstrap)
    started = time.perf_counter()
    n = 0
    while any(consumer.position(tp) < end[tp] for tp in parts):
        for records in consumer.poll(timeout_ms=1000, max_records=10_000).values():
            n += len(records)
    seconds = time.perf_counter() - started
    consumer.close()
    return n, seconds


def bench_env(settings: Settings) -> dict[str, str]:
    """The environment of a finradar command on ``settings``' var/ and broker."""
    return {
        **os.environ,
        "FINRADAR_VAR_DIR": str(settings.var),
        "FINRADAR_KAFKA__PORT": str(settings.kafka.port),
        "FINRADAR_KAFKA__CONTROLLER_PORT": str(settings.kafka.controller_port),
    }


def own_broker(settings: Settings) -> LocalBroker:
    """``settings``' broker, started by this run: another broker's topics would hold
    other events."""
    broker = LocalBroker(settings)
    if not broker.up().managed:
        raise SystemExit(f"another broker answers on {settings.kafka.bootstrap}; stop it")
    return broker


def finradar_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("finradar")), *args]


def succeeded(run: TreeRun, what: str) -> TreeRun:
    if run.returncode != 0:
        raise SystemExit(f"{what} failed (exit {run.returncode}): {run.stdout[-500:]}")
    return run


def measure(n: int, bad_rate: float, tmp: Path) -> dict[str, Any]:
    """Every figure of one size."""
    settings = load_settings(var_dir=tmp / "var", kafka=KAFKA)
    broker = own_broker(settings)
    try:
        published = publish_synthetic(n, bad_rate, 7, settings.kafka)
        consumed, seconds = raw_consume(settings.kafka.bootstrap)
        plain = succeeded(
            run_tree(
                [
                    sys.executable,
                    "-m",
                    "tests.bench.plain_ingest",
                    settings.kafka.bootstrap,
                    str(tmp / "plain.duckdb"),
                ]
            ),
            "the plain script",
        )
        ingest = succeeded(
            run_tree(finradar_command("ingest", "--once", "--json"), bench_env(settings)),
            "finradar ingest",
        )
        summary = json.loads(ingest.stdout.strip().splitlines()[-1])
        consumed_after, seconds_after = raw_consume(settings.kafka.bootstrap)
        refresh = succeeded(
            run_tree(finradar_command("refresh", "--full"), bench_env(settings)),
            "finradar refresh",
        )
        queries = time_queries(settings)
    finally:
        broker.down(purge=True)
    rate = summary["consumed"] / ingest.seconds
    raw_before, raw_after = consumed / seconds, consumed_after / seconds_after
    raw_rate = max(raw_before, raw_after)  # the baseline: the faster read
    return {
        "events": published.sent,
        "bad_rate": bad_rate,
        "raw_consume_events_per_s": round(raw_rate),
        "raw_consume_before_events_per_s": round(raw_before),
        "raw_consume_after_events_per_s": round(raw_after),
        "plain_script_events_per_s": round(consumed / plain.seconds),
        "plain_script_peak_rss_gib": round(plain.peak_rss_bytes / GIB, 2),
        "ingest_events_per_s": round(rate),
        "ingest_ratio_to_raw": round(rate / raw_rate, 3),
        "ingest_ratio_to_plain": round(rate / (consumed / plain.seconds), 3),
        "ingest_peak_rss_gib": round(ingest.peak_rss_bytes / GIB, 2),
        # the processes at that peak (the runner process, its workers; the shell that
        # starts each worker holds next to nothing)
        "ingest_at_peak_gib": [
            [role, round(rss / GIB, 2)] for role, rss in ingest.at_peak if rss >= GIB // 100
        ],
        "ingest_cpu_share": round(ingest.cpu_share, 2),
        "ingest_commits": summary.get("commits", 1),
        "landed": summary["landed"],
        "quarantined": summary["quarantined"],
        "refresh_seconds": round(refresh.seconds, 1),
        "refresh_peak_rss_gib": round(refresh.peak_rss_bytes / GIB, 2),
        "queries_ms": queries,
    }


def _at_peak(result: dict[str, Any]) -> str:
    """The processes at the tree's peak, largest first: ``0.97+0.57+0.27``."""
    return "+".join(f"{gib:.2f}" for _, gib in result.get("ingest_at_peak_gib", []))


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        ("events", "{events:,}"),
        ("raw kafka-python consume (events/s)", "{raw_consume_events_per_s:,}"),
        (
            "  read before / after the candidate",
            "{raw_consume_before_events_per_s:,}/{raw_consume_after_events_per_s:,}",
        ),
        ("plain script (events/s)", "{plain_script_events_per_s:,}"),
        ("finradar ingest --once (events/s)", "{ingest_events_per_s:,}"),
        ("ratio to raw consume", "{ingest_ratio_to_raw:.3f}"),
        ("ratio to plain script", "{ingest_ratio_to_plain:.3f}"),
        ("ingest peak RSS, process tree (GiB)", "{ingest_peak_rss_gib:.2f}"),
        ("  processes at that peak (GiB)", "{at_peak}"),
        ("ingest CPU share of all cores", "{ingest_cpu_share:.0%}"),
        ("ingest commits", "{ingest_commits}"),
        ("refresh --full (s)", "{refresh_seconds:.1f}"),
        ("refresh peak RSS (GiB)", "{refresh_peak_rss_gib:.2f}"),
    ]
    names = sorted({q for r in results for q in r["queries_ms"]})
    lines = []
    for label, fmt in rows:
        cells = (fmt.format(**r, at_peak=_at_peak(r)) for r in results)
        lines.append(f"{label:<40}" + "".join(f"{c:>16}" for c in cells))
    for name in names:
        cells = "".join(
            f"{r['queries_ms'][name]['p50']:>7.0f}/{r['queries_ms'][name]['p95']:<8.0f}"
            for r in results
        )
        lines.append(f"{'query ' + name + ' p50/p95 (ms)':<40}" + cells)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1_000_000])
    parser.add_argument("--bad-rate", type=float, default=0.02)
    args = parser.parse_args()
    results = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory(prefix="finradar-bench-") as tmp:
            results.append(measure(n, args.bad_rate, Path(tmp)))
        print(table(results[-1:]), flush=True)
        record("ingest", results)  # a later size that fails keeps the earlier figures
    print(table(results))
    print(f"written to {record('ingest', results)}")


if __name__ == "__main__":
    main()
