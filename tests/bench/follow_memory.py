"""What a ``follow`` process holds between its passes: its resident memory and DuckDB's.

On a broker of its own (the bench's ports) holding N synthetic events (2% bad), a child
process runs ``follow``'s passes (``pipelines.follow.follow``, its sessions kept warm) of
about ``--pass-events`` messages each until the backlog is read, and prints after each pass
its resident memory, what its warehouse session holds by DuckDB's account
(``duckdb_memory()``) and its temporary tables. ``--baseline`` first runs the same passes on
an empty warehouse with the writer session as it was before ``writer_config`` and
``drop_pass_tables`` (DuckDB's external file cache on, the commit's tables kept):

    python -m tests.bench.follow_memory 1000000 --pass-events 200000 --baseline
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from threading import Event

from finradar.settings import load_settings
from infra.producing import publish_synthetic
from tests.bench.bench_ingest import KAFKA, bench_env, own_broker
from tests.bench.process_tree import process_sample

MIB = 1024**2


def run_passes(as_before: bool) -> None:
    """The child: follow's passes until one finds nothing new, a line after each."""
    import warehouse.lake
    import warehouse.landing
    from pipelines.follow import follow

    if as_before:
        warehouse.lake.writer_config = warehouse.lake.session_config  # type: ignore[assignment]
        warehouse.landing.drop_pass_tables = lambda con: None  # type: ignore[assignment]
    settings = load_settings()
    stop = Event()

    def after(summary, status) -> None:  # type: ignore[no-untyped-def]
        if summary.consumed == 0:
            stop.set()
            return
        con = warehouse.lake.shared_connection(settings)
        held = con.execute(
            "select tag, memory_usage_bytes from duckdb_memory() where memory_usage_bytes > 0"
        ).fetchall()
        temporary = con.execute("select count(*) from duckdb_tables() where temporary").fetchone()
        sample = process_sample(os.getpid())
        resident = (sample.rss if sample else 0) / MIB
        duckdb_held = sum(size for _, size in held) / MIB
        tags = ", ".join(f"{tag.lower()} {size / MIB:.0f}" for tag, size in held) or "nothing"
        print(
            f"pass {status.passes:3d}  {status.consumed:>10,} read  resident"
            f" {resident:6.0f} MiB  DuckDB {duckdb_held:5.0f} MiB"
            f" ({tags})  temporary tables {temporary[0]}",
            flush=True,
        )

    follow(settings, stop, on_pass=after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", type=int)
    parser.add_argument("--pass-events", type=int, default=200_000)
    parser.add_argument("--baseline", action="store_true", help="the session as before, too")
    parser.add_argument("--child", choices=["now", "before"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_passes(as_before=args.child == "before")
        return
    with tempfile.TemporaryDirectory(prefix="finradar-follow-memory-") as tmp:
        broker_settings = load_settings(var_dir=Path(tmp) / "broker", kafka=KAFKA)
        broker = own_broker(broker_settings)
        try:
            publish_synthetic(args.events, 0.02, 7, broker_settings.kafka)
            for n, variant in enumerate((["before"] if args.baseline else []) + ["now"]):
                settings = load_settings(var_dir=Path(tmp) / f"run-{n}", kafka=KAFKA)
                env = bench_env(settings) | {
                    "FINRADAR_INGEST__FOLLOW_PASS_EVENTS": str(args.pass_events)
                }
                env.setdefault("FINRADAR_INGEST__PII_HASH_KEY", "finradar-follow-memory-key")
                label = "as before (cache on, tables kept)" if variant == "before" else "now"
                print(f"== {label}", flush=True)
                command = [sys.executable, "-m", "tests.bench.follow_memory", "0"]
                subprocess.run([*command, "--child", variant], env=env, check=True)
        finally:
            broker.down(purge=True)


if __name__ == "__main__":
    main()
