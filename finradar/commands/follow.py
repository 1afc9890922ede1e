"""``finradar follow``: continuous ingest in the foreground with a live status line."""

from __future__ import annotations

import argparse
import signal
import sys

from finradar.commands.serve import prefect_api
from finradar.settings import get_settings, require_private_pii_key


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "follow",
        help="ingest continuously (back-to-back short passes) until Ctrl-C",
        description="Run the follow flow: short ingest passes one after the other, each one "
        "warehouse commit, so new events reach raw.* within seconds. Shows a status line; "
        "Ctrl-C (or SIGTERM) stops after the current pass. Uses the Prefect server in "
        "prefect.api_url, else a temporary local one.",
    )
    p.add_argument("--max-passes", type=_positive, metavar="N", help="stop after N passes")
    p.add_argument(
        "--until-idle", action="store_true", help="stop at the first pass that finds nothing new"
    )
    p.add_argument(
        "--group",
        metavar="NAME",
        help="join the Kafka consumer group NAME (ingest.follow_group): follow processes of "
        "one group, on this host or others, share the topics' partitions, and take over "
        "those of a member that stops or dies",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    require_private_pii_key(settings)  # before any server or flow starts
    with prefect_api(settings, temporary=True):
        # lazy: Prefect reads its settings when first imported, after prefect_api set them
        from flows.follow import follow, request_stop

        def stop(signum: int, frame: object) -> None:
            if signum == signal.SIGINT and stop.asked:  # type: ignore[attr-defined]
                raise KeyboardInterrupt
            stop.asked = True  # type: ignore[attr-defined]
            print("\nstopping after this pass (Ctrl-C again to abort)", file=sys.stderr)
            request_stop()

        stop.asked = False  # type: ignore[attr-defined]
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        print("follow: starting the validators (a few seconds)…", file=sys.stderr, flush=True)
        result = follow(
            max_passes=args.max_passes,
            until_idle=args.until_idle,
            status_line=True,
            group=args.group,
        )
    print(
        f"follow: {result['passes']} passes, landed {result['landed']:,}, quarantined "
        f"{result['quarantined']:,}, duplicates {result['duplicates']:,} in "
        f"{result['uptime_s']:,.0f} s"
    )
    return 0
