"""The deployments ``finradar serve`` registers, with their schedules from settings.

A scheduled run that comes due while the previous run of its deployment still works is
cancelled, not queued: the next pass picks up whatever it would have done, and a slow pass
never leaves a pile of runs behind it on a small machine.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta
from typing import Any

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.runner import Runner

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


class _Runner(Runner):
    """Prefect's runner, stopped by SIGTERM the way Ctrl-C stops it."""

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        # Prefect 3.8's own handler calls the runner's async stop without awaiting it and
        # exits from inside the event loop (a RuntimeWarning and asyncio tracebacks);
        # asyncio's handler of SIGINT cancels the runner's task and unwinds it cleanly
        signal.raise_signal(signal.SIGINT)


def serve_deployments(settings: Settings) -> None:
    """Register the deployments and run their scheduled flow runs until interrupted
    (Ctrl-C or SIGTERM): their schedules are paused on the way out, as ``prefect.serve``
    does."""
    # two cores: two flow runs at a time, one of each deployment at most
    runner = _Runner(pause_on_shutdown=True, limit=2)
    for deployment in deployments(settings):
        runner.add_deployment(deployment)
    try:
        asyncio.run(runner.start())
    except KeyboardInterrupt:
        return
