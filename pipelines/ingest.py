"""The ingest pass: Kafka → contract check → GX suites → normalise → one warehouse commit.

``run_once`` plans the run (``pipelines.planning``: for every partition of the contract
topics, from the warehouse's committed offset to the end offset taken now), runs the Beam
pipeline over those ranges, and lands the result in one DuckLake transaction. One writer at
a time: a file lock under ``var/`` guards the warehouse against a second ingest process.

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
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import apache_beam as beam

from contracts.survey_catalog import reload_survey_catalog
from finradar.settings import Settings, require_private_pii_key, secrets_in_environment
from handoff.records import PartitionRange
from pipelines.checking import DecodeAndCheck, ValidateWithSuites
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
from warehouse.lake import connect
from warehouse.landing import LandingSummary, land
from warehouse.writer_locks import WriterLock
from warehouse.writer_locks import writer_lock as warehouse_writer_lock


@dataclass
class IngestSummary(LandingSummary):
    """What one pass did (``finradar ingest --once`` prints it): the landing plus its time."""

    seconds: float = 0.0
    commits: int = 1  # a large backlog commits in parts (``ingest.commit_events``)

    @property
    def rate(self) -> float:
        return self.consumed / self.seconds if self.seconds else 0.0

    @classmethod
    def merged(cls, batch_id: str, parts: list[IngestSummary]) -> IngestSummary:
        """One pass's summary from the summaries of its commits."""
        if len(parts) == 1:
            return parts[0]
        by_reason: Counter[str] = Counter()
        for part in parts:
            by_reason.update(part.by_reason)
        return cls(
            batch_id,
            consumed=sum(p.consumed for p in parts),
            landed=sum(p.landed for p in parts),
            duplicates=sum(p.duplicates for p in parts),
            quarantined=sum(p.quarantined for p in parts),
            by_reason=dict(by_reason.most_common()),
            partitions=[row for p in parts for row in p.partitions],
            commit_attempts=sum(p.commit_attempts for p in parts),
            already_accounted=sum(p.already_accounted for p in parts),
            commits=len(parts),
        )


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


def first_part(plan: list[PartitionRange], most: int | None) -> list[PartitionRange]:
    """The plan's first part of about ``most`` offsets (``split_plan``), or the whole plan."""
    if most is None or not plan:
        return plan
    return [r for r in split_plan(plan, most)[0] if r.size]


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


