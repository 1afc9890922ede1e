"""Where an ingest commit's seconds go: its DuckDB statements, each timed.

On a broker of its own (the bench's ports) holding N synthetic events (2% bad), runs
``finradar ingest --once`` on an empty warehouse with the failpoint ``staged``, in worker
processes and one commit whatever N: the process kills itself once its workers have
staged every file, before the commit. That
commit is then made ``--repeats`` times in this process, as the pass makes it
(``pipelines.land.commit_pass``, without the Data Docs), each time on a fresh copy of the
warehouse and of the staged files, with every statement timed. Prints each commit's
seconds and its peak resident memory above what this process held before it (sampled
every 50 ms: a lower bound, what the ``finradar`` process adds when it commits), then the
slowest statements, each at its best over the repeats: the figures behind the README's
account of the commit.

    python -m tests.bench.commit_replay 1000000 --repeats 2
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pipelines.land as land
from finradar.settings import load_settings
from infra.broker import LocalBroker
from infra.producing import publish_synthetic
from pipelines.planning import plan_ranges
from tests.bench.bench_ingest import GIB, KAFKA, bench_env, finradar_command
from tests.bench.process_tree import process_sample

SHOWN = 12  # the slowest statements printed
_FILES = re.compile(r"read_parquet\(\[[^\]]*\]\)")


def label(sql: str, width: int = 110) -> str:
    """A statement as one line: whitespace folded, a list of staged files shown as ``…``
    (the copies' paths differ), cut at ``width`` characters."""
    return _FILES.sub("read_parquet([…])", " ".join(sql.split()))[:width]


# each statement of a commit, in order: (its label, its seconds)
Statements = list[tuple[str, float]]


def best_of(commits: list[Statements]) -> Statements:
    """Each statement of the commits (the same statements in the same order, as every
    replay of one pass makes them) at its fastest over them."""
    if any(len(c) != len(commits[0]) for c in commits):
        raise ValueError("the replays made different numbers of statements")
    best = []
    for made in zip(*commits, strict=True):
        labels = {name for name, _ in made}
        if len(labels) != 1:
            raise ValueError(f"the replays made different statements: {sorted(labels)}")
        best.append((made[0][0], min(seconds for _, seconds in made)))
    return best


class _TimedConnection:
    """A DuckDB connection whose ``execute`` appends each statement's seconds to
    ``statements``; anything else goes to the connection as it is."""

    def __init__(self, con: Any, statements: Statements) -> None:
        self._con = con
        self._statements = statements

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = self._con.execute(sql, *args, **kwargs)
        self._statements.append((label(sql), time.perf_counter() - started))
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


@contextmanager
def _timed(statements: Statements) -> Iterator[None]:
    connect = land.connect
    with mock.patch.object(land, "connect", lambda s: _TimedConnection(connect(s), statements)):
        yield


def _rss() -> int:
    sample = process_sample(os.getpid())
    return sample.rss if sample is not None else 0


@contextmanager
def _peak_rss(peak: list[int], interval: float = 0.05) -> Iterator[None]:
    """Within the block, ``peak[0]``: the largest resident memory of this process seen."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(interval):
            peak[0] = max(peak[0], _rss())

    peak[0] = _rss()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        peak[0] = max(peak[0], _rss())


def stage_a_pass(events: int, var: Path) -> None:
    """``finradar ingest --once`` on ``var``'s empty warehouse, killed before its commit."""
    settings = load_settings(var_dir=var, kafka=KAFKA)
    env = bench_env(settings) | {
        "FINRADAR_INGEST__FAILPOINT": "staged",
        # its worker processes record the staged files for the commit (``staged.json``),
        # and all of them are one commit's
        "FINRADAR_BEAM__PARALLEL_FROM": "0",
        "FINRADAR_INGEST__COMMIT_EVENTS": str(max(events, 1)),
    }
    env.setdefault("FINRADAR_INGEST__PII_HASH_KEY", "finradar-commit-replay-key")
    run = subprocess.run(finradar_command("ingest", "--once"), env=env, capture_output=True)
    if run.returncode != -9:  # SIGKILL, by the failpoint
        tail = (run.stdout + run.stderr).decode(errors="replace")[-500:]
        raise SystemExit(f"the pass was to stop at its commit (exit {run.returncode}): {tail}")


def replay(staged_var: Path, copy: Path) -> tuple[float, int, Statements]:
    """The pass staged in ``staged_var`` committed on a copy of it at ``copy``: the
    commit's seconds, its peak resident bytes above this process's before it, and its
    statements."""
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(staged_var, copy, symlinks=True)
    settings = load_settings(var_dir=copy, kafka=KAFKA)
    run_dir = next(copy.glob(f"staging/*/*/{land.STAGED_FILE}")).parent
    staged = [
        dataclasses.replace(s, path=str(copy / Path(s.path).relative_to(staged_var)))
        for s in land.recorded_staged_files(run_dir)
    ]
    plan = plan_ranges(settings)  # nothing committed: each partition from its start
    statements: Statements = []
    before, peak = _rss(), [0]
    with _timed(statements), _peak_rss(peak):
        started = time.perf_counter()
        land.commit_pass(settings, run_dir.name, plan, staged, datetime.now(UTC), docs_built=True)
        seconds = time.perf_counter() - started
    return seconds, peak[0] - before, statements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", type=int)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    logging.getLogger("kafka").setLevel(logging.ERROR)  # its event loop's slow-task notes
    with tempfile.TemporaryDirectory(prefix="finradar-commit-replay-") as tmp:
        root = Path(tmp)
        broker = LocalBroker(load_settings(var_dir=root / "broker", kafka=KAFKA))
        status = broker.up()
        if not status.managed:
            raise SystemExit(f"another broker answers on {broker.settings.kafka.bootstrap}")
        try:
            publish_synthetic(args.events, 0.02, 7, broker.settings.kafka)
            stage_a_pass(args.events, root / "staged")
            commits = []
            for n in range(args.repeats):
                seconds, added, statements = replay(root / "staged", root / "replay")
                print(
                    f"commit {n + 1}: {seconds:.2f} s, {len(statements)} statements,"
                    f" {added / GIB:.2f} GiB resident above the process before it"
                )
                commits.append(statements)
        finally:
            broker.down(purge=True)
    best = best_of(commits)
    print(f"the slowest statements, each at its best of {args.repeats}:")
    for name, seconds in sorted(best, key=lambda s: -s[1])[:SHOWN]:
        print(f"{seconds:6.2f} s  {name}")
    print(f"{sum(s for _, s in best):6.2f} s  all {len(best)} statements")


if __name__ == "__main__":
    main()
