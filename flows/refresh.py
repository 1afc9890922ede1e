"""The ``refresh`` flow: rebuild the models whose inputs changed and run the checks.

Grain: one flow run = one refresh = one warehouse commit.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, task

from finradar.settings import get_settings
from flows.alerting import after_run, on_flow_failure
from flows.artifacts import publish_refresh
from flows.policy import retry_options, warehouse_writer
from pipelines.planning import consumer_lag_if_reachable
from warehouse.refresh import RefreshSummary
from warehouse.refresh import refresh as refresh_warehouse


@task(name="refresh-models")
def refresh_models(full: bool) -> RefreshSummary:
    """``warehouse.refresh.refresh``: reference tables, staging views, marts, dq.findings."""
    with warehouse_writer():
        return refresh_warehouse(get_settings(), full=full)


@flow(name="refresh", on_failure=[on_flow_failure], on_crashed=[on_flow_failure])
def refresh(full: bool = False) -> dict[str, Any]:
    """Rebuild what changed (everything with ``full``) and recompute the findings; the
    findings by rule are left as an artifact. Then the alert rules are judged (the lag too
    if Kafka answers); a failed run fires ``flow_failed``."""
    summary = refresh_models.with_options(**retry_options(get_settings()))(full)
    publish_refresh(summary)
    after_run("refresh", lag=consumer_lag_if_reachable(get_settings()))
    return {**asdict(summary), "findings": summary.findings}