def equal_slices(r: PartitionRange, n: int) -> list[PartitionRange]:
    """``r`` as ``n`` consecutive ranges whose sizes differ by one at most (some may be
    empty)."""
    bounds = [r.start + (r.size * k) // n for k in range(n + 1)]
    return [PartitionRange(r.topic, r.partition, bounds[k], bounds[k + 1]) for k in range(n)]


def own_staging(settings: Settings) -> Path:
    """This process's staging folder (``var/staging/<pid>``): the runs of passes it starts
    stage their files there, beside other ingest processes of the host (``follow``
    workers of one group)."""
    return settings.staging_dir / str(os.getpid())


def remove_stale_staging(settings: Settings) -> None:
    """Remove the staged files of runs that never committed (their offsets are read again):
    this process's own, and those of processes of this host that are gone."""
    if not settings.staging_dir.is_dir():
        return
    for folder in settings.staging_dir.iterdir():
        owner = int(folder.name) if folder.name.isdigit() else None
        if owner == os.getpid() or owner is None or not Path(f"/proc/{owner}").exists():
            shutil.rmtree(folder, ignore_errors=True)


def ingest_lock(settings: Settings) -> WriterLock:
    """The lock of the warehouse's ingest writers (a file on this host, or an advisory lock
    in a Postgres catalog: ``warehouse.writer_locks``)."""
    return warehouse_writer_lock(settings, "ingest", "another ingest")


def writer_lock(settings: Settings, announce: bool = True) -> AbstractContextManager[None]:
    """One ingest writes at a time. A one-shot pass (``announce``) waits up to
    ``ingest.writer_wait_s`` for the other writer, seen as waiting, so that ``follow``
    lets it have the next turn; then fails with a clear message. ``follow``'s own passes
    wait for their turn in the follow loop (``pipelines.follow.wait_for_turn``)."""
    wait_s = settings.ingest.writer_wait_s if announce else 0.0
    return ingest_lock(settings).hold(wait_s, announce)


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
    # a group member's pass stays short: it takes part in the group's rebalances in between
    most = settings.ingest.follow_group_pass_events if follow and partitions else None
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
                batch_id=batch_id,
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


def new_batch_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def run_once(
    settings: Settings,
    on_plan: Callable[[list[PartitionRange]], None] | None = None,
    *,
    follow: bool = False,
    backfill: Callable[[], list[PartitionRange]] | None = None,
    commit_gate: Callable[[], AbstractContextManager[None]] | None = None,
    reset: bool = False,
    partitions: Collection[Partition] | None = None,
) -> IngestSummary:
    """One ingest pass over everything new on the three topics.

    ``partitions``: over these partitions only, ``(topic, partition)``, beside other
    ingests of other partitions (on this host or others): such a pass takes no ingest
    lock; its commit, in the writers' turn, lands only if no other writer committed its
    partitions since it planned (else ``OffsetsMoved``), and decides duplicates and
    ``event_id`` conflicts against everything any writer landed.

    ``follow``: one of the back-to-back short passes of the continuous mode, which keep
    what is slow to set up (GX context, warehouse session, Kafka client) warm in the
    process between passes and leave Data Docs to the scheduled passes.

    ``backfill``: plans the ranges instead of the committed offsets (``pipelines.backfill``);
    what the warehouse already has is skipped at landing; with ``reset`` the topics were
    recreated and a partition that ends before its committed offset starts again.

    ``commit_gate``: entered around the commit only (``follow`` holds the warehouse's
    writer slot for its commit, not for the whole pass)."""
    require_private_pii_key(settings)
    reload_survey_catalog()
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    batch_id = ("backfill-" if backfill else "") + new_batch_id(started_at)
    shard = None if partitions is None else frozenset(partitions)
    lock = writer_lock(settings, announce=not follow) if shard is None else nullcontext()
    with lock:
        remove_stale_staging(settings)
        plan = backfill() if backfill else plan_ranges(settings, shared=follow, partitions=shard)
        if follow and shard is not None:  # a group member's pass stays short
            plan = first_part(plan, settings.ingest.follow_group_pass_events)
        if on_plan:
            on_plan(plan)
        if not plan:
            summary = _land_empty(settings, batch_id, started_at, follow)
        else:
            # a pass over a large backlog commits in parts, each exactly once with its offsets
            parts = [plan] if follow or reset else split_plan(plan, settings.ingest.commit_events)
            summaries = []
            for n, part in enumerate(parts):
                part_id = batch_id if len(parts) == 1 else f"{batch_id}-{n + 1}"
                summaries.append(
                    _run_pipeline(
                        settings,
                        part,
                        part_id,
                        started_at,
                        follow,
                        backfill,
                        commit_gate,
                        reset,
                        shard,
                    )
                )
            summary = IngestSummary.merged(batch_id, summaries)
    summary.seconds = time.perf_counter() - started
    return summary


def split_plan(plan: list[PartitionRange], most: int) -> list[list[PartitionRange]]:
    """The plan as consecutive parts of at most about ``most`` offsets: the k-th part holds
    the k-th of ``n`` equal slices of every partition's range, so each part starts where the
    one before it ended, and each can commit its offsets on its own."""
    total = sum(r.size for r in plan)
    n = max(1, -(-total // most))
    if n == 1:
        return [plan]
    parts: list[list[PartitionRange]] = [[] for _ in range(n)]
    for r in plan:
        for k, part in enumerate(equal_slices(r, n)):
            parts[k].append(part)
    return parts


def _run_pipeline(
    settings: Settings,
    plan: list[PartitionRange],
    batch_id: str,
    started_at: datetime,
    follow: bool,
    backfill: Callable[[], list[PartitionRange]] | None,
    commit_gate: Callable[[], AbstractContextManager[None]] | None,
    reset: bool,
    partitions: frozenset[Partition] | None = None,
) -> IngestSummary:
    """Run the ingest pipeline over ``plan``: one warehouse commit, its summary."""
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
            beam.Pipeline(runner=pass_runner(settings, options), options=options) as p,
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


def _land_empty(
    settings: Settings, batch_id: str, started_at: datetime, follow: bool
) -> IngestSummary:
    if follow:  # an empty pass of the continuous mode leaves no run behind
        return IngestSummary(batch_id)
    con = connect(settings)
    try:
        result = land(con, batch_id, [], [], started_at, settings.beam.runner)
    finally:
        con.close()
    return IngestSummary(**asdict(result))
