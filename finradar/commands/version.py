"""``finradar version``: the package and infrastructure versions."""

from __future__ import annotations

import argparse
import platform

from finradar import __version__
from infra.versions import load_versions


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("version", help="print finradar and infrastructure versions")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # lazy: the CLI starts without DuckDB
    import duckdb

    v = load_versions()
    print(f"finradar {__version__}")
    print(f"python {platform.python_version()}, duckdb {duckdb.__version__}, kafka {v.kafka}")
    return 0
