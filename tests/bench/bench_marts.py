"""Refresh time and analysts' mart queries on a warehouse of N synthetic events.

Builds (or reuses) the warehouse of ``tests/bench/big_warehouse.py``, times a full
``finradar refresh`` (``warehouse.refresh.refresh(full=True)``), then runs a fixed set of
analyst queries ``--repeat`` times, each round in a new read-only session as ``finradar sql``
opens one (``warehouse.lake.connect(read_only=True)``), and prints p50/p95 per query
against the target (p95 ≤ 250 ms).

    python -m tests.bench.bench_marts --events 5000000 [--dir D] [--repeat 20] [--no-refresh]

The figures also go to ``var/bench/<date>.json`` (under ``marts-<N>``). ``make bench``
measures the same queries on the warehouses its ingest runs built
(``tests.bench.bench_ingest``); this builds a large one in a minute, for working on the
models.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tests.bench.big_warehouse import build, default_dir
from tests.bench.mart_queries import time_queries
from tests.bench.record import record

TARGET_P95_MS = 250.0


def run(
    events: int, folder: Path | None = None, repeat: int = 20, do_refresh: bool = True
) -> dict[str, Any]:
    # lazy: DuckDB and the warehouse load only for this step of a benchmark
    from warehouse.refresh import refresh

    folder = folder or default_dir(events)
    settings = build(folder, events)
    result: dict[str, Any] = {"events": events, "dir": str(folder), "repeat": repeat}
    if do_refresh:
        summary = refresh(settings, full=True)
        result["refresh_s"] = round(summary.seconds, 2)
        result["findings"] = summary.findings
        print(f"refresh (full): {summary.seconds:.1f} s, {summary.findings:,} findings")
    result["queries_ms"] = time_queries(settings, repeat)
    print(f"\n{'query':<26} {'p50 ms':>9} {'p95 ms':>9}  (target p95 <= {TARGET_P95_MS:.0f} ms)")
    for name, q in result["queries_ms"].items():
        flag = "" if q["p95"] <= TARGET_P95_MS else "  over target"
        print(f"{name:<26} {q['p50']:>9.1f} {q['p95']:>9.1f}{flag}")
    print(f"written to {record(f'marts-{events}', result)}")
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--dir", type=Path, help="var folder (default var/bench/wh-<N>)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--no-refresh", action="store_true", help="query the marts as they are (no refresh)"
    )
    args = parser.parse_args(argv)
    return run(args.events, args.dir, args.repeat, not args.no_refresh)


if __name__ == "__main__":
    main()
