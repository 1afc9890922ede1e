"""The ``ingest`` flow: one ingest pass, orchestrated.

Grain: one flow run = one ingest pass = one warehouse commit (or none if it fails).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, task

from finradar.settings import get_settings
from flows.alerting import after_run, on_flow_failure
from flows.artifacts import ProgressArtifact, publish_ingest
from flows.policy import retry_options, warehouse_writer
from handoff.records import PartitionRange
from pipelines import planning
from pipelines.ingest import IngestSummary, own_staging, run_once
from pipelines.progress import StagedProgress


@task(name="ingest-pass")
def ingest_pass() -> IngestSummary:
    """Read everything new, validate, land: the Beam pipeline of ``pipelines/ingest.py``;
    a progress artifact follows the messages read and checked."""
    settings = get_settings()
    artifact = ProgressArtifact("ingest-progress", "messages of the pass read and checked")
    progress = StagedProgress(own_staging(settings), artifact.update)
    with warehouse_writer():
        try:
            summary = run_once(settings, on_plan=artifact.following(progress))
        finally:
            progress.close()
    artifact.finish()
    return summary


@task(name="consumer-lag")
def consumer_lag() -> list[PartitionRange]:
    """Messages on the topics beyond the committed offsets, per partition."""
    return planning.consumer_lag(get_settings())


@flow(name="ingest", on_failure=[on_flow_failure], on_crashed=[on_flow_failure])
def ingest() -> dict[str, Any]:
    """One ingest pass over the three topics, with its summary and quarantine reasons left
    as artifacts; transient failures (broker not ready, warehouse busy) are retried. Then
    the alert rules are judged (``flows.alerting``); a failed run fires ``flow_failed``."""
    settings = get_settings()
    summary = ingest_pass.with_options(**retry_options(settings))()
    lag = consumer_lag.with_options(**retry_options(settings))()
    publish_ingest(summary, lag)
    after_run("ingest", lag=lag)
    return {**asdict(summary), "lag": sum(r.size for r in lag)}
