"""Build the report into ``var/reports/`` from the warehouse and the consumer lag given."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import duckdb

from finradar.errors import FinradarError
from finradar.settings import Settings
from handoff.records import PartitionRange
from warehouse.lake import connect
from warehouse.report.build import ReportInputs, write_report
from warehouse.report.data_docs import docs_index

REPORT_FILE = "finradar-report.html"


def build_report(settings: Settings, lag: Sequence[PartitionRange] | None) -> Path:
    """Write ``var/reports/finradar-report.html``; ``lag`` None shows Kafka as unreachable
    (``pipelines.planning.consumer_lag_if_reachable`` asks Kafka)."""
    path = settings.reports_dir / REPORT_FILE
    docs = docs_index(settings.gx_dir)
    link = os.path.relpath(docs, path.parent) if docs.is_file() else None
    con = connect(settings, read_only=True)
    try:
        _require_refreshed(con)
        return write_report(con, path, ReportInputs(lag=lag, data_docs=link))
    finally:
        con.close()


def require_refreshed_warehouse(settings: Settings) -> None:
    """Refuse, in one line, a report with no warehouse or before its first refresh (before
    anything else is asked, such as Kafka's lag: the report writes nothing anywhere)."""
    con = connect(settings, read_only=True)  # no warehouse: one line, "run an ingest first"
    try:
        _require_refreshed(con)
    finally:
        con.close()


def _require_refreshed(con: duckdb.DuckDBPyConnection) -> None:
    """The report reads the marts: before the first refresh there are none to read."""
    (marts,) = con.execute(
        "select count(*) from information_schema.tables "
        "where table_catalog = current_database() and table_schema = 'marts'"
    ).fetchone()
    if not marts:
        raise FinradarError("the warehouse has no marts yet: run 'finradar refresh' first")
