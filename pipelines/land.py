"""The ingest pipeline's last step: every staged file of the pass → one warehouse commit.

``LandInWarehouse`` calls ``warehouse.landing.land`` once, with the pass's plan and all its
staged files; a one-shot pass first adds its GX validations to the Data Docs. A ``follow``
pass commits through its commit gate (the writer slot, held by the process that planned
the pass) and keeps its warehouse session open between passes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import apache_beam as beam

from finradar.errors import FinradarError
from finradar.settings import Settings
from handoff.records import PartitionRange
from handoff.staging import StagedFile
from pipelines.commit import CommitStaged
from pipelines.failpoints import kill_at
from pipelines.gx_runner import build_pages, shared_runner
from warehouse.lake import connect, shared_connection
from warehouse.landing import LandingSummary, land
from warehouse.report.data_docs import docs_index

SUMMARY_FILE = "summary.json"
STAGED_FILE = "staged.json"


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
        reset: bool = False,
    ) -> None:
        self.settings = settings
        self.reset = reset
        self.follow = follow
        self.backfill = backfill
        self.gated = gated
        self.batch_id = batch_id
        self.started_at = started_at
        self.run_dir = run_dir

    def process(
        self, plan: list[PartitionRange], staged: list[StagedFile]
    ) -> Iterator[dict[str, Any]]:
        summary = commit_pass(
            self.settings,
            self.batch_id,
            plan,
            staged,
            self.started_at,
            gate=self._commit_gate,
            follow=self.follow,
            backfill=self.backfill,
            reset=self.reset,
        )
        result = asdict(summary)
        Path(self.run_dir, SUMMARY_FILE).write_text(json.dumps(result, default=str))
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


def commit_pass(
    settings: Settings,
    batch_id: str,
    plan: list[PartitionRange],
    staged: list[StagedFile],
    started_at: datetime,
    *,
    gate: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    follow: bool = False,
    backfill: bool = False,
    reset: bool = False,
    docs_built: bool = False,
) -> LandingSummary:
    """Commit the pass's staged files: a one-shot pass first adds its GX validations to the
    Data Docs (unless its workers did: ``docs_built``), then ``warehouse.landing.land`` in
    one transaction, inside ``gate()``. ``follow`` keeps its warehouse session open."""
    hit = kill_at(settings.ingest.failpoint)
    hit("staged")
    report = None
    if docs_built:
        report = docs_index(settings.gx_dir)
    elif not follow:
        report = build_data_docs(settings, hit)
    con = shared_connection(settings) if follow else connect(settings)
    try:
        with gate():
            summary = land(
                con,
                batch_id,
                plan,
                staged,
                started_at,
                runner=settings.beam.runner,
                retries=settings.warehouse.commit_retries,
                turn_wait_s=settings.warehouse.turn_wait_s,
                failpoint=hit,
                report_path=str(report) if report else None,
                backfill=backfill,
                reset=reset,
                # follow's plan created the schema in this same session
                ensure_schema=not follow,
                threads=settings.warehouse.commit_threads,
            )
        hit("committed")
    finally:
        if not follow:
            con.close()
    return summary


class _RecordStagedFn(beam.DoFn):
    """Writes the pass's staged files to ``staged.json`` in the run's folder, for the
    commit that the process which planned the pass makes once the pipeline has ended
    (``commit_pass``); its element: the pass's plan."""

    def __init__(self, run_dir: str) -> None:
        self.run_dir = run_dir

    def process(self, plan: list[PartitionRange], staged: list[StagedFile]) -> Iterator[int]:
        Path(self.run_dir, STAGED_FILE).write_text(json.dumps([asdict(s) for s in staged]))
        yield len(staged)


class RecordStaged(beam.PTransform):
    """All ``StagedFile``s of the run → ``staged.json`` in the run's folder (a pass whose
    worker processes end before its commit: ``pipelines.ingest``)."""

    def __init__(self, planned: beam.PCollection, run_dir: Path) -> None:
        super().__init__()
        self.planned = planned
        self.fn = _RecordStagedFn(str(run_dir))

    def expand(self, staged: beam.PCollection) -> beam.PCollection:
        return staged | "Record staged files" >> CommitStaged(self.fn, trigger=self.planned)


def recorded_staged_files(run_dir: Path) -> list[StagedFile]:
    """The staged files ``RecordStaged`` wrote for the run."""
    return [StagedFile(**s) for s in json.loads((run_dir / STAGED_FILE).read_text())]


# the commit gates of the passes running in this process, by batch id (``gated_commits``)
_commit_gates: dict[str, Callable[[], AbstractContextManager[None]]] = {}


@contextlib.contextmanager
def gated_commits(
    batch_id: str, gate: Callable[[], AbstractContextManager[None]]
) -> Iterator[None]:
    """While the pass ``batch_id`` runs in this process, its commit is made inside ``gate()``."""
    _commit_gates[batch_id] = gate
    try:
        yield
    finally:
        _commit_gates.pop(batch_id, None)


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
        reset: bool = False,
    ) -> None:
        super().__init__()
        self.planned = planned
        self.fn = _LandFn(
            settings, batch_id, started_at, str(run_dir), follow, backfill, gated, reset
        )

    def expand(self, staged: beam.PCollection) -> beam.PCollection:
        return staged | "Commit staged files" >> CommitStaged(self.fn, trigger=self.planned)


def build_data_docs(settings: Settings, hit: Callable[[str], None] = lambda name: None) -> Path:
    """Add this process's new GX validations to the Data Docs (the pass's, validated by
    this process's runner of the project), served offline with their styling
    (``warehouse/report/data_docs.py``); returns the index page."""
    return build_pages(
        shared_runner(settings.gx_dir), settings.web_assets, hit, settings.ingest.docs_validations
    )
