"""The deployments ``finradar serve`` registers, with their schedules from settings.

A scheduled run that comes due while the previous run of its deployment still works is
cancelled, not queued: the next pass picks up whatever it would have done, and a slow pass
never leaves a pile of runs behind it on a small machine.
"""

from __future__ import annotations

import asyncio
import signal
import sys
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
    """Prefect's runner, stopped by SIGTERM as Ctrl-C stops it: no new flow runs, the runs
    in progress finished, the schedules paused."""

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        # Prefect 3.8's own handler calls the runner's async stop without awaiting it and
        # exits from inside the event loop (a RuntimeWarning and asyncio tracebacks); its
        # ``astop`` also kills the runs in progress, which then fire flow_failed alerts.
        # Raising SIGINT, for asyncio to cancel the runner's task once, lost a SIGTERM in a
        # loaded run of the suite: the runner polled on. Cancelling the scope of its
        # polling loops (what ``astop`` does after killing the runs) cancels until the
        # scope has exited; the runner then waits for its runs and pauses the schedules.
        print("serve: SIGTERM, stopping", file=sys.stderr, flush=True)
        if self._loop is None:
            self._interrupt()
        else:
            self._loop.call_soon_threadsafe(self._stop_polling)

    def _stop_polling(self) -> None:
        if not self.started:  # still starting: interrupt the start
            self._interrupt()
            return
        self.stopping = True
        poller = getattr(self, "_scheduled_run_poller", None)
        if poller is not None:
            poller.stopping = True
        self._loops_task_group.cancel_scope.cancel()

    @staticmethod
    def _interrupt() -> None:
        signal.raise_signal(signal.SIGINT)  # asyncio cancels the runner's task


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
