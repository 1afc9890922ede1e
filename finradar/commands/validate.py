"""``finradar validate FILE.jsonl``: check events against contract v1, one verdict per line."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from contracts.spec import contract_for_topic
from finradar.errors import FinradarError

CHUNK_LINES = 5000


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "validate",
        help="check a JSONL file of events against the contract",
        description="Check every line of FILE.jsonl against event contract v1 and its Great "
        'Expectations suites. Prints {"line", "event_id", "valid", "reasons"} per line; exit '
        "0 when every line is valid, 1 otherwise.",
    )
    p.add_argument("file", type=Path, metavar="FILE.jsonl")
    p.add_argument("--topic", help="check the events as if read from this topic")
    p.add_argument(
        "--no-gx",
        action="store_true",
        help="contract checks only, without the Great Expectations suites (faster)",
    )
    p.set_defaults(handler=run)


def _chunks(path: Path) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    with path.open("rb") as fh:
        for n, line in enumerate(fh, start=1):
            value = line.rstrip(b"\r\n")
            if not value.strip():
                continue
            chunk.append((n, value))
            if len(chunk) == CHUNK_LINES:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def run(args: argparse.Namespace) -> int:
    # lazy: the contract's checker takes a fifth of a second to import
    from contracts.checks import Reason, check_value

    if not args.file.is_file():
        raise FinradarError(f"no such file: {args.file}")
    if args.topic and contract_for_topic(args.topic) is None:
        raise FinradarError(f"{args.topic} is not a contract topic")
    runner: Any = None
    # event_id -> (digest of its first line, that line's reasons); a byte-identical repeat
    # is a duplicate and gets the first line's verdict, other content under the id a conflict
    first_seen: dict[str, tuple[str, list[Reason]]] = {}
    all_valid = True
    for chunk in _chunks(args.file):
        verdicts: list[tuple[int, dict[str, Any] | None, list[Reason]]] = []
        by_type: dict[str, list[int]] = {}
        repeats: list[tuple[int, list[Reason]]] = []
        for n, value in chunk:
            event, reasons = check_value(value, topic=args.topic)
            event_id = event.get("event_id") if event is not None else None
            if isinstance(event_id, str):
                digest = hashlib.sha256(value).hexdigest()
                first = first_seen.setdefault(event_id, (digest, reasons))
                if first[1] is not reasons:
                    if first[0] == digest:
                        repeats.append((len(verdicts), first[1]))
                        verdicts.append((n, event, reasons))
                        continue
                    detail = f"event_id {event_id} seen earlier with other content"
                    reasons.append(Reason("event_id_conflict", detail))
            if event is not None and not reasons:
                by_type.setdefault(event["event_type"], []).append(len(verdicts))
            verdicts.append((n, event, reasons))
        if not args.no_gx and by_type:
            if runner is None:
                # lazy: GX and pandas take seconds to import; --no-gx never needs them
                from pipelines.gx_runner import SuiteRunner, validate_isolating

                runner = SuiteRunner()
            for event_type, positions in by_type.items():
                events = [verdicts[p][1] for p in positions]
                result = validate_isolating(
                    lambda batch, t=event_type, r=runner: r.validate(t, batch),
                    events,  # type: ignore[arg-type]
                )
                for row, reasons in result.failures.items():
                    verdicts[positions[row]][2].extend(reasons)
        for position, first_reasons in repeats:
            verdicts[position][2][:] = first_reasons
        for n, event, reasons in verdicts:
            event_id = event.get("event_id") if event else None
            all_valid = all_valid and not reasons
            print(
                json.dumps(
                    {
                        "line": n,
                        "event_id": event_id if isinstance(event_id, str) else None,
                        "valid": not reasons,
                        "reasons": [r.as_dict() for r in reasons],
                    },
                    ensure_ascii=False,
                )
            )
    sys.stdout.flush()
    return 0 if all_valid else 1
