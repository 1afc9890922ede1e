"""The ``report`` flow: write the static finradar report from the warehouse.

Grain: one flow run = one ``var/reports/finradar-report.html`` (read-only on the warehouse,
so it takes no writer slot).
"""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from finradar.settings import get_settings
from pipelines.planning import consumer_lag_if_reachable
from warehouse.report.publish import build_report, require_refreshed_warehouse


@task(name="build-report")
def build() -> str:
    """Ask Kafka for the consumer lag (if reachable) and render the page."""
    settings = get_settings()
    require_refreshed_warehouse(settings)
    return str(build_report(settings, consumer_lag_if_reachable(settings)))


@flow(name="report")
def report() -> str:
    """Write the report and leave its path as a markdown artifact."""
    path = build()
    create_markdown_artifact(
        f"# finradar report\n\nWritten to `{path}` (open it in any browser; it works offline).\n",
        key="report",
        description="where the latest report is",
    )
    return path
