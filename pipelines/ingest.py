"""The ingest pass: Kafka → contract check → GX suites → normalise → one warehouse commit.

``run_once`` plans the run (for every partition of the contract topics, from the
warehouse's committed offset to the end offset taken now), runs the Beam pipeline over
those ranges, and lands the result in one DuckLake transaction. One writer at a time: a
file lock under ``var/`` guards the warehouse against a second ingest process.

Pipeline steps (stable labels)::

    Plan ─ Topic ranges | Partition ranges ─ Read Kafka ─ Decode and check ─ Validate with GX
      ─ Normalise and stage ─ Land in warehouse (Commit staged files, of the plan's ranges)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import apache_beam as beam
import duckdb
from apache_beam.options.pipeline_options import PipelineOptions

from contracts.spec import contracts
from finradar.errors import FinradarError, TransientError
from finradar.settings import Settings
from pipelines.batches import StagedFile
from pipelines.checking import DecodeAndCheck, ValidateWithSuites
from pipelines.commit import CommitStaged
from pipelines.kafka_source import PartitionRange, ReadKafkaRanges, ReadSmallPass, by_topic
from pipelines.normalise import NormaliseAndStage
from warehouse.landing import LandingSummary
from warehouse.locks import file_lock


@dataclass
class IngestSummary(LandingSummary):
    """What one pass did (``finradar ingest --once`` prints it): the landing plus its time."""

    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.consumed / self.seconds if self.seconds else 0.0


class _LandFn(beam.DoFn):
    """Commits the whole run (its element: the pass's plan); the summary goes to
    ``summary.json`` in the run's folder."""

    def __init__(
        self,
        settings: Settings,
        batch_id: str,
        started_at: datetime,
        run_dir: str,
        follow: bool = False,
        backfill: bool = False,
        gated: bool = False,
    ) -> None:
        self.settings = settings
        self.follow = follow
        self.backfill = backfill
        self.gated = gated
        self.batch_id = batch_id
        self.started_at = started_at
        self.run_dir = run_dir

    def process(
        self, plan: list[PartitionRange], staged: list[StagedFile]
    ) -> Iterator[dict[str, Any]]:
        from warehouse.lake import connect, shared_connection
        from warehouse.landing import land

        hit = failpoint_hook(self.settings)
        hit("staged")
        report = None if self.follow else build_data_docs(self.settings)
        con = shared_connection(self.settings) if self.follow else connect(self.settings)
        try:
            with self._commit_gate():
                summary = land(
                    con,
                    self.batch_id,
                    plan,
                    staged,
                    self.started_at,
                    runner=self.settings.beam.runner,
                    retries=self.settings.warehouse.commit_retries,
                    failpoint=hit,
                    report_path=str(report) if report else None,
                    backfill=self.backfill,
                    # follow's plan created the schema in this same session
                    ensure_schema=not self.follow,
                )
            hit("committed")
        finally:
            if not self.follow:
                con.close()
        result = asdict(summary)
        Path(self.run_dir, "summary.json").write_text(json.dumps(result, default=str))
        yield result

    def _commit_gate(self) -> AbstractContextManager[None]:
        if not self.gated:
            return contextlib.nullcontext()
        gate = _commit_gates.get(self.batch_id)
        if gate is None:  # the runner executes this step in another process
            raise FinradarError(
                "a pass with a commit slot needs the in-process Beam runner (the slot is held "
                "by the process that plans the pass)"
            )
        return gate()


# the commit gates of the passes running in this process, by batch id (``run_once``)
_commit_gates: dict[str, Callable[[], AbstractContextManager[None]]] = {}


class LandInWarehouse(beam.PTransform):
    """All ``StagedFile``s of the run → one DuckLake commit of the ranges of ``planned``
    (the one-element output of ``PlanPass``); a single element: the summary."""

    def __init__(
        self,
        settings: Settings,
        batch_id: str,
        planned: beam.PCollection,
        started_at: datetime,
        run_dir: Path,
        follow: bool = False,
        backfill: bool = False,
        gated: bool = False,
    ) -> None:
        super().__init__()
        self.planned = planned
        self.fn = _LandFn(settings, batch_id, started_at, str(run_dir), follow, backfill, gated)

    def expand(self, staged: beam.PCollection) -> beam.PCollection:
        return staged | "Commit staged files" >> CommitStaged(self.fn, trigger=self.planned)


class _PlanToEndFn(beam.DoFn):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def process(self, _: bytes) -> Iterator[list[PartitionRange]]:
        yield plan_ranges(self.settings, shared=True)


class PlanPass(beam.PTransform):
    """The pass's plan as one element (a list of ``PartitionRange``).

    ``to_end_now`` (``follow``): planned again when the pipeline starts running, up to the
    end offsets at that moment, so what was produced while the pipeline was being built is
    read by this pass, not the next. Otherwise ``plan`` as given."""

    def __init__(
        self, settings: Settings, plan: Sequence[PartitionRange], to_end_now: bool = False
    ) -> None:
        super().__init__()
        self.settings = settings
        self.plan = list(plan)
        self.to_end_now = to_end_now

    def expand(self, root: beam.pvalue.PBegin) -> beam.PCollection:
        impulse = root | "Impulse" >> beam.Impulse()
        if self.to_end_now:
            return impulse | "Up to the end offsets now" >> beam.ParDo(_PlanToEndFn(self.settings))
        plan = self.plan
        return impulse | "Ranges planned" >> beam.Map(lambda _: plan)


def topics_to_read(plan: list[PartitionRange]) -> list[tuple[PartitionRange, ...]]:
    """The plan's non-empty ranges, one tuple per topic (the elements of ``ReadSmallPass``)."""
    return by_topic(r for r in plan if r.size)


def ranges_to_read(plan: list[PartitionRange]) -> list[PartitionRange]:
    """The plan's non-empty ranges (the elements of ``ReadKafkaRanges``)."""
    return [r for r in plan if r.size]


def build_data_docs(settings: Settings) -> Path:
    """Add this process's new GX validations to the Data Docs (the pass's, validated by
    this process's runner of the project), served offline with their styling
    (``warehouse/report/data_docs.py``); returns the index page."""
    from contracts.gx_runner import shared_runner
    from warehouse.report.data_docs import localise

    index = shared_runner(settings.gx_dir).build_data_docs()
    localise(index.parent, settings.cache / "web-assets")
    return index


def failpoint_hook(settings: Settings) -> Callable[[str], None]:
    """Crash tests: SIGKILL this process when the configured failpoint is reached."""
    target = settings.ingest.failpoint

    def hit(name: str) -> None:
        if name == target:
            os.kill(os.getpid(), signal.SIGKILL)

    return hit


def plan_ranges(settings: Settings, shared: bool = False) -> list[PartitionRange]:
    """For every partition of the contract topics: [committed offset, end offset now).

    ``shared``: use this process's long-lived warehouse session and Kafka client (the
    continuous mode plans a pass every second or two)."""
    from kafka.errors import KafkaError

    from warehouse.lake import shared_connection
    from warehouse.landing import committed_offsets
    from warehouse.schema import create_all

    if shared:
        con = shared_connection(settings)
        if not _initialised.get(settings.catalog_path):
            create_all(con)
            _initialised[settings.catalog_path] = True
        committed = committed_offsets(con)
    else:
        committed = _committed(settings)
    bootstrap = settings.kafka.bootstrap
    try:
        client = _offsets_client(bootstrap, shared)
    except KafkaError as exc:
        raise TransientError(f"cannot reach Kafka at {bootstrap}: {exc}") from None
    try:
        partitions = client.partitions()
        ends = client.consumer.end_offsets(partitions)
        starts = client.consumer.beginning_offsets(partitions)
    except KafkaError as exc:
        client.close()
        raise TransientError(f"cannot read offsets from Kafka at {bootstrap}: {exc}") from None
    finally:
        if not shared:
            client.close()
    plan = []
    for tp in partitions:
        start = committed.get((tp.topic, tp.partition), 0)
        if start < starts[tp]:
            raise FinradarError(
                f"{tp.topic}[{tp.partition}]: offsets {start}-{starts[tp]} were deleted by the "
                "broker before they were ingested; backfill from the current start explicitly"
            )
        if ends[tp] > start:
            plan.append(PartitionRange(tp.topic, tp.partition, start, ends[tp]))
    return plan


def _committed(settings: Settings) -> dict[tuple[str, int], int]:
    """The committed offsets, read in a read-only session once the warehouse exists: a lag
    check must not write (it runs beside the writer, outside the writer slot)."""
    from warehouse.lake import connect
    from warehouse.landing import committed_offsets
    from warehouse.schema import create_all

    if settings.catalog_path.exists():
        con = connect(settings, read_only=True)
        try:
            return committed_offsets(con)
        except duckdb.CatalogException:  # a catalog without its tables yet: none committed
            return {}
        finally:
            con.close()
    con = connect(settings)
    try:
        create_all(con)
        return committed_offsets(con)
    finally:
        con.close()


_initialised: dict[Path, bool] = {}
_clients: dict[str, _OffsetsClient] = {}


class _OffsetsClient:
    """A Kafka client for partition metadata and offsets (no group, no commits)."""

    def __init__(self, bootstrap: str) -> None:
        from kafka import KafkaConsumer

        self.bootstrap = bootstrap
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            request_timeout_ms=15000,
        )

    def partitions(self) -> list[Any]:
        from kafka import TopicPartition

        partitions = []
        for c in contracts().values():
            ids = self.consumer.partitions_for_topic(c.topic)
            if not ids:
                raise FinradarError(f"topic {c.topic} does not exist (run 'finradar infra up')")
            partitions += [TopicPartition(c.topic, p) for p in sorted(ids)]
        return partitions

    def close(self) -> None:
        # a one-off client (a lag check beside ``follow`` in the same process) must not
        # unregister the shared one: that one would be left open, its thread running
        if _clients.get(self.bootstrap) is self:
            del _clients[self.bootstrap]
        self.consumer.close()


