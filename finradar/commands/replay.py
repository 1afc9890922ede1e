"""``finradar replay``: land quarantined messages whose cause has been fixed, exactly once."""

from __future__ import annotations

import argparse
import json

from finradar.commands.serve import prefect_api
from finradar.settings import get_settings, require_private_pii_key


def _reason(text: str) -> str:
    # lazy: the contract's checker takes a fifth of a second to import
    from contracts.checks import REASON_CODES

    if text not in REASON_CODES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a reason code (one of: {', '.join(sorted(REASON_CODES))})"
        )
    return text


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "replay",
        help="check quarantined messages again and land those that now pass",
        description="Run the replay flow: every quarantined message not replayed yet (only "
        "those of the given reason codes with --reason) is checked again against the contract "
        "as it is now, e.g. after a survey definition was added to contracts/surveys. Those "
        "that pass land in raw.* and are marked replayed in quarantine.events, in one commit; "
        "a second replay does not see them again. Redacted messages are not replayed.",
    )
    p.add_argument(
        "--reason",
        action="append",
        type=_reason,
        default=[],
        metavar="CODE",
        help="only messages quarantined for this reason (repeatable), e.g. unknown_survey",
    )
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    require_private_pii_key(get_settings())  # before any server or flow starts
    with prefect_api(get_settings(), temporary=True):
        # lazy: Prefect reads its settings when first imported, after prefect_api set them
        from flows.replay import replay

        summary = replay(reasons=args.reason)
    if args.json:
        print(json.dumps(summary))
        return 0
    print(
        f"replay {summary['replay_batch_id']}: rechecked {summary['rechecked']}, landed "
        f"{summary['landed']}, duplicates {summary['duplicates']}, still quarantined "
        f"{summary['still_quarantined']} in {summary['seconds']:.1f} s"
    )
    for reason, count in summary["still_by_reason"].items():
        print(f"  still quarantined {count:>7} {reason}")
    return 0
