"""A shared warehouse: DuckLake's catalog in Postgres and its data in an S3-compatible store
(the project's stand-ins, ``finradar infra up --postgres --object-store``), written by
``finradar`` processes as a user runs them.

* Two ``ingest --once`` processes started together land exactly what one ingest of the
  same topics lands into a local warehouse: the writer lock is the catalog's advisory lock.
* ``refresh``, then ``sql``: the marts are there, and the reader cannot write a file.
* Nothing of the warehouse is on local disk: its data files are objects in the store.
* The writer lock shows its holder and its waiters, and is released when its holder is
  killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from finradar.errors import FinradarError, TransientError
from finradar.settings import Settings, load_settings
from infra.object_store import LocalObjectStore
from infra.postgres import LocalPostgres, find_postgres_binaries
from infra.prefect_server import free_port
from infra.producing import corpus_messages, publish, publish_synthetic
from tests.integration.cli_runner import finradar_env, run_finradar
from tests.integration.test_ingest import contents
from warehouse.writer_locks import writer_lock

pytestmark = pytest.mark.integration

KAFKA = {"port": 29892, "controller_port": 29893}
N_SYNTHETIC = 3_000


def _warehouse_overrides(env: dict[str, str]) -> dict[str, str]:
    prefix = "FINRADAR_WAREHOUSE__"
    return {k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix)}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, dict[str, str]]]:
    """Settings of a shared warehouse on the stand-ins (and the environment that points a
    ``finradar`` process at it), beside an own broker with the corpus and a synthetic
    stream on its topics."""
    try:
        find_postgres_binaries()
    except FinradarError as exc:
        pytest.skip(f"no Postgres server binaries (make postgres): {exc}")
    from infra.broker import LocalBroker

    var = tmp_path_factory.mktemp("shared") / "var"
    ports = {"local_postgres_port": free_port("127.0.0.1")}
    ports["local_object_store_port"] = free_port("127.0.0.1")
    local = load_settings(var_dir=var, kafka=KAFKA, warehouse=ports)
    postgres, store, broker = LocalPostgres(local), LocalObjectStore(local), LocalBroker(local)
    try:
        postgres.up()
        store.up()
        broker.up()
        publish(corpus_messages(), local.kafka)
        publish_synthetic(N_SYNTHETIC, 0.02, 7, local.kafka)
        env = {**postgres.client_environment(), **store.client_environment()}
        settings = load_settings(
            var_dir=var, kafka=KAFKA, warehouse={**ports, **_warehouse_overrides(env)}
        )
        yield settings, {**finradar_env(settings), **env}
    finally:
        broker.down(purge=True)
        store.down(purge=True)
        postgres.down(purge=True)


def test_two_ingests_at_once_land_what_one_local_ingest_lands(
    shared: tuple[Settings, dict[str, str]], tmp_path: Path
) -> None:
    settings, env = shared
    both = [
        subprocess.Popen(
            [sys.executable, "-m", "finradar", "ingest", "--once"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in both]
    assert [p.returncode for p in both] == [0, 0], outputs

    local = load_settings(var_dir=tmp_path / "var", kafka=KAFKA)
    result = run_finradar(local, "ingest", "--once", timeout=300)
    assert result.returncode == 0, result.stderr
    landed = contents(settings)
    assert landed == contents(local)
    assert len(landed["raw.spend_disclosures"]) > 1000

    # nothing of the shared warehouse is on this host's disk: its files are objects
    assert not (settings.warehouse_dir / "data").exists()
    assert not settings.catalog_path.exists()
    objects = LocalObjectStore(settings).s3_client().list_objects_v2(Bucket="finradar")
    keys = [o["Key"] for o in objects.get("Contents", [])]
    assert any(k.startswith("warehouse/raw/") and k.endswith(".parquet") for k in keys)

    refreshed = subprocess.run(
        [sys.executable, "-m", "finradar", "refresh"], env=env, capture_output=True, text=True
    )
    assert refreshed.returncode == 0, refreshed.stderr
    query = "select count(*) from marts.spend_series"
    answer = subprocess.run(
        [sys.executable, "-m", "finradar", "sql", "--format", "csv", query],
        env=env,
        capture_output=True,
        text=True,
    )
    assert answer.returncode == 0, answer.stderr
    assert int(answer.stdout.splitlines()[-1]) > 0
    outside = tmp_path / "written.csv"
    refused = subprocess.run(
        [sys.executable, "-m", "finradar", "sql", f"copy (select 1) to '{outside}'"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0 and not outside.exists()
    assert "Traceback" not in refused.stderr


HOLD = """
import sys, time
from finradar.settings import get_settings
from warehouse.writer_locks import writer_lock
with writer_lock(get_settings(), "ingest", "another ingest").hold():
    print("held", flush=True)
    time.sleep(600)
"""


def test_the_writer_lock_names_its_holder_shows_waiters_and_dies_with_it(
    shared: tuple[Settings, dict[str, str]],
) -> None:
    settings, env = shared
    lock = writer_lock(settings, "ingest", "another ingest")
    assert lock.is_free() and not lock.anyone_waiting()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert not lock.is_free()
        with (
            pytest.raises(TransientError, match=rf"another ingest .*pid {holder.pid}"),
            lock.hold(),
        ):
            pass
        waited: list[BaseException] = []

        def wait() -> None:
            try:
                with lock.hold(wait_s=30, announce=True):
                    pass
            except BaseException as exc:  # handed to the test
                waited.append(exc)

        waiter = threading.Thread(target=wait)
        waiter.start()
        deadline = time.monotonic() + 10
        while not lock.anyone_waiting() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock.anyone_waiting()
        os.kill(holder.pid, signal.SIGKILL)  # the server ends its session, and its lock
        waiter.join(timeout=30)
        assert not waiter.is_alive() and waited == []
    finally:
        holder.kill()
        holder.wait()
    assert lock.is_free() and not lock.anyone_waiting()
