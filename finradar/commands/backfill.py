"""``finradar backfill``: read the topics again from an offset or a time, without duplicates."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from contracts.spec import topics_of
from finradar.commands.serve import prefect_api
from finradar.errors import FinradarError
from finradar.settings import get_settings, require_private_pii_key


def _offset(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an offset (a whole number)") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is not an offset (0 or more)")
    return value


def _time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date or time (e.g. 2026-11-01 or 2026-11-01T08:00+08:00)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "backfill",
        help="read the topics again from an offset or a time into the warehouse",
        description="Run the backfill flow: every partition (of --topic only, if given) is "
        "read from the start given to its current end; messages the warehouse already has are "
        "skipped, events already landed are not duplicated, the rest is checked and landed like "
        "an ingest pass, and each partition's committed offset moves to that end. Offsets "
        "between the committed offset and a later start are skipped on purpose (recorded in "
        "ops.partition_batches).",
    )
    start = p.add_mutually_exclusive_group(required=True)
    start.add_argument("--from-offset", type=_offset, metavar="N", help="start at offset N")
    start.add_argument(
        "--from-time",
        type=_time,
        metavar="TIME",
        help="start at the first message at or after TIME (ISO 8601; UTC if no offset)",
    )
    start.add_argument(
        "--earliest", action="store_true", help="start at the first message the broker kept"
    )
    p.add_argument(
        "--topic",
        action="append",
        default=[],
        metavar="NAME",
        help="a topic or event type (repeatable; default: all three)",
    )
    p.add_argument(
        "--reset",
        action="store_true",
        help="the topics were recreated: a partition whose offsets end before the warehouse's "
        "is read as a new one, its offsets starting again (ops.offset_resets)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        topics_of(args.topic)  # a wrong name fails here, in one line, before Prefect starts
    except ValueError as exc:
        raise FinradarError(str(exc)) from None
    require_private_pii_key(get_settings())  # before any server or flow starts
    with prefect_api(get_settings(), temporary=True):
        # lazy: Prefect reads its settings when first imported, after prefect_api set them
        from flows.backfill import backfill

        summary = backfill(
            from_offset=args.from_offset,
            from_time=args.from_time,
            earliest=args.earliest,
            topics=args.topic,
            reset=args.reset,
        )
    if args.json:
        print(json.dumps(summary, default=str))
        return 0
    print(
        f"backfill {summary['batch_id']}: landed {summary['landed']}, duplicates "
        f"{summary['duplicates']}, quarantined {summary['quarantined']}, already in the "
        f"warehouse {summary['already_accounted']} in {summary['seconds']:.1f} s"
    )
    for reason, count in summary["by_reason"].items():
        print(f"  quarantined {count:>7} {reason}")
    return 0
