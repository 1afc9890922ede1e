"""``finradar refresh``: rebuild the models whose inputs changed, then run the checks."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from finradar.commands.alert_rules import judge_after
from finradar.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "refresh",
        help="rebuild staging views, marts and dq.findings from what has landed",
        description="Rebuild the reference tables, staging views and marts whose inputs changed "
        "since the last refresh, recompute the reconciliation findings, and commit it all in "
        "one warehouse transaction (safe while an ingest runs).",
    )
    p.add_argument("--full", action="store_true", help="rebuild everything, changed or not")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # lazy: the CLI starts without what the other commands run
    from warehouse.refresh import refresh

    settings = get_settings()
    summary = refresh(settings, full=args.full)
    judge_after(settings, "refresh")
    if args.json:
        print(json.dumps({**asdict(summary), "findings": summary.findings}, ensure_ascii=False))
        return 0
    print(
        f"refresh {summary.refresh_id}: rebuilt {len(summary.rebuilt)}, "
        f"unchanged {len(summary.unchanged)}, {summary.seconds:.1f} s"
    )
    print(f"findings: {summary.findings} ({summary.new_findings} new)")
    for rule, n in sorted(summary.findings_by_rule.items()):
        print(f"  {rule:<24} {n:>6}")
    return 0
