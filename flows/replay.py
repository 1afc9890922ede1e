"""The ``replay`` flow: quarantined messages checked again and landed once their cause is
fixed (a survey definition added, a taxonomy term introduced, a clock corrected).

Grain: one flow run = one replay = one warehouse commit (or none if nothing is pending).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, task

from finradar.settings import get_settings
from flows.artifacts import publish_replay
from flows.policy import retry_options, warehouse_writer
from pipelines.replay import run_replay
from warehouse.replay import ReplaySummary


@task(name="replay-quarantined")
def replay_quarantined(reasons: list[str]) -> ReplaySummary:
    """``pipelines.replay.run_replay`` holding the writer slot."""
    with warehouse_writer():
        return run_replay(get_settings(), reasons)


@flow(name="replay")
def replay(reasons: list[str] | None = None) -> dict[str, Any]:
    """Re-check every quarantined message not replayed yet (of ``reasons``: reason codes,
    all if empty) and land those that now pass; the outcome is left as an artifact."""
    summary = replay_quarantined.with_options(**retry_options(get_settings()))(reasons or [])
    publish_replay(summary)
    return asdict(summary)
