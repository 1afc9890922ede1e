"""Faults outside the data, on a broker of its own: a recreated broker (offsets behind the
warehouse's), a catalog deleted beside its data, a broker lost in the middle of a pass. Each
is one clear line and exit 1 with nothing half-landed, and each has a way out."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from contracts.corpus import seed_corpus
from contracts.topics import load_topics
from finradar.settings import Settings, load_settings
from infra.producing import corpus_messages, publish, publish_synthetic
from pipelines.backfill import run_backfill
from tests.integration.cli_runner import finradar_env, run_finradar
from tests.unit.warehouse_inputs import open_lake
from warehouse.lake import connect

pytestmark = pytest.mark.integration

KAFKA = {"port": 30092, "controller_port": 30093}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from infra.broker import LocalBroker

    settings = load_settings(var_dir=tmp_path_factory.mktemp("faults") / "var", kafka=KAFKA)
    broker = LocalBroker(settings)
    broker.up()
    yield broker
    broker.down(purge=True)


def _one_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("finradar:")]
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


def _snapshots(settings: Settings) -> int:
    con = connect(settings, read_only=True)
    try:
        return int(con.execute("select count(*) from lake.snapshots()").fetchone()[0])
    finally:
        con.close()


def test_a_recreated_broker_is_refused_then_read_again_with_backfill_reset(broker, tmp_path):
    settings = load_settings(var_dir=tmp_path / "var", kafka=KAFKA)
    publish(corpus_messages(), settings.kafka)
    publish_synthetic(3000, 0.0, 11, settings.kafka, workers=1)
    first = run_finradar(settings, "ingest", "--once", "--json")
    assert first.returncode == 0, first.stderr[-3000:]
    assert json.loads(first.stdout)["landed"] == len(seed_corpus()) + 3000

    broker.down(purge=True)  # type: ignore[attr-defined]
    broker.up()  # type: ignore[attr-defined]
    # the new topics: a few of the same events again, and new ones
    again = list(corpus_messages())[:5]
    publish(again, settings.kafka)
    publish_synthetic(40, 0.0, 3, settings.kafka, workers=1)
    before = _snapshots(settings)

    line = _one_line(run_finradar(settings, "ingest", "--once"))
    assert "behind the warehouse's" in line and "fi.spend.disclosures.v1[" in line
    assert "backfill --earliest --reset" in line
    assert _snapshots(settings) == before  # nothing was written

    with pytest.raises(Exception, match="add --reset"):
        run_backfill(settings, "earliest")
    summary = run_backfill(settings, "earliest", reset=True)
    assert (summary.consumed, summary.duplicates, summary.landed) == (45, 5, 40)
    again_reset = run_backfill(settings, "earliest", reset=True)  # nothing is behind now
    assert (again_reset.consumed, again_reset.already_accounted) == (0, 45)

    after = run_finradar(settings, "ingest", "--once", "--json")
    assert after.returncode == 0, after.stderr[-3000:]
    assert json.loads(after.stdout)["consumed"] == 0
    publish_synthetic(10, 0.0, 4, settings.kafka, workers=1)
    more = run_finradar(settings, "ingest", "--once", "--json")
    assert json.loads(more.stdout)["landed"] == 10
    # a later backfill from the start skips what the new topics' offsets already gave
    again = run_backfill(settings, "earliest")
    assert (again.consumed, again.already_accounted) == (0, 55)
    con = connect(settings, read_only=True)
    try:
        resets = con.execute("select count(*) from ops.offset_resets").fetchone()[0]
    finally:
        con.close()
    # every partition ended before its committed offset, once
    assert resets == sum(t.partitions for t in load_topics())


def test_a_catalog_deleted_beside_its_data_is_refused(broker, tmp_path):
    settings = load_settings(var_dir=tmp_path / "var", kafka=KAFKA)
    assert run_finradar(settings, "ingest", "--once").returncode == 0
    settings.catalog_path.unlink()
    line = _one_line(run_finradar(settings, "ingest", "--once"))
    assert "catalog" in line and "is missing while" in line
    assert not settings.catalog_path.exists()
    line = _one_line(run_finradar(settings, "sql", "select 1"))
    assert "no warehouse at" in line


@pytest.fixture(scope="module")
def long_stream(broker, tmp_path_factory: pytest.TempPathFactory) -> int:
    """A stream long enough that a pass is still reading when its broker is stopped, and
    above ``beam.parallel_from`` (two workers read it in parallel), published once for both
    broker-lost passes (each reads it into a warehouse of its own)."""
    settings = load_settings(var_dir=tmp_path_factory.mktemp("long") / "var", kafka=KAFKA)
    events = settings.beam.parallel_from + 100_000
    publish_synthetic(events, 0.0, 5, settings.kafka)
    return events


@pytest.mark.parametrize("workers", [1, 2])
def test_a_broker_lost_mid_pass_is_one_line_and_lands_nothing(
    broker, long_stream, tmp_path, workers
):
    """In the ``finradar`` process and in two worker processes (``beam.workers``): their
    output goes to the worker log, not beside the one line."""
    settings = load_settings(var_dir=tmp_path / "var", kafka=KAFKA, beam={"workers": workers})
    open_lake(settings).close()  # a warehouse that exists, with nothing landed yet
    before = _snapshots(settings)
    env = {
        **finradar_env(settings),
        "FINRADAR_INGEST__BATCH_RECORDS": "5000",
        "FINRADAR_BEAM__WORKERS": str(workers),
    }
    ingest = subprocess.Popen(
        [sys.executable, "-m", "finradar", "ingest", "--once"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    staging = settings.staging_dir
    deadline = time.monotonic() + 120
    while not (staging.exists() and any(staging.rglob("*.parquet"))):
        assert time.monotonic() < deadline and ingest.poll() is None, "the pass never read"
        time.sleep(0.2)
    broker.down()  # type: ignore[attr-defined]
    try:
        _, err = ingest.communicate(timeout=300)
        result = subprocess.CompletedProcess(ingest.args, ingest.returncode, "", err)
        line = _one_line(result)
        assert "Kafka" in line, line
        # the pass's own progress lines and that one line; no client log, no traceback
        noise = [x for x in err.splitlines() if "kafka" in x and not x.startswith("finradar:")]
        assert noise == [], err[-3000:]
        assert settings.beam_worker_log.is_file() == (workers > 1)
    finally:
        broker.up()  # type: ignore[attr-defined]
    assert _snapshots(settings) == before
    shutil.rmtree(staging, ignore_errors=True)


def test_a_flow_run_s_unexpected_fault_is_one_line(tmp_path):
    """A command that runs a Prefect flow (replay) meets a fault nobody foresaw inside it
    (DuckDB out of memory): Prefect's log says the run failed, without its traceback, and
    the command ends with one line; ``--verbose`` shows the traceback."""
    settings = load_settings(var_dir=tmp_path / "var", kafka=KAFKA)
    connect(settings).close()  # the warehouse exists
    env = {**finradar_env(settings), "FINRADAR_WAREHOUSE__MEMORY_LIMIT": "2MB"}
    line = _one_line(run_finradar(settings, "replay", env=env))
    assert "Out of Memory" in line
    verbose = run_finradar(settings, "--verbose", "replay", env=env)
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr
