"""The ``refresh`` flow: rebuild the models whose inputs changed and run the checks.

Grain: one flow run = one refresh = one warehouse commit.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, task

from finradar.settings import get_settings
from flows.artifacts import publish_refresh
from flows.policy import retry_options, warehouse_writer
from warehouse.refresh import RefreshSummary
from warehouse.refresh import refresh as refresh_warehouse


@task(name="refresh-models")
def refresh_models(full: bool) -> RefreshSummary:
    """``warehouse.refresh.refresh``: reference tables, staging views, marts, dq.findings."""
    with warehouse_writer():
        return refresh_warehouse(get_settings(), full=full)


@flow(name="refresh")
def refresh(full: bool = False) -> dict[str, Any]:
    """Rebuild what changed (everything with ``full``) and recompute the findings; the
    findings by rule are left as an artifact."""
    summary = refresh_models.with_options(**retry_options(get_settings()))(full)
    publish_refresh(summary)
    return {**asdict(summary), "findings": summary.findings}
