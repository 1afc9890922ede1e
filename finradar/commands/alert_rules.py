"""The alert rules judged after a one-shot ``ingest --once`` or ``refresh`` of the CLI, as
the ``ingest`` and ``refresh`` flows judge them after their runs (``flows.alerting``)."""

from __future__ import annotations

import sys

from finradar.settings import Settings, export_prefect_env


def judge_after(settings: Settings, command: str, *, measure_lag: bool = False) -> None:
    """Judge the alert rules once after ``command`` succeeded (with the consumer lag measured
    now if ``measure_lag``); announce and record each state change. An evaluation that fails
    is one line on stderr: the command's own work is committed and its exit stays 0."""
    export_prefect_env(settings)  # before Prefect is first imported, as every command does
    # lazy: Prefect and the warehouse load only for the commands that judge alerts
    from flows.alerting import evaluate_and_notify
    from pipelines.planning import consumer_lag

    try:
        lag = consumer_lag(settings) if measure_lag else None
        evaluate_and_notify(settings, lag=lag, succeeded=command)
    except Exception as exc:
        print(f"alerts not evaluated: {type(exc).__name__}: {exc}", file=sys.stderr)