def _offsets_client(bootstrap: str, shared: bool) -> _OffsetsClient:
    if not shared:
        return _OffsetsClient(bootstrap)
    client = _clients.get(bootstrap)
    if client is None:
        client = _clients[bootstrap] = _OffsetsClient(bootstrap)
    return client


def close_shared_clients() -> None:
    """Close what ``follow`` kept open: Kafka clients and warehouse sessions."""
    from pipelines.kafka_source import close_shared_readers
    from warehouse.lake import close_shared_connections

    close_shared_readers()
    while _clients:
        _clients.popitem()[1].consumer.close()
    close_shared_connections()
    _initialised.clear()


def ingest_lock_path(settings: Settings) -> Path:
    return settings.warehouse_dir / "ingest.lock"


def writer_lock(settings: Settings, announce: bool = True) -> AbstractContextManager[None]:
    """One ingest writes at a time. A one-shot pass (``announce``) waits up to
    ``ingest.writer_wait_s`` for the other writer, seen as waiting, so that ``follow``
    lets it have the next turn; then fails with a clear message. ``follow``'s own passes
    wait for their turn in the follow loop (``pipelines.follow.wait_for_turn``)."""
    wait_s = settings.ingest.writer_wait_s if announce else 0.0
    return file_lock(ingest_lock_path(settings), "another ingest", wait_s, announce)


