"""Runner portability: the ingest pass on Beam's Prism runner lands what FnApiRunner lands.

One synthetic stream on a broker of this module's own; one warehouse ingested with the
in-process ``FnApiRunner`` (the reference), then one per portable set-up: ``PrismRunner``
(Beam starts the locally built Prism; SDK workers in this process, ``LOOPBACK``) and
``PortableRunner`` to a Prism job server with the SDK workers in separate processes
(``EXTERNAL``, a worker pool). Each must hold the same landed rows, quarantine and
accounting as the reference.

Prism is built from Beam's Go module once, with the project's fixes (``infra.prism``, about
five minutes cold, cached under ``.cache/prism``); without Go these tests are skipped. The
last test checks one of those fixes (``infra/prism_patches.py``) on a pipeline of its own.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.worker.sdk_worker import SdkHarness
from apache_beam.utils.sentinel import Sentinel

from contracts.spec import contracts
from finradar.settings import Settings, load_settings
from infra import prism
from infra.producing import publish_synthetic
from pipelines import worker_processes
from pipelines.ingest import IngestSummary, run_once
from pipelines.portable import bounded_job_runner
from pipelines.runners import pipeline_options
from pipelines.worker_launch import PLAIN_START, WARM_START
from tests.integration.cli_runner import finradar_env, run_finradar
from warehouse.lake import connect

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("go") is None,
        reason="Go (go) is not installed: Beam's Prism runner is built from source with it",
    ),
    # the first run builds Prism (about five minutes) inside the first test's set-up
    pytest.mark.timeout(1500),
]

N_SYNTHETIC = 3_000
BAD_RATE = 0.02
SEED = 15
KAFKA = {"port": 29692, "controller_port": 29693}
# small batches: the plan's ranges are shared out per worker (a GroupByKey) and read,
# the path where a runner with several workers differs from the in-process one
BATCH_RECORDS = 500
RAW_TABLES = tuple(f"raw.{c.table}" for c in contracts().values())


@pytest.fixture(scope="session")
def prism_location(project_settings: Settings) -> Path:
    """The Prism binary of the installed Beam, built once into the project's cache."""
    return prism.prism_binary(project_settings)


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """An own broker with the synthetic stream on its topics (settings of the broker)."""
    from infra.broker import LocalBroker

    var = tmp_path_factory.mktemp("prism") / "broker"
    settings = load_settings(var_dir=var, kafka=KAFKA)
    broker = LocalBroker(settings)
    broker.up()
    publish_synthetic(N_SYNTHETIC, BAD_RATE, SEED, settings.kafka)
    yield settings
    broker.down(purge=True)


def _warehouse(
    stream: Settings, name: str, runner: str, options: list[str], batch: int = BATCH_RECORDS
) -> Settings:
    return load_settings(
        var_dir=stream.var.parent / name,
        kafka=KAFKA,
        ingest={"batch_records": batch},
        beam={"runner": runner, "options": options},
    )


@pytest.fixture(scope="module")
def reference(stream: Settings) -> tuple[Settings, IngestSummary]:
    settings = _warehouse(stream, "fnapi", "FnApiRunner", [])
    return settings, run_once(settings)


def warehouse_state(settings: Settings) -> dict[str, Any]:
    """What a pass leaves in the warehouse, without what differs from run to run (batch
    ids, times, file names, the runner's name)."""
    con = connect(settings, read_only=True)
    try:

        def rows(sql: str) -> list[tuple]:
            return con.execute(sql).fetchall()

        state: dict[str, Any] = {}
        for table in RAW_TABLES:
            state[table] = rows(
                f"select event_id, content_sha256, kafka_topic, kafka_partition, kafka_offset "
                f"from {table} order by all"
            )
        state["raw.survey_answers"] = rows(
            "select * exclude (batch_id) from raw.survey_answers order by all"
        )
        state["quarantine.events"] = rows(
            "select kafka_topic, kafka_partition, kafka_offset, reason_code, reasons, "
            "raw_sha256, redacted, event_id from quarantine.events order by all"
        )
        state["ops.kafka_offsets"] = rows(
            "select kafka_topic, kafka_partition, next_offset from ops.kafka_offsets order by all"
        )
        state["ops.partition_batches"] = rows(
            "select kafka_topic, kafka_partition, start_offset, next_offset, consumed, landed, "
            "duplicates, quarantined from ops.partition_batches order by all"
        )
        state["ops.landed_events"] = rows(
            "select * exclude (batch_id) from ops.landed_events order by all"
        )
        state["ops.duplicate_events"] = rows(
            "select * exclude (batch_id) from ops.duplicate_events order by all"
        )
        state["ops.ingest_runs"] = rows(
            "select consumed, landed, duplicates, quarantined from ops.ingest_runs order by all"
        )
        # how many validations ran depends on the batches; what they checked does not
        state["dq.validation_runs"] = rows(
            "select contract, sum(rows_checked), sum(rows_failed), bool_and(success) "
            "from dq.validation_runs group by contract order by all"
        )
        state["dq.expectation_results"] = rows(
            "select contract, expectation, column_name, reason_code, sum(unexpected_count) "
            "from dq.expectation_results group by all order by all"
        )
        return state
    finally:
        con.close()


