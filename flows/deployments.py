"""The deployments ``finradar serve`` registers, with their schedules from settings.

A scheduled run that comes due while the previous run of its deployment still works is
cancelled, not queued: the next pass picks up whatever it would have done, and a slow pass
never leaves a pile of runs behind it on a small machine.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

from finradar.settings import Settings
from flows.backfill import backfill
from flows.follow import follow
from flows.ingest import ingest
from flows.refresh import refresh
from flows.replay import replay
from flows.report import report


def deployments(settings: Settings) -> list[Any]:
    """``ingest``, ``refresh`` and ``report`` every ``*_every_s`` seconds of the settings;
    ``follow``, ``replay`` and ``backfill`` on demand (``prefect deployment run
    replay/on-demand``, or from the UI, with parameters)."""
    one_at_a_time = ConcurrencyLimitConfig(
        limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
    )
    every = settings.prefect
    on_demand = [
        flow.to_deployment(name="on-demand", concurrency_limit=one_at_a_time)
        for flow in (follow, replay, backfill)
    ]
    return on_demand + [
        flow.to_deployment(
            name="scheduled",
            interval=timedelta(seconds=seconds),
            concurrency_limit=one_at_a_time,
        )
        for flow, seconds in (
            (ingest, every.ingest_every_s),
            (refresh, every.refresh_every_s),
            (report, every.report_every_s),
        )
    ]


def serve_deployments(settings: Settings) -> None:
    """Register the deployments and run their scheduled flow runs until interrupted."""
    # two cores: two flow runs at a time, one of each deployment at most
    serve(*deployments(settings), print_starting_message=False, limit=2)
