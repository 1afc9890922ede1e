"""The replay pass: quarantined messages through the ingest transforms again, landed once.

Pipeline steps (stable labels; the middle three are the ingest pipeline's)::

    Impulse ─ Quarantined messages ─ Decode and check ─ Validate with GX ─ Normalise and stage
      ─ Land replayed

The messages come from ``quarantine.events`` (their bytes as received and their Kafka
coordinates), not from Kafka: a topic's retention may have dropped them long ago.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from contracts.survey_catalog import reload_survey_catalog
from finradar.settings import Settings, require_private_pii_key, secrets_in_environment
from handoff.records import Coordinates
from handoff.staging import StagedFile
from pipelines.batches import RecordBatch
from pipelines.checking import DecodeAndCheck, ValidateWithSuites
from pipelines.coders import outputs_batches
from pipelines.commit import CommitStaged
from pipelines.ingest import new_batch_id, own_staging, writer_lock
from pipelines.kafka_source import batched
from pipelines.land import SUMMARY_FILE
from pipelines.normalise import NormaliseAndStage, StageVerdicts
from warehouse.lake import connect
from warehouse.replay import (
    Range,
    ReplaySummary,
    land_replayed,
    pending,
    pending_records,
    read_ranges,
)


class _ReadQuarantinedFn(beam.DoFn):
    """Reads the quarantined messages to replay from the warehouse, ``ranges`` at a time
    (``pending_records``), in batches of ``batch_records`` messages or ``batch_bytes``
    bytes (its element: the pass's impulse)."""

    def __init__(
        self,
        settings: Settings,
        ranges: list[Range],
        reasons: list[str],
        batch_records: int,
        batch_bytes: int,
    ) -> None:
        self.settings = settings
        self.ranges = ranges
        self.reasons = reasons
        self.batch_records = batch_records
        self.batch_bytes = batch_bytes

    def process(self, _: bytes) -> Iterator[RecordBatch]:
        con = connect(self.settings, read_only=True)
        try:
            records = pending_records(con, self.ranges, self.reasons)
            yield from batched(records, self.batch_records, self.batch_bytes)
        finally:
            con.close()


class _LandReplayedFn(beam.DoFn):
    def __init__(
        self,
        settings: Settings,
        batch_id: str,
        selected: list[Coordinates],
        started_at: datetime,
        reasons: list[str],
        run_dir: str,
    ) -> None:
        self.settings = settings
        self.batch_id = batch_id
        self.selected = selected
        self.started_at = started_at
        self.reasons = reasons
        self.run_dir = run_dir

    def process(self, _: bytes, staged: list[StagedFile]) -> Iterator[dict[str, Any]]:
        con = connect(self.settings)
        try:
            summary = land_replayed(
                con,
                self.batch_id,
                self.selected,
                staged,
                self.started_at,
                self.reasons,
                self.settings.warehouse.commit_retries,
                self.settings.warehouse.turn_wait_s,
            )
        finally:
            con.close()
        result = asdict(summary)
        Path(self.run_dir, SUMMARY_FILE).write_text(json.dumps(result))
        yield result


class LandReplayed(beam.PTransform):
    """All ``StagedFile``s of the replay → one commit (a single element: the summary, also
    written to ``summary.json`` in the run's folder)."""

    def __init__(
        self,
        settings: Settings,
        batch_id: str,
        selected: list[Coordinates],
        started_at: datetime,
        reasons: list[str],
        run_dir: Path,
    ) -> None:
        super().__init__()
        self.fn = _LandReplayedFn(settings, batch_id, selected, started_at, reasons, str(run_dir))

    def expand(self, staged: beam.PCollection) -> beam.PCollection:
        return staged | "Commit staged files" >> CommitStaged(self.fn)


def run_replay(settings: Settings, reasons: Sequence[str] = ()) -> ReplaySummary:
    """Check every quarantined message not replayed yet (of ``reasons``, if given) against
    the contract as it is now, and land the ones that pass: exactly once."""
    require_private_pii_key(settings)
    reload_survey_catalog()  # a definition added since this process loaded the catalog
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    batch_id = "replay-" + new_batch_id(started_at)
    with writer_lock(settings):
        con = connect(settings)
        try:
            sizes = pending(con, reasons)
        finally:
            con.close()
        selected = [(t, p, o) for t, p, o, _ in sizes]
        if not selected:  # the run is still recorded: a replay that found nothing to do
            con = connect(settings)
            try:
                summary = land_replayed(
                    con,
                    batch_id,
                    [],
                    [],
                    started_at,
                    list(reasons),
                    settings.warehouse.commit_retries,
                    settings.warehouse.turn_wait_s,
                )
            finally:
                con.close()
        else:
            run_dir = own_staging(settings) / batch_id
            ingest = settings.ingest
            run_dir.mkdir(parents=True, exist_ok=True)
            options = PipelineOptions(settings.beam.options, runner=settings.beam.runner)
            with secrets_in_environment(settings), beam.Pipeline(options=options) as p:
                checked = (
                    p
                    | "Impulse" >> beam.Impulse()
                    | "Quarantined messages"
                    >> outputs_batches(
                        beam.ParDo(
                            _ReadQuarantinedFn(
                                settings,
                                read_ranges(sizes),
                                list(reasons),
                                ingest.batch_records,
                                ingest.batch_bytes,
                            )
                        ),
                        RecordBatch,
                    )
                    | "Decode and check" >> DecodeAndCheck(started_at)
                )
                staged = checked | "Normalise and stage" >> NormaliseAndStage(
                    run_dir / "tables", batch_id, started_at, ingest.pii_hash_key
                )
                verdicts = (
                    checked
                    | "Validate with GX"
                    >> ValidateWithSuites(
                        started_at,
                        settings.gx_dir,
                        rows=ingest.gx_rows,
                        frame_bytes=ingest.gx_bytes,
                    )
                    | "Stage GX verdicts" >> StageVerdicts(run_dir / "tables")
                )
                _ = (
                    (staged, verdicts)
                    | "Staged files" >> beam.Flatten()
                    | "Land replayed"
                    >> LandReplayed(
                        settings,
                        batch_id,
                        selected,
                        started_at,
                        list(reasons),
                        run_dir,
                    )
                )
            summary = ReplaySummary(**json.loads((run_dir / SUMMARY_FILE).read_text()))
            shutil.rmtree(run_dir, ignore_errors=True)
    summary.seconds = time.perf_counter() - started
    return summary
