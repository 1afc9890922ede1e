"""The ingest pass: Kafka → contract check → GX suites → normalise → one warehouse commit.

``run_once`` plans the run (for every partition of the contract topics, from the
warehouse's committed offset to the end offset taken now), runs the Beam pipeline over
those ranges, and lands the result in one DuckLake transaction. One writer at a time: a
file lock under ``var/`` guards the warehouse against a second ingest process.

Pipeline steps (stable labels)::

    Partition ranges ─ Read Kafka ─ Decode and check ─ Validate with GX ─ Normalise and stage
      ─ Collect staged files ─ Land in warehouse
"""

from __future__ import annotations

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
from apache_beam.options.pipeline_options import PipelineOptions

from contracts.spec import contracts
from finradar.errors import FinradarError, TransientError
from finradar.settings import Settings
from pipelines.batches import StagedFile
from pipelines.checking import DecodeAndCheck, ValidateWithSuites
from pipelines.kafka_source import PartitionRange, ReadKafkaRanges
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
    """Commits the whole run; the summary goes to ``summary.json`` in the run's folder."""

    def __init__(
        self,
        settings: Settings,
        batch_id: str,
        plan: list[PartitionRange],
        started_at: datetime,
        run_dir: str,
    ) -> None:
        self.settings = settings
        self.batch_id = batch_id
        self.plan = plan
        self.started_at = started_at
        self.run_dir = run_dir

    def process(self, staged: list[StagedFile]) -> Iterator[dict[str, Any]]:
        from warehouse.lake import connect
        from warehouse.landing import land

        hit = failpoint_hook(self.settings)
        hit("staged")
        report = build_data_docs(self.settings)
        con = connect(self.settings)
        try:
            summary = land(
                con,
                self.batch_id,
                self.plan,
                staged,
                self.started_at,
                runner=self.settings.beam.runner,
                retries=self.settings.warehouse.commit_retries,
                failpoint=hit,
                report_path=str(report),
            )
            hit("committed")
        finally:
            con.close()
        result = asdict(summary)
        Path(self.run_dir, "summary.json").write_text(json.dumps(result, default=str))
        yield result


class LandInWarehouse(beam.PTransform):
    """All ``StagedFile``s of the run → one DuckLake commit (a single element: the summary)."""

    def __init__(
        self,
        settings: Settings,
        batch_id: str,
        plan: list[PartitionRange],
        started_at: datetime,
        run_dir: Path,
    ) -> None:
        super().__init__()
        self.fn = _LandFn(settings, batch_id, plan, started_at, str(run_dir))

    def expand(self, staged: beam.PCollection) -> beam.PCollection:
        return (
            staged
            | "Collect staged files" >> beam.combiners.ToList()
            | "Commit" >> beam.ParDo(self.fn)
        )


def build_data_docs(settings: Settings) -> Path:
    """Render the GX Data Docs of every stored validation, served offline with their
    styling (``warehouse/report/data_docs.py``); returns the index page."""
    from contracts.gx_runner import docs_index
    from finradar.settings import quiet_great_expectations
    from warehouse.report.data_docs import localise

    quiet_great_expectations()
    import great_expectations as gx

    gx.get_context(mode="file", project_root_dir=str(settings.gx_dir)).build_data_docs()
    index = docs_index(settings.gx_dir)
    localise(index.parent, settings.cache / "web-assets")
    return index


def failpoint_hook(settings: Settings) -> Callable[[str], None]:
    """Crash tests: SIGKILL this process when the configured failpoint is reached."""
    target = settings.ingest.failpoint

    def hit(name: str) -> None:
        if name == target:
            os.kill(os.getpid(), signal.SIGKILL)

    return hit


def plan_ranges(settings: Settings) -> list[PartitionRange]:
    """For every partition of the contract topics: [committed offset, end offset now)."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    from warehouse.lake import connect
    from warehouse.landing import committed_offsets
    from warehouse.schema import create_all

    con = connect(settings)
    try:
        create_all(con)
        committed = committed_offsets(con)
    finally:
        con.close()
    bootstrap = settings.kafka.bootstrap
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            request_timeout_ms=15000,
        )
    except KafkaError as exc:
        raise TransientError(f"cannot reach Kafka at {bootstrap}: {exc}") from None
    try:
        partitions = []
        for c in contracts().values():
            ids = consumer.partitions_for_topic(c.topic)
            if not ids:
                raise FinradarError(f"topic {c.topic} does not exist (run 'finradar infra up')")
            partitions += [TopicPartition(c.topic, p) for p in sorted(ids)]
        ends = consumer.end_offsets(partitions)
        starts = consumer.beginning_offsets(partitions)
    finally:
        consumer.close()
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


def writer_lock(settings: Settings) -> AbstractContextManager[None]:
    """One ingest writes at a time; a second one fails fast with a clear message."""
    return file_lock(settings.warehouse_dir / "ingest.lock", "another ingest")


def build_pipeline(
    p: beam.Pipeline,
    settings: Settings,
    plan: Sequence[PartitionRange],
    batch_id: str,
    started_at: datetime,
    run_dir: Path,
) -> beam.PCollection:
    ingest = settings.ingest
    return (
        p
        | "Partition ranges" >> beam.Create(list(plan))
        | "Read Kafka"
        >> ReadKafkaRanges(settings.kafka.bootstrap, ingest.batch_records, ingest.batch_bytes)
        | "Decode and check" >> DecodeAndCheck(started_at)
        | "Validate with GX" >> ValidateWithSuites(started_at, settings.gx_dir)
        | "Normalise and stage"
        >> NormaliseAndStage(
            run_dir / "tables",
            batch_id,
            started_at,
            ingest.pii_hash_key.get_secret_value().encode(),
        )
        | "Land in warehouse"
        >> LandInWarehouse(settings, batch_id, list(plan), started_at, run_dir)
    )


def new_batch_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def run_once(
    settings: Settings, on_plan: Callable[[list[PartitionRange]], None] | None = None
) -> IngestSummary:
    """One ingest pass over everything new on the three topics."""
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    batch_id = new_batch_id(started_at)
    with writer_lock(settings):
        # staged files of runs that never committed are garbage: their offsets are re-read
        shutil.rmtree(settings.staging_dir, ignore_errors=True)
        plan = plan_ranges(settings)
        if on_plan:
            on_plan(plan)
        run_dir = settings.staging_dir / batch_id
        run_dir.mkdir(parents=True)
        if not plan:
            summary = _land_empty(settings, batch_id, started_at)
        else:
            options = PipelineOptions(settings.beam.options, runner=settings.beam.runner)
            with beam.Pipeline(options=options) as p:
                build_pipeline(p, settings, plan, batch_id, started_at, run_dir)
            summary = IngestSummary(**json.loads((run_dir / "summary.json").read_text()))
        shutil.rmtree(run_dir, ignore_errors=True)
    summary.seconds = time.perf_counter() - started
    return summary


def _land_empty(settings: Settings, batch_id: str, started_at: datetime) -> IngestSummary:
    from warehouse.lake import connect
    from warehouse.landing import land

    con = connect(settings)
    try:
        result = land(con, batch_id, [], [], started_at, settings.beam.runner)
    finally:
        con.close()
    return IngestSummary(**asdict(result))
