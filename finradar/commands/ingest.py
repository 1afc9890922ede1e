"""``finradar ingest --once``: one ingest pass over everything new on the three topics."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from finradar.commands.alert_rules import judge_after
from finradar.errors import FinradarError
from finradar.settings import get_settings, require_private_pii_key
from pipelines.progress import StagedProgress


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ingest",
        help="read what is new on the topics, validate it and land it in the warehouse",
        description="Read every partition from the warehouse's committed offset to the current "
        "end, check each message against the contract and its Great Expectations suite, and "
        "land good records, quarantined ones and the new offsets in one warehouse commit.",
    )
    p.add_argument(
        "--once",
        action="store_true",
        required=True,
        help="run one pass and exit (continuous mode is 'finradar follow')",
    )
    p.add_argument(
        "--partitions",
        type=parse_partitions,
        metavar="TOPIC:N[,TOPIC:N…]",
        help="a bounded pass over these partitions only (e.g. fi.spend.disclosures.v1:0,"
        "fi.spend.disclosures.v1:2), beside ingests of other partitions on any host: no "
        "ingest lock is taken, and the commit lands only if no other writer committed these "
        "partitions meanwhile",
    )
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(handler=run)


def parse_partitions(text: str) -> frozenset[tuple[str, int]]:
    """argparse type of ``--partitions``: ``topic:n`` pairs, comma-separated."""
    partitions = set()
    for item in filter(None, (part.strip() for part in text.split(","))):
        topic, _, number = item.rpartition(":")
        if not topic or not number.isdigit():
            raise argparse.ArgumentTypeError(f"{item!r} is not TOPIC:PARTITION")
        partitions.add((topic, int(number)))
    if not partitions:
        raise argparse.ArgumentTypeError("no partition given")
    return frozenset(partitions)


def _refuse_unknown_topics(partitions: frozenset[tuple[str, int]]) -> None:
    # lazy: the CLI starts without the contract's modules
    from contracts.spec import contracts

    known = {c.topic for c in contracts().values()}
    unknown = sorted({topic for topic, _ in partitions} - known)
    if unknown:
        raise FinradarError(
            f"--partitions: {', '.join(unknown)} is no contract topic ({', '.join(sorted(known))})"
        )


class _Progress(StagedProgress):
    """Prints the plan, then read and checked counts every few seconds on stderr."""

    def __init__(self, staging: Path) -> None:
        super().__init__(staging, self._print)

    def plan(self, plan) -> None:  # type: ignore[no-untyped-def]
        for r in plan:
            print(
                f"  {r.topic}[{r.partition}] offsets {r.start}..{r.end} ({r.size} new)",
                file=sys.stderr,
            )
        super().plan(plan)

    @staticmethod
    def _print(done: int, total: int) -> None:
        print(f"  read and checked {done:,} of {total:,} messages", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    # lazy: Beam, GX and the warehouse take seconds to import; the CLI starts without them
    from pipelines.ingest import own_staging, run_once

    settings = get_settings()
    require_private_pii_key(settings)  # before any server or flow starts
    if args.partitions is not None:
        _refuse_unknown_topics(args.partitions)
    progress = _Progress(own_staging(settings))
    try:
        summary = run_once(settings, on_plan=progress.plan, partitions=args.partitions)
    except FinradarError:
        raise
    except Exception as exc:  # the broker or the catalog failing mid-run
        raise FinradarError(
            f"ingest failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from None
    finally:
        progress.close()
    judge_after(settings, "ingest", measure_lag=True)
    if args.json:
        print(json.dumps(asdict(summary) | {"events_per_s": round(summary.rate, 1)}))
        return 0
    print(
        f"ingest {summary.batch_id}: consumed {summary.consumed}, landed {summary.landed}, "
        f"duplicates {summary.duplicates}, quarantined {summary.quarantined} "
        f"in {summary.seconds:.1f} s ({summary.rate:,.0f} events/s)"
        + (f", in {summary.commits} commits" if summary.commits > 1 else "")
    )
    for reason, count in summary.by_reason.items():
        print(f"  quarantined {count:>7} {reason}")
    return 0
