"""Where an ingest pass's time and memory go: its process tree, second by second.

On a broker of its own (the bench's ports) holding N synthetic events (2% bad), runs
``finradar ingest --once`` on an empty warehouse once per variant (``--variant`` takes
``FINRADAR_…=value`` settings, several separated by spaces; none: the defaults), each read
of the same events. For each run it prints every second's CPU and resident memory per
process (the ``finradar`` process, each Beam worker), the phases (starting, workers busy,
the commit after them) and the tree's peak: the figures behind the ingest's batch size and
commit placement.

    python -m tests.bench.ingest_timeline 1000000 \\
        --variant FINRADAR_INGEST__BATCH_BYTES=4194304 \\
        --variant "FINRADAR_WAREHOUSE__COMMIT_THREADS=2 FINRADAR_INGEST__GX_ROWS=20000"

``--collector`` also prints, per process, the time its cycle collector took
(``tests/bench/collector_probe``): the figures behind ``pipelines.batch_gc``.

``--follow`` runs ``finradar follow --until-idle`` instead: the backlog taken in follow's
passes, in its own process (``ingest.follow_pass_events`` a pass), beside its validators:

    python -m tests.bench.ingest_timeline 1000000 --follow \\
        --variant FINRADAR_INGEST__FOLLOW_PASS_EVENTS=2000000
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from finradar.settings import load_settings
from infra.broker import LocalBroker
from infra.producing import publish_synthetic
from tests.bench.bench_ingest import KAFKA, bench_env, finradar_command
from tests.bench.process_tree import TreeRun, run_tree

GIB = 1024**3
PROBE = Path(__file__).with_name("collector_probe")  # its sitecustomize times collections
WORKER = "Beam worker"


# what ``per_second`` gives
Rows = list[tuple[int, list[tuple[str, float, float]]]]


def per_second(run: TreeRun) -> Rows:
    """Each whole second of the run: (role, CPU share of one core, GiB) per process."""
    rows, last, cpu_before = [], -1, {}
    for seconds, samples in run.timeline:
        second = int(seconds)
        if second == last:
            continue
        row = []
        for s in samples:
            busy = s.cpu_seconds - cpu_before.get(s.pid, (s.cpu_seconds, seconds))[0]
            span = seconds - cpu_before.get(s.pid, (s.cpu_seconds, seconds))[1]
            row.append((s.role, busy / span if span else 0.0, s.rss / GIB))
            cpu_before[s.pid] = (s.cpu_seconds, seconds)
        rows.append((second, row))
        last = second
    return rows


def busy_span(rows: Rows) -> tuple[int, int] | None:
    """The first second a worker used more than half a core, and the second after the
    last one; None if none did (the pass ran in one process)."""
    busy = [t for t, row in rows if any(r == WORKER and cpu > 0.5 for r, cpu, _ in row)]
    return (busy[0], busy[-1] + 1) if busy else None


def phases(rows: Rows, total: float) -> str:
    """Seconds until a worker is busy, with workers busy, and after the last worker."""
    span = busy_span(rows)
    if span is None:
        return f"in one process: {total:.1f} s"
    start, end = span
    return (
        f"starting {start} s, workers busy {end - start} s, "
        f"after the workers {total - end:.1f} s (the commit)"
    )


def process_peaks(rows: Rows) -> str:
    """Each role's largest resident memory over the run (of any one process in it)."""
    peaks: dict[str, float] = {}
    for _, row in rows:
        for role, _, gib in row:
            peaks[role] = max(peaks.get(role, 0.0), gib)
    return "peak of one process: " + ", ".join(f"{r} {g:.2f} GiB" for r, g in peaks.items())


def busy_shares(run: TreeRun, rows: Rows) -> str:
    """Each process's mean CPU share of a core over the seconds the workers were busy
    (``busy_span`` of ``rows``, the run's ``per_second``), in the order the processes first
    appear, and their sum against the machine's cores: what the pass and its broker left
    idle."""
    span = busy_span(rows)
    if span is None:
        return "no second with a busy worker"
    start, end = span
    first: dict[int, tuple[str, float]] = {}  # by pid: role, CPU seconds at the start
    last: dict[int, float] = {}  # by pid: CPU seconds at the end
    for seconds, samples in run.timeline:
        if start <= seconds <= end:
            for s in samples:
                first.setdefault(s.pid, (s.role, s.cpu_seconds))
                last[s.pid] = s.cpu_seconds
    shares = [(role, (last[pid] - cpu) / (end - start)) for pid, (role, cpu) in first.items()]
    cells = ", ".join(f"{role} {share:.0%}" for role, share in shares if share >= 0.005)
    total = sum(share for _, share in shares)
    return f"while the workers were busy: {cells}; {total:.0%} of {100 * (os.cpu_count() or 1)}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", type=int)
    parser.add_argument("--variant", action="append", default=[], metavar="'FINRADAR_X=V …'")
    parser.add_argument(
        "--collector", action="store_true", help="time every process's cycle collections"
    )
    parser.add_argument(
        "--follow", action="store_true", help="finradar follow --until-idle, not ingest --once"
    )
    args = parser.parse_args()
    command = ("follow", "--until-idle") if args.follow else ("ingest", "--once", "--json")
    variants = [[], *[v.split() for v in args.variant]]
    with tempfile.TemporaryDirectory(prefix="finradar-timeline-") as tmp:
        broker_settings = load_settings(var_dir=Path(tmp) / "broker", kafka=KAFKA)
        broker = LocalBroker(broker_settings)
        status = broker.up()
        if not status.managed or status.pid is None:
            raise SystemExit(f"another broker answers on {broker_settings.kafka.bootstrap}")
        try:
            publish_synthetic(args.events, 0.02, 7, broker_settings.kafka)
            for n, variant in enumerate(variants):
                settings = load_settings(var_dir=Path(tmp) / f"run-{n}", kafka=KAFKA)
                env = bench_env(settings) | dict(v.split("=", 1) for v in variant)
                env.setdefault("FINRADAR_INGEST__PII_HASH_KEY", "finradar-timeline-key")
                times = Path(tmp) / f"collector-{n}"
                if args.collector:
                    times.mkdir()
                    path = [str(PROBE), env.get("PYTHONPATH", "")]
                    env |= {"FINRADAR_COLLECTOR_TIMES": str(times), "PYTHONPATH": ":".join(path)}
                run = run_tree(finradar_command(*command), env, watch={status.pid: "broker"})
                if run.returncode:
                    raise SystemExit(f"finradar {command[0]} failed: {run.stdout[-500:]}")
                rows = per_second(run)
                print(f"\n== {' '.join(variant) or 'defaults'}: {run.seconds:.1f} s")
                for second, row in rows:
                    cells = "  ".join(f"{r[:7]} {cpu:4.0%} {gib:.2f}G" for r, cpu, gib in row)
                    print(f"{second:4d}s  {cells}")
                print(phases(rows, run.seconds))
                print(busy_shares(run, rows))
                print(f"peak of the process tree {run.peak_rss_bytes / GIB:.2f} GiB")
                print(process_peaks(rows))
                for written in sorted(times.glob("*")) if args.collector else []:
                    print(written.read_text().rstrip())
        finally:
            broker.down(purge=True)


if __name__ == "__main__":
    main()