def _runner_recorded(settings: Settings) -> list[str]:
    con = connect(settings, read_only=True)
    try:
        return [r[0] for r in con.execute("select runner from ops.ingest_runs").fetchall()]
    finally:
        con.close()


def _assert_same_warehouse(
    reference: tuple[Settings, IngestSummary],
    settings: Settings,
    summary: IngestSummary,
    data_docs: bool = True,
) -> None:
    ref_settings, ref_summary = reference
    assert ref_summary.consumed == N_SYNTHETIC
    for field in ("consumed", "landed", "duplicates", "quarantined", "by_reason", "partitions"):
        assert getattr(summary, field) == getattr(ref_summary, field), field
    expected, actual = warehouse_state(ref_settings), warehouse_state(settings)
    assert expected["quarantine.events"], "the stream should have bad records"
    for key in expected:
        assert actual[key] == expected[key], f"{key} differs from the FnApiRunner warehouse"
    assert _runner_recorded(settings) == [settings.beam.runner]
    if data_docs:
        _assert_data_docs_complete(settings)


def _assert_data_docs_complete(settings: Settings) -> None:
    """Every validation result the pass stored has its Data Docs page (the pages are built
    by the process that lands the pass, the results stored by the processes that
    validated)."""
    uncommitted = next(settings.gx_dir.rglob("uncommitted"))
    results = {
        p.relative_to(uncommitted / "validations").with_suffix("")
        for p in (uncommitted / "validations").rglob("*.json")
    }
    site = uncommitted / "data_docs" / "local_site"
    pages = {
        p.relative_to(site / "validations").with_suffix("")
        for p in (site / "validations").rglob("*.html")
    }
    assert results and results <= pages, sorted(results - pages)


@pytest.mark.parametrize(
    ("start", "warm", "started"),
    [
        ("warm", {}, {"warm": 2, "plain": 0}),
        ("plain", {"warm_workers": False}, {"warm": 0, "plain": 0}),
        ("fallen back", {}, {"warm": 0, "plain": 2}),
    ],
)
def test_two_worker_processes_land_what_one_process_lands(
    stream, reference, start, warm, started, monkeypatch
):
    """The FnApiRunner's multi-processing mode (``beam.workers``): the chunks of the plan
    spread over two processes, each with its runner of the one GX project; the same
    warehouse whether the workers were forked from the worker server
    (``pipelines.worker_server``), started the plain way, or started the plain way because
    the server failed to start (``started``: how each worker says it started)."""
    if start == "fallen back":  # a server that ends at once, as one failing its import
        monkeypatch.setattr(worker_processes, "SERVER_MODULE", "pipelines.no_such_module")
    settings = load_settings(
        var_dir=stream.var.parent / f"fnapi-2-{start.replace(' ', '-')}",
        kafka=KAFKA,
        ingest={"batch_records": BATCH_RECORDS},
        beam={"runner": "FnApiRunner", "workers": 2, "parallel_from": 0, **warm},
    )
    assert pipeline_options(settings, 1).get_all_options()["direct_num_workers"] == 2
    summary = run_once(settings)
    _assert_same_warehouse(reference, settings, summary)
    # the worker processes were started with their output in the log, not the terminal
    log = settings.beam_worker_log.read_text()
    assert {"warm": log.count(WARM_START), "plain": log.count(PLAIN_START)} == started, log


