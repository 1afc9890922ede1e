"""``finradar report``: build the static finradar report from the warehouse."""

from __future__ import annotations

import argparse

from finradar.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="write the offline HTML report (spend, maturity, surveys, data quality)",
        description="Write var/reports/finradar-report.html: one static page with inline "
        "charts over the warehouse, usable offline. Consumer lag comes from Kafka when it "
        "is reachable.",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # lazy: the CLI starts without the warehouse's and Kafka's modules
    from pipelines.planning import consumer_lag_if_reachable
    from warehouse.report.publish import build_report, require_refreshed_warehouse

    settings = get_settings()
    require_refreshed_warehouse(settings)
    path = build_report(settings, consumer_lag_if_reachable(settings))
    print(f"report: {path}")
    return 0