def build_pipeline(
    p: beam.Pipeline,
    settings: Settings,
    plan: Sequence[PartitionRange],
    batch_id: str,
    started_at: datetime,
    run_dir: Path,
    follow: bool = False,
    backfill: bool = False,
    gated: bool = False,
) -> beam.PCollection:
    """The ingest pipeline over ``plan``. A ``follow`` pass (see ``run_once``) reads up to
    the end offsets at the moment the pipeline starts running (``PlanPass``), and keeps its
    GX validation results in the warehouse's ``dq.*`` tables only; any other pass reads
    ``plan`` and keeps its results also in the GX project, whose Data Docs it rebuilds.
    ``backfill``: see ``warehouse.landing``. ``gated``: the commit waits for the pass's
    commit gate (see ``run_once``)."""
    ingest = settings.ingest
    planned = p | "Plan" >> PlanPass(settings, plan, to_end_now=follow)
    if sum(r.size for r in plan) <= ingest.batch_records:
        batches = (
            planned
            # one element per topic: nothing to spread, so no reshuffle in the graph
            | "Topic ranges" >> beam.FlatMap(topics_to_read)
            | "Read Kafka"
            >> ReadSmallPass(
                settings.kafka.bootstrap, ingest.batch_records, ingest.batch_bytes, shared=follow
            )
        )
    else:
        batches = (
            planned
            | "Partition ranges" >> beam.FlatMap(ranges_to_read)
            # a runner with several workers spreads the ranges (and splits long ones)
            | "Spread ranges" >> beam.Reshuffle()
            | "Read Kafka"
            >> ReadKafkaRanges(
                settings.kafka.bootstrap, ingest.batch_records, ingest.batch_bytes, shared=follow
            )
        )
    return (
        batches
        | "Decode and check" >> DecodeAndCheck(started_at)
        | "Validate with GX"
        >> (
            ValidateWithSuites(started_at, workers=ingest.follow_validators)
            if follow
            else ValidateWithSuites(started_at, settings.gx_dir)
        )
        | "Normalise and stage"
        >> NormaliseAndStage(
            run_dir / "tables",
            batch_id,
            started_at,
            ingest.pii_hash_key.get_secret_value().encode(),
        )
        | "Land in warehouse"
        >> LandInWarehouse(
            settings, batch_id, planned, started_at, run_dir, follow, backfill, gated=gated
        )
    )


