"""The ingest pass's Beam pipeline (``pipelines.ingest.run_once`` runs it over its plan).

Pipeline steps (stable labels)::

    Plan ─ Topic ranges | Partition ranges ─ Share per worker ─ Chunks of a share
      ─ Read Kafka ─ Decode and check ┬ Normalise and stage ─────────────────┬ Staged files
                                      └ Validate with GX ─ Stage GX verdicts ┘
      ─ Land in warehouse (Commit staged files, of the plan's ranges)

GX validates the frames of many batches at once (``ingest.gx_rows``): its verdicts are
staged apart, and the commit quarantines the events it rejected.

The steps are composite transforms of their own modules (``pipelines.kafka_source``,
``pipelines.checking``, ``pipelines.normalise``, ``pipelines.land``). A pass on the
FnApiRunner's worker processes ends *Land in warehouse* by recording its staged files
instead, and ``run_once`` commits them once the workers have stopped
(``pipelines.runners.commits_after_pipeline``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import apache_beam as beam

from finradar.settings import Settings, secrets_in_environment
from handoff.records import PartitionRange
from pipelines.checking import DecodeAndCheck, ValidateWithSuites
from pipelines.ingest import (
    IngestSummary,
    equal_slices,
    first_part,
    follow_pass_events,
    own_staging,
)
from pipelines.kafka_source import ReadKafkaRanges, ReadSmallPass, by_topic, chunks
from pipelines.land import (
    SUMMARY_FILE,
    LandInWarehouse,
    RecordStaged,
    commit_pass,
    gated_commits,
    recorded_staged_files,
)
from pipelines.normalise import NormaliseAndStage, StageVerdicts
from pipelines.planning import Partition, plan_ranges
from pipelines.runners import (
    commits_after_pipeline,
    lands_in_this_process,
    pass_runner,
    pipeline_options,
)
from pipelines.worker_errors import worker_error
from pipelines.worker_processes import WarmWorkers


class _PlanToEndFn(beam.DoFn):
    def __init__(
        self, settings: Settings, partitions: frozenset[Partition] | None, most: int | None
    ) -> None:
        self.settings = settings
        self.partitions = partitions
        self.most = most

    def process(self, _: bytes) -> Iterator[list[PartitionRange]]:
        yield first_part(
            plan_ranges(self.settings, shared=True, partitions=self.partitions), self.most
        )


class PlanPass(beam.PTransform):
    """The pass's plan as one element (a list of ``PartitionRange``).

    ``to_end_now`` (``follow``): planned again when the pipeline starts running, up to the
    end offsets at that moment, so what was produced while the pipeline was being built is
    read by this pass, not the next. Otherwise ``plan`` as given."""

    def __init__(
        self,
        settings: Settings,
        plan: Sequence[PartitionRange],
        to_end_now: bool = False,
        partitions: frozenset[Partition] | None = None,
        most: int | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.plan = list(plan)
        self.to_end_now = to_end_now
        self.partitions = partitions  # planned again over these only (``to_end_now``)
        self.most = most  # and up to about this many offsets

    def expand(self, root: beam.pvalue.PBegin) -> beam.PCollection:
        impulse = root | "Impulse" >> beam.Impulse()
        if self.to_end_now:
            plan_now = _PlanToEndFn(self.settings, self.partitions, self.most)
            return impulse | "Up to the end offsets now" >> beam.ParDo(plan_now)
        plan = self.plan
        return impulse | "Ranges planned" >> beam.Map(lambda _: plan)


def topics_to_read(plan: list[PartitionRange]) -> list[tuple[PartitionRange, ...]]:
    """The plan's non-empty ranges, one tuple per topic (the elements of ``ReadSmallPass``)."""
    return by_topic(r for r in plan if r.size)