def test_a_pass_in_several_commits_lands_what_one_commit_lands(stream, reference):
    """A backlog larger than ``ingest.commit_events`` lands in parts, each with its offsets:
    the same events, quarantine and offsets as one commit; a run and its ledger per part."""
    settings = load_settings(
        var_dir=stream.var.parent / "parts",
        kafka=KAFKA,
        ingest={"batch_records": BATCH_RECORDS, "commit_events": N_SYNTHETIC // 3},
    )
    summary = run_once(settings)
    ref_settings, ref_summary = reference
    assert summary.commits >= 3
    for field in ("consumed", "landed", "duplicates", "quarantined", "by_reason"):
        assert getattr(summary, field) == getattr(ref_summary, field), field
    expected, actual = warehouse_state(ref_settings), warehouse_state(settings)
    for key in (*RAW_TABLES, "raw.survey_answers", "quarantine.events", "ops.kafka_offsets"):
        assert actual[key] == expected[key], key
    assert len(actual["ops.ingest_runs"]) == summary.commits


def test_prism_runner_lands_what_fnapi_lands(stream, reference, prism_location):
    """With ``runner = "PrismRunner"`` alone, as the README shows: the project's Prism."""
    settings = _warehouse(stream, "prism", "PrismRunner", [])
    assert pipeline_options(settings, 1).get_all_options()["prism_location"] == str(prism_location)
    summary = run_once(settings)
    _assert_same_warehouse(reference, settings, summary)


def test_a_prism_pass_may_outlast_the_job_servers_request_timeout(
    stream, reference, prism_location
):
    """Beam opens a job's state and message streams with ``--job_server_timeout`` (300 s by
    default) as their deadline, so a pass that ran longer failed with DEADLINE_EXCEEDED
    while it was running well (apache/beam#35867); the project's runner waits on them
    without one (``pipelines.portable``). Here the timeout is a second, the pass longer."""
    timeout = 1
    settings = _warehouse(stream, "prism-long", "PrismRunner", [f"--job_server_timeout={timeout}"])
    summary = run_once(settings)
    assert summary.seconds > 2 * timeout, "the pass should outlast the timeout"
    _assert_same_warehouse(reference, settings, summary)


def test_a_prism_job_still_running_after_beam_job_timeout_is_cancelled(stream, prism_location):
    """What now bounds a portable runner's job: ``beam.job_timeout_s``, after which the
    pass fails with one line (``JobTimedOut``; none of Prism's own log, which it relays at
    info level), the job cancelled, nothing committed."""
    settings = load_settings(
        var_dir=stream.var.parent / "prism-timeout",
        kafka=KAFKA,
        ingest={"batch_records": BATCH_RECORDS},
        beam={"runner": "PrismRunner"},
    )
    env = {
        **finradar_env(settings),
        "FINRADAR_INGEST__BATCH_RECORDS": str(BATCH_RECORDS),
        "FINRADAR_BEAM__RUNNER": "PrismRunner",
        "FINRADAR_BEAM__JOB_TIMEOUT_S": "1",
    }
    failed = run_finradar(settings, "ingest", "--once", env=env)
    assert failed.returncode == 1, failed.stderr[-2000:]
    # besides the plan's lines and the progress lines (every 3 s), the failure's one line
    said = [
        line
        for line in failed.stderr.splitlines()
        if " offsets " not in line and "read and checked" not in line
    ]
    assert len(said) == 1, failed.stderr[-2000:]
    assert re.fullmatch(
        r"finradar: the Beam job \S+ had not ended after beam\.job_timeout_s \(1 s\): "
        r"cancelled it",
        said[0],
    ), said
    assert not settings.catalog_path.exists() or not warehouse_state(settings)["ops.kafka_offsets"]


def test_portable_runner_with_external_workers_lands_what_fnapi_lands(
    stream, reference, prism_location
):
    """Prism as a job server of its own, the SDK workers in a worker pool's processes: the
    validation and landing steps run outside the process that planned the pass."""
    with prism.job_server(stream) as endpoint, prism.worker_pool(stream) as pool:
        options = prism.portable_options(endpoint, "EXTERNAL", pool)
        settings = _warehouse(stream, "portable", "PortableRunner", options)
        summary = run_once(settings)
    _assert_same_warehouse(reference, settings, summary)


@contextlib.contextmanager
def _prism_environment(stream: Settings, environment: str) -> Iterator[list[str]]:
    """``PrismRunner`` options with the SDK workers in this process (``LOOPBACK``) or in a
    worker pool's processes (``EXTERNAL``, the pool stopped on exit)."""
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(prism.worker_pool(stream)) if environment == "EXTERNAL" else None
        yield prism.prism_options(stream, environment, pool)


ENVIRONMENTS = ["LOOPBACK", "EXTERNAL"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_follow_pass_commits_inside_its_gate(stream, reference, prism_location, environment):
    """``finradar follow``'s passes commit inside the writer slot the planning process
    holds (``commit_gate``), whichever process runs the landing step.

    Fails on EXTERNAL until the gate reaches the landing step's process: it is a registry
    of the planning process (``pipelines/land.py`` ``_commit_gates``)."""
    entered: list[int] = []

    @contextlib.contextmanager
    def gate() -> Iterator[None]:
        entered.append(os.getpid())
        yield

    with _prism_environment(stream, environment) as options:
        # one batch per topic (a pass smaller than ``batch_records``): the small-pass read
        settings = _warehouse(
            stream, f"follow-gate-{environment.lower()}", "PrismRunner", options, batch=50_000
        )
        summary = run_once(settings, follow=True, commit_gate=gate)
    assert entered == [os.getpid()]
    # a follow pass leaves Data Docs to the scheduled passes
    _assert_same_warehouse(reference, settings, summary, data_docs=False)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_follow_pass_over_many_ranges(stream, reference, prism_location, environment):
    """A follow pass bigger than ``batch_records`` (catching up a backlog) reads its ranges
    with the splittable DoFn, in parallel bundles on Prism.

    Fails until those bundles stop sharing one Kafka consumer: ``follow`` reads with the
    process's ``shared_reader`` (``pipelines/kafka_source.py``), and kafka-python's
    consumer is not thread-safe ("IllegalStateError: Partition is not assigned")."""
    with _prism_environment(stream, environment) as options:
        settings = _warehouse(
            stream, f"follow-ranges-{environment.lower()}", "PrismRunner", options
        )
        summary = run_once(settings, follow=True)
    _assert_same_warehouse(reference, settings, summary, data_docs=False)


@pytest.mark.parametrize("failpoint", ["staged", "in_transaction", "committed"])
def test_a_worker_killed_mid_pass_then_a_rerun_gives_the_same_warehouse(
    stream, reference, prism_location, failpoint
):
    """The crash points of ``test_ingest_crash`` with the landing step in a worker
    process: SIGKILL there fails the pass (never a pass reported done that did not
    commit, never a hang), and a rerun gives the warehouse of an undisturbed run."""
    with _prism_environment(stream, "EXTERNAL") as options:
        settings = _warehouse(stream, f"crash-{failpoint}", "PrismRunner", options)
        env = {
            **finradar_env(settings, failpoint),
            "FINRADAR_INGEST__BATCH_RECORDS": str(BATCH_RECORDS),
            "FINRADAR_BEAM__RUNNER": settings.beam.runner,
            "FINRADAR_BEAM__OPTIONS": json.dumps(settings.beam.options),
            # a job Prism never reports ended fails here, not at the subprocess's timeout
            "FINRADAR_BEAM__JOB_TIMEOUT_S": "300",
        }
        crashed = run_finradar(settings, "ingest", "--once", env=env)
        assert crashed.returncode != 0, crashed.stdout[-2000:]
        # the pass failed because its worker died at the failpoint, not for another reason
        assert "SDK worker disconnected" in crashed.stderr, crashed.stderr[-3000:]
        if failpoint != "committed":
            assert (
                not settings.catalog_path.exists()
                or not warehouse_state(settings)["ops.kafka_offsets"]
            )
        rerun = run_once(settings)
    assert rerun.consumed == (0 if failpoint == "committed" else N_SYNTHETIC)
    expected, actual = warehouse_state(reference[0]), warehouse_state(settings)
    for key in ("quarantine.events", "ops.kafka_offsets", "ops.landed_events", *RAW_TABLES):
        assert actual[key] == expected[key], key


# what bounds the job here: the unpatched Prism would have it run until then
PATCH_TEST_JOB_TIMEOUT_S = 60
_released = threading.Event()


class _EndOwnControlStreamFn(beam.DoFn):
    """Ends the control stream of the SDK harness it runs in (LOOPBACK: in this process),
    from the harness's side, while its own bundle still runs; then waits to be released."""

    def process(self, element: Any) -> Iterator[Any]:
        for harness in [o for o in gc.get_objects() if isinstance(o, SdkHarness)]:
            if harness._alive:
                harness._responses.put(Sentinel.sentinel)
        _released.wait(PATCH_TEST_JOB_TIMEOUT_S)
        yield element


def test_a_bundle_whose_workers_control_stream_ended_fails_the_job(prism_location):
    """A worker's control stream can end in ways Prism's ``W.Control`` selects between; a
    worker that ends it from its own side (the SDK harness's responses run out) takes one
    that Beam's own Prism left with the worker's running bundle waiting forever, so the job
    never ended (a killed worker takes it now and then). The project's build fails it."""
    options = PipelineOptions(
        [
            f"--prism_location={prism_location}",
            "--prism_log_level=error",
            "--environment_type=LOOPBACK",
        ]
    )
    runner = bounded_job_runner("PrismRunner", PATCH_TEST_JOB_TIMEOUT_S)
    started = time.monotonic()
    try:
        with (
            pytest.raises(RuntimeError, match="SDK worker disconnected"),
            beam.Pipeline(runner=runner, options=options) as p,
        ):
            _ = p | beam.Create([1]) | beam.ParDo(_EndOwnControlStreamFn())
    finally:
        _released.set()
    # failed once the stream ended (Beam's own Prism: JobTimedOut, at PATCH_TEST_JOB_TIMEOUT_S)
    assert time.monotonic() - started < PATCH_TEST_JOB_TIMEOUT_S
