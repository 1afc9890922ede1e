"""Build the report into ``var/reports/`` from the warehouse and, if reachable, Kafka."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from finradar.errors import FinradarError
from finradar.settings import Settings
from pipelines.kafka_source import PartitionRange
from warehouse.lake import connect
from warehouse.report.build import ReportInputs, write_report

REPORT_FILE = "finradar-report.html"


def consumer_lag(settings: Settings) -> list[PartitionRange] | None:
    """Messages beyond the committed offsets per partition, or None if Kafka is down."""
    from pipelines.ingest import plan_ranges

    try:
        return plan_ranges(settings)
    except FinradarError:
        return None


def build_report(settings: Settings, lag: Sequence[PartitionRange] | None) -> Path:
    """Write ``var/reports/finradar-report.html``; ``lag`` None shows Kafka as unreachable."""
    from contracts.gx_runner import docs_index

    path = settings.reports_dir / REPORT_FILE
    docs = docs_index(settings.gx_dir)
    link = os.path.relpath(docs, path.parent) if docs.is_file() else None
    con = connect(settings, read_only=True)
    try:
        return write_report(con, path, ReportInputs(lag=lag, data_docs=link))
    finally:
        con.close()
