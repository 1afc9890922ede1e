"""A shared warehouse (Postgres catalog, S3 data: the project's stand-ins) against the local
one (SQLite catalog, local files), in the same run:

* commits per second with 1, 2 and 4 writer processes committing at once (each an open
  session making one-row commits, each in the writers' turn, as an ingest's commit takes
  it);
* ingest throughput of one ``ingest --once`` over every partition against two at once, each
  over half of the partitions (``--partitions``), on the shared warehouse: what a second
  worker adds. On this 2-core machine the broker, Postgres and the S3 stand-in share the
  cores with the workers.

Prints a table and writes the figures to ``var/bench/<date>.json`` (``shared``).

    python -m tests.bench.bench_shared [--events 200000] [--commits 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from contracts.spec import contracts
from finradar.settings import Settings, load_settings
from infra.broker import LocalBroker
from infra.object_store import LocalObjectStore
from infra.postgres import LocalPostgres
from infra.prefect_server import free_port
from infra.producing import publish_synthetic
from tests.bench.record import record

KAFKA = {"port": 28292, "controller_port": 28293}
WRITER = """
import sys
from finradar.settings import get_settings
from warehouse.lake import connect
from warehouse.transactions import in_transaction
settings, writer, commits = get_settings(), sys.argv[1], int(sys.argv[2])
con = connect(settings)
create = "create table if not exists main.bench_commits (writer varchar, n integer)"
in_transaction(con, lambda: con.execute(create), retries=20, turn_wait_s=600)
def commit(n):
    insert = lambda: con.execute("insert into main.bench_commits values (?, ?)", [writer, n])
    in_transaction(con, insert, retries=20, turn_wait_s=600)
commit(-1)
print("ready", flush=True)
sys.stdin.readline()
for n in range(commits):
    commit(n)
"""


def _env(settings: Settings, extra: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "FINRADAR_VAR_DIR": str(settings.var),
        "FINRADAR_KAFKA__PORT": str(settings.kafka.port),
        "FINRADAR_KAFKA__CONTROLLER_PORT": str(settings.kafka.controller_port),
        **extra,
    }


def commits_per_second(env: dict[str, str], writers: int, commits: int) -> float:
    """``writers`` processes, started and warmed up first, then released together, each
    making ``commits`` commits: commits per second of wall time."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, f"w{writers}-{k}", str(commits)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(writers)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    started = time.perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        if p.wait() != 0:
            raise SystemExit("a writer failed")
    return writers * commits / (time.perf_counter() - started)


def ingest_rate(env: dict[str, str], shares: list[str | None], events: int) -> float:
    """``ingest --once`` processes started together (``--partitions`` each share, or every
    partition): events per second of wall time until the last one ends."""
    started = time.perf_counter()
    procs = []
    for share in shares:
        args = ["ingest", "--once"] + (["--partitions", share] if share else [])
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "finradar", *args],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"an ingest failed: {err[-2000:]}")
    return events / (time.perf_counter() - started)


def halves() -> list[str]:
    """The contract topics' partitions in two shares (``--partitions`` values)."""
    pairs = [(c.topic, n) for c in contracts().values() for n in range(3)]
    return [",".join(f"{t}:{n}" for t, n in pairs[k::2]) for k in range(2)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--commits", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="finradar-bench-shared-"))
    ports = {
        "local_postgres_port": free_port("127.0.0.1"),
        "local_object_store_port": free_port("127.0.0.1"),
    }
    base = load_settings(var_dir=root / "var", kafka=KAFKA, warehouse=ports)
    postgres, store, broker = LocalPostgres(base), LocalObjectStore(base), LocalBroker(base)
    rows = []
    try:
        postgres.up()
        store.up()
        shared = {**postgres.client_environment(), **store.client_environment()}
        figures: dict[str, object] = {"events": args.events, "commits_per_writer": args.commits}
        for writers in (1, 2, 4):
            local_var = load_settings(var_dir=root / f"local-{writers}" / "var", kafka=KAFKA)
            local = commits_per_second(_env(local_var, {}), writers, args.commits)
            pg = commits_per_second(_env(base, shared), writers, args.commits)
            figures[f"commits_per_s_{writers}_writers"] = {
                "postgres_s3": round(pg, 1),
                "sqlite_local": round(local, 1),
                "ratio": round(pg / local, 2),
            }
            rows.append((f"commits/s, {writers} writer(s)", pg, local))
        broker.up()
        publish_synthetic(args.events, 0.02, 21, base.kafka)
        one = ingest_rate(_env(base, shared), [None], args.events)
        # the same events again, into a fresh catalog schema: drop the first run's warehouse
        postgres.down(purge=True)
        store.down(purge=True)
        postgres.up()
        store.up()
        shared = {**postgres.client_environment(), **store.client_environment()}
        two = ingest_rate(_env(base, shared), halves(), args.events)
        figures["ingest_events_per_s"] = {
            "one_worker": round(one),
            "two_workers": round(two),
            "ratio": round(two / one, 2),
            "note": "2 cores shared with the broker, Postgres and the S3 stand-in",
        }
        rows.append(("ingest events/s, 2 workers vs 1", two, one))
    finally:
        broker.down(purge=True)
        store.down(purge=True)
        postgres.down(purge=True)
    print(f"{'figure':<36}{'candidate':>12}{'baseline':>12}{'ratio':>8}")
    for name, candidate, baseline in rows:
        print(f"{name:<36}{candidate:>12,.1f}{baseline:>12,.1f}{candidate / baseline:>8.2f}")
    print("commits: candidate Postgres catalog + S3 data, baseline SQLite catalog + local files")
    print("ingest: candidate two ingest processes (half the partitions each), baseline one")
    print(f"figures in {record('shared', figures)}")


if __name__ == "__main__":
    main()