def shares_to_read(
    plan: list[PartitionRange], chunk: int, workers: int
) -> list[tuple[int, PartitionRange]]:
    """The plan's non-empty ranges as ``workers`` equal shares, keyed by share: share ``k``
    holds the k-th of ``workers`` equal slices of every partition's range, in chunks of at
    most ``chunk`` offsets (the elements of ``ReadKafkaRanges``).

    Equal slices of every partition give each worker as many messages of each topic as the
    others, and so about as much work. The in-process runner hands each worker the groups
    of its own keys and never moves work between them: chunks spread at random (a
    Reshuffle) left one worker reading alone for a quarter of a 1,000,000-event pass."""
    shares = []
    for r in plan:
        for k, part in enumerate(equal_slices(r, workers)):
            shares.extend((k, c) for c in chunks(part, chunk))
    return shares


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
    reset: bool = False,
    commit_after: bool = False,
    partitions: frozenset[Partition] | None = None,
) -> beam.PCollection:
    """The ingest pipeline over ``plan``. A ``follow`` pass (see ``run_once``) reads up to
    the end offsets at the moment the pipeline starts running (``PlanPass``), and keeps its
    GX validation results in the warehouse's ``dq.*`` tables only; any other pass reads
    ``plan`` and keeps its results also in the GX project, whose Data Docs it rebuilds.
    ``backfill``, ``reset``: see ``warehouse.landing``. ``gated``: the commit waits for the pass's
    commit gate (see ``run_once``). ``commit_after``: the pipeline ends with its staged
    files recorded (``RecordStaged``), each worker having added its validations to the
    Data Docs, and the process that runs the pass commits them afterwards."""
    ingest = settings.ingest
    most = follow_pass_events(settings, partitions) if follow else None
    planned = p | "Plan" >> PlanPass(
        settings, plan, to_end_now=follow, partitions=partitions, most=most
    )
    if sum(r.size for r in plan) <= ingest.batch_records:
        batches = (
            planned
            # one element per topic: nothing to spread, so no reshuffle in the graph
            | "Topic ranges" >> beam.FlatMap(topics_to_read)
            | "Read Kafka"
            >> ReadSmallPass(
                settings.kafka,
                ingest.batch_records,
                ingest.batch_bytes,
                shared=follow,
                worker_log_level=settings.beam.worker_log_level,
            )
        )
    else:
        batches = (
            planned
            | "Partition ranges"
            >> beam.FlatMap(shares_to_read, ingest.read_chunk, settings.beam.workers)
            # a runner with several workers gives each its share
            | "Share per worker" >> beam.GroupByKey()
            | "Chunks of a share" >> beam.FlatMap(lambda share: share[1])
            | "Read Kafka"
            >> ReadKafkaRanges(
                settings.kafka,
                ingest.batch_records,
                ingest.batch_bytes,
                shared=follow,
                worker_log_level=settings.beam.worker_log_level,
            )
        )
    checked = batches | "Decode and check" >> DecodeAndCheck(started_at)
    staged = checked | "Normalise and stage" >> NormaliseAndStage(
        run_dir / "tables", batch_id, started_at, ingest.pii_hash_key
    )
    verdicts = (
        checked
        | "Validate with GX"
        >> (
            ValidateWithSuites(started_at, workers=ingest.follow_validators)
            if follow
            else ValidateWithSuites(
                started_at,
                settings.gx_dir,
                failpoint=ingest.failpoint,
                web_assets=settings.web_assets if commit_after else None,
                rows=ingest.gx_rows,
                frame_bytes=ingest.gx_bytes,
                batch_id=batch_id,
                docs_listed=ingest.docs_validations,
            )
        )
        | "Stage GX verdicts" >> StageVerdicts(run_dir / "tables")
    )
    return (
        (staged, verdicts)
        | "Staged files" >> beam.Flatten()
        | "Land in warehouse"
        >> (
            RecordStaged(planned, run_dir)
            if commit_after
            else LandInWarehouse(
                settings, batch_id, planned, started_at, run_dir, follow, backfill, gated, reset
            )
        )
    )


def run_pipeline(
    settings: Settings,
    plan: list[PartitionRange],
    batch_id: str,
    started_at: datetime,
    follow: bool,
    backfill: Callable[[], list[PartitionRange]] | None,
    commit_gate: Callable[[], AbstractContextManager[None]] | None,
    reset: bool,
    partitions: frozenset[Partition] | None = None,
    warm: WarmWorkers | None = None,
) -> IngestSummary:
    """Run the ingest pipeline over ``plan``: one warehouse commit, its summary. ``warm``:
    the server its worker processes are forked from (``pipelines.worker_processes``)."""
    run_dir = own_staging(settings) / batch_id
    run_dir.mkdir(parents=True)
    options = pipeline_options(settings, sum(r.size for r in plan), commit_gate is not None)
    commit_after = commits_after_pipeline(options)
    gated = commit_gate is not None and lands_in_this_process(options)
    if gated:
        gate = gated_commits(batch_id, commit_gate)
    elif commit_after:  # the commit is made here, after the pipeline, inside the gate
        gate = nullcontext()
    else:  # the commit is made in a worker process: the pass runs inside the gate
        gate = commit_gate() if commit_gate else nullcontext()
    try:
        with (
            gate,
            secrets_in_environment(settings),
            beam.Pipeline(runner=pass_runner(settings, options, warm), options=options) as p,
        ):
            build_pipeline(
                p,
                settings,
                plan,
                batch_id,
                started_at,
                run_dir,
                follow,
                backfill is not None,
                gated=gated,
                reset=reset,
                commit_after=commit_after,
                partitions=partitions,
            )
    except RuntimeError as exc:  # a portable runner's report of a worker's failure
        error = worker_error(exc)
        if error is exc:
            raise
        raise error from exc
    if commit_after:
        landed = commit_pass(
            settings,
            batch_id,
            plan,
            recorded_staged_files(run_dir),
            started_at,
            gate=commit_gate or nullcontext,
            backfill=backfill is not None,
            reset=reset,
            docs_built=True,
        )
        # as a pass committed in the pipeline gives it (``summary.json``): the same values
        summary = IngestSummary(**json.loads(json.dumps(asdict(landed), default=str)))
    else:
        summary = IngestSummary(**json.loads((run_dir / SUMMARY_FILE).read_text()))
    shutil.rmtree(run_dir, ignore_errors=True)
    return summary
