"""The ingest pass: Kafka → contract check → GX suites → normalise → one warehouse commit.

``run_once`` plans the run (``pipelines.planning``: for every partition of the contract
topics, from the warehouse's committed offset to the end offset taken now), runs the Beam
pipeline over those ranges (``pipelines.ingest_pipeline``), and lands the result in one
DuckLake transaction. One writer at a time: a file lock under ``var/`` guards the warehouse
against a second ingest process. A pass that finds nothing new lands its empty run without
importing Beam: an empty ``finradar ingest --once`` took 4.0-4.3 s of CPU against 5.2-5.7 s
with Beam imported (``/usr/bin/time``, three runs each, alternating, 2026-12-03), paid by
every scheduled run of an idle stream.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from contracts.survey_catalog import reload_survey_catalog
from finradar.settings import Settings, require_private_pii_key
from handoff.records import PartitionRange
from pipelines.planning import Partition, plan_ranges
from pipelines.worker_processes import warm_workers
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


def first_part(plan: list[PartitionRange], most: int | None) -> list[PartitionRange]:
    """The plan's first part of about ``most`` offsets (``split_plan``), or the whole plan."""
    if most is None or not plan:
        return plan
    return [r for r in split_plan(plan, most)[0] if r.size]


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
        if follow:  # a follow pass stays short: the next one goes on at once
            plan = first_part(plan, follow_pass_events(settings, shard))
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
                # started first: its server imports what the workers run meanwhile
                warm = warm_workers(settings, sum(r.size for r in part), commit_gate is not None)
                with warm or nullcontext():
                    # lazy: Beam takes over a second to import, for a pass with work only
                    from pipelines.ingest_pipeline import run_pipeline

                    summaries.append(
                        run_pipeline(
                            settings,
                            part,
                            part_id,
                            started_at,
                            follow,
                            backfill,
                            commit_gate,
                            reset,
                            shard,
                            warm,
                        )
                    )
            summary = IngestSummary.merged(batch_id, summaries)
    summary.seconds = time.perf_counter() - started
    return summary


def follow_pass_events(settings: Settings, partitions: Collection[Partition] | None) -> int:
    """About how many messages a follow pass reads at most: a group member's pass stays
    shorter (it takes part in the group's rebalances in between)."""
    ingest = settings.ingest
    return ingest.follow_group_pass_events if partitions is not None else ingest.follow_pass_events


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