def new_batch_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def run_once(
    settings: Settings,
    on_plan: Callable[[list[PartitionRange]], None] | None = None,
    *,
    follow: bool = False,
    backfill: Callable[[], list[PartitionRange]] | None = None,
    commit_gate: Callable[[], AbstractContextManager[None]] | None = None,
) -> IngestSummary:
    """One ingest pass over everything new on the three topics.

    ``follow``: one of the back-to-back short passes of the continuous mode, which keep
    what is slow to set up (GX context, warehouse session, Kafka client) warm in the
    process between passes and leave Data Docs to the scheduled passes.

    ``backfill``: plans the ranges instead of the committed offsets (``pipelines.backfill``);
    what the warehouse already has is skipped at landing.

    ``commit_gate``: entered around the commit only (``follow`` holds the warehouse's
    writer slot for its commit, not for the whole pass)."""
    from contracts.survey_catalog import reload_survey_catalog

    reload_survey_catalog()
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    batch_id = ("backfill-" if backfill else "") + new_batch_id(started_at)
    with writer_lock(settings, announce=not follow):
        # staged files of runs that never committed are garbage: their offsets are re-read
        shutil.rmtree(settings.staging_dir, ignore_errors=True)
        plan = backfill() if backfill else plan_ranges(settings, shared=follow)
        if on_plan:
            on_plan(plan)
        run_dir = settings.staging_dir / batch_id
        run_dir.mkdir(parents=True)
        if not plan:
            summary = _land_empty(settings, batch_id, started_at, follow)
        else:
            options = PipelineOptions(settings.beam.options, runner=settings.beam.runner)
            if commit_gate is not None:
                _commit_gates[batch_id] = commit_gate
            try:
                with beam.Pipeline(options=options) as p:
                    build_pipeline(
                        p,
                        settings,
                        plan,
                        batch_id,
                        started_at,
                        run_dir,
                        follow,
                        backfill is not None,
                        gated=commit_gate is not None,
                    )
            finally:
                _commit_gates.pop(batch_id, None)
            summary = IngestSummary(**json.loads((run_dir / "summary.json").read_text()))
        shutil.rmtree(run_dir, ignore_errors=True)
    summary.seconds = time.perf_counter() - started
    return summary


def _land_empty(
    settings: Settings, batch_id: str, started_at: datetime, follow: bool
) -> IngestSummary:
    from warehouse.lake import connect
    from warehouse.landing import land

    if follow:  # an empty pass of the continuous mode leaves no run behind
        return IngestSummary(batch_id)
    con = connect(settings)
    try:
        result = land(con, batch_id, [], [], started_at, settings.beam.runner)
    finally:
        con.close()
    return IngestSummary(**asdict(result))
