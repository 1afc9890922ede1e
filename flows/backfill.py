"""The ``backfill`` flow: read partitions again from an offset or a time into the warehouse,
without duplicating anything already landed (``pipelines.backfill``).

Grain: one flow run = one backfill pass = one warehouse commit.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from prefect import flow, task

from finradar.settings import get_settings
from flows.artifacts import ProgressArtifact, publish_ingest
from flows.ingest import consumer_lag
from flows.policy import retry_options, warehouse_writer
from pipelines.backfill import run_backfill
from pipelines.ingest import IngestSummary, own_staging
from pipelines.progress import StagedProgress


@task(name="backfill-pass")
def backfill_pass(
    start: int | datetime | str, topics: list[str], reset: bool = False
) -> IngestSummary:
    """``run_backfill`` holding the writer slot, with a progress artifact."""
    settings = get_settings()
    artifact = ProgressArtifact("backfill-progress", "messages of the backfill read and checked")
    progress = StagedProgress(own_staging(settings), artifact.update)
    with warehouse_writer():
        try:
            summary = run_backfill(
                settings, start, topics, on_plan=artifact.following(progress), reset=reset
            )
        finally:
            progress.close()
    artifact.finish()
    return summary


@flow(name="backfill")
def backfill(
    from_offset: int | None = None,
    from_time: datetime | None = None,
    earliest: bool = False,
    topics: list[str] | None = None,
    reset: bool = False,
) -> dict[str, Any]:
    """Read every partition of ``topics`` (all if none; topic names or event types) again
    from ``from_offset``, ``from_time`` or the ``earliest`` retained message to its end, and
    land what the warehouse does not have; the summary is left as the ingest artifacts.
    ``reset``: partitions that now end before their committed offset belong to recreated
    topics and are read as new ones (``ops.offset_resets``)."""
    given = [x for x in (from_offset, from_time, earliest or None) if x is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of from_offset, from_time, earliest")
    start: int | datetime | str = "earliest" if earliest else given[0]  # type: ignore[assignment]
    settings = get_settings()
    summary = backfill_pass.with_options(**retry_options(settings))(start, topics or [], reset)
    lag = consumer_lag.with_options(**retry_options(settings))()
    publish_ingest(summary, lag)
    return {**asdict(summary), "lag": sum(r.size for r in lag)}
