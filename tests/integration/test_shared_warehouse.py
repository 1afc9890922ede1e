"""A shared warehouse: DuckLake's catalog in Postgres and its data in an S3-compatible store
(the project's stand-ins, ``finradar infra up --postgres --object-store``).

* Rows land, ``finradar refresh`` builds the marts and ``finradar sql`` reads them, as a
  user runs them; the reader cannot write a file, and nothing of the warehouse is on local
  disk (its data files are objects in the store, its catalog in Postgres).
* The writer lock shows its holder and its waiters, and is released when its holder is
  killed.

Many writers on it at once: ``test_follow_group``.
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

import psycopg
import pytest

from finradar.errors import FinradarError, TransientError
from finradar.settings import Settings, load_settings
from infra.object_store import LocalObjectStore
from infra.postgres import LocalPostgres, find_postgres_binaries
from infra.prefect_server import free_port
from tests.integration.cli_runner import finradar_env
from tests.unit.warehouse_inputs import insert, spend
from warehouse.writer_locks import writer_lock

pytestmark = pytest.mark.integration

ENTITY = "cn.segment.banking"


def _warehouse_overrides(env: dict[str, str]) -> dict[str, str]:
    prefix = "FINRADAR_WAREHOUSE__"
    return {k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix)}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, dict[str, str]]]:
    """Settings of a shared warehouse on the stand-ins, and the environment that points a
    ``finradar`` process at it."""
    try:
        find_postgres_binaries()
    except FinradarError as exc:
        pytest.skip(f"no Postgres server binaries (make postgres): {exc}")
    var = tmp_path_factory.mktemp("shared") / "var"
    ports = {"local_postgres_port": free_port("127.0.0.1")}
    ports["local_object_store_port"] = free_port("127.0.0.1")
    local = load_settings(var_dir=var, warehouse=ports)
    postgres, store = LocalPostgres(local), LocalObjectStore(local)
    try:
        postgres.up()
        store.up()
        env = {**postgres.client_environment(), **store.client_environment()}
        settings = load_settings(var_dir=var, warehouse={**ports, **_warehouse_overrides(env)})
        yield settings, {**finradar_env(settings), **env}
    finally:
        store.down(purge=True)
        postgres.down(purge=True)


def test_land_refresh_and_read_a_shared_warehouse(
    shared: tuple[Settings, dict[str, str]], tmp_path: Path
) -> None:
    settings, env = shared
    insert(
        settings,
        "spend_disclosures",
        [spend(f"s{i}", ENTITY, str(2000 + i), "7.5") for i in range(40)],
    )

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
    query = f"select count(*) from marts.spend_series where entity_id = '{ENTITY}'"
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


CONNECT = """
from finradar.settings import get_settings
from warehouse.lake import connect
connect(get_settings()).close()
"""


def test_writers_that_find_no_catalog_create_it_one_at_a_time(
    shared: tuple[Settings, dict[str, str]],
) -> None:
    _, env = shared
    password = env["FINRADAR_WAREHOUSE__CATALOG_PASSWORD"]
    catalog = env["FINRADAR_WAREHOUSE__CATALOG"]
    with psycopg.connect(catalog, password=password, autocommit=True) as db:
        db.execute("create database fresh")
    fresh = {
        **env,
        "FINRADAR_WAREHOUSE__CATALOG": catalog.replace("dbname=finradar", "dbname=fresh"),
    }
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", CONNECT], env=fresh, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    errors = [w.communicate(timeout=120)[1] for w in writers]
    assert [w.returncode for w in writers] == [0] * 4, errors
