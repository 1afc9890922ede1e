"""``finradar produce``: publish the seed corpus, a synthetic stream or a JSONL file."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from contracts.decoding import decode
from contracts.spec import topics_by_event_type
from finradar.errors import FinradarError
from finradar.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "produce",
        help="publish events to the contract topics",
        description="Publish events to Kafka: each goes to the topic of its event_type, keyed "
        "by subject.entity_id.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", choices=["seeds"], help="the seed reference corpus")
    source.add_argument("--synthetic", type=_count, metavar="N", help="N synthetic events")
    source.add_argument("--file", type=Path, metavar="FILE.jsonl", help="one event per line")
    p.add_argument(
        "--bad-rate",
        type=_rate,
        default=0.0,
        metavar="R",
        help="with --synthetic: share of bad records, 0-1 (default 0)",
    )
    p.add_argument(
        "--seed", type=int, default=0, metavar="S", help="with --synthetic: random seed (default 0)"
    )
    p.add_argument(
        "--topic",
        metavar="T",
        help="with --file: topic for lines that are not a JSON event with a known "
        "event_type (they are sent as they are)",
    )
    p.add_argument(
        "--workers",
        type=_count,
        metavar="W",
        help="with --synthetic: producer processes (default: one per CPU)",
    )
    p.set_defaults(handler=run)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def check_routable(path: Path) -> None:
    """Fail before sending anything when a line has no topic of its own."""
    for topic, _key, _value in file_messages(path, None):
        del topic


def file_messages(
    path: Path, fallback_topic: str | None
) -> Iterator[tuple[str, bytes | None, bytes]]:
    topics = topics_by_event_type()
    with path.open("rb") as fh:
        for n, line in enumerate(fh, start=1):
            value = line.rstrip(b"\r\n")
            if not value.strip():
                continue
            topic, key = None, None
            # the strict decode of the platform: a line it would quarantine goes as it is
            event = decode(value).event
            if event is not None:
                topic = topics.get(event.get("event_type"))  # type: ignore[arg-type]
                subject = event.get("subject")
                if isinstance(subject, dict) and isinstance(subject.get("entity_id"), str):
                    key = subject["entity_id"].encode("utf-8")
            topic = topic or fallback_topic
            if topic is None:
                raise FinradarError(
                    f"{path}:{n}: not a JSON event with a known event_type; "
                    "give --topic to send such lines as they are"
                )
            yield topic, key, value


def run(args: argparse.Namespace) -> int:
    # lazy: the CLI starts without Kafka's client and the synthetic generator
    from infra.producing import ProgressBar, corpus_messages, publish, publish_synthetic
    from infra.topics import ensure_topics

    if args.synthetic is None and (args.bad_rate or args.seed or args.workers):
        raise FinradarError("--bad-rate, --seed and --workers go with --synthetic")
    if args.topic and args.file is None:
        raise FinradarError("--topic goes with --file")
    if args.file is not None and not args.file.is_file():
        raise FinradarError(f"no such file: {args.file}")
    kafka = get_settings().kafka
    try:
        ensure_topics(kafka)
    except FinradarError:
        raise  # why the broker could not be used, in one line
    except Exception as exc:  # kafka-python raises several unrelated error types here
        raise FinradarError(
            f"cannot reach Kafka at {kafka.bootstrap}: {exc} (start it with 'finradar infra up')"
        ) from None
    if args.synthetic is not None:
        bar = ProgressBar(args.synthetic, "synthetic")
        report = publish_synthetic(
            args.synthetic, args.bad_rate, args.seed, kafka, progress=bar, workers=args.workers
        )
    elif args.corpus:
        messages = list(corpus_messages())
        bar = ProgressBar(len(messages), "seeds")
        report = publish(
            messages,
            kafka,
            progress=bar,
        )
    else:
        if args.topic is None:
            check_routable(args.file)
        bar = ProgressBar(None, args.file.name)
        report = publish(file_messages(args.file, args.topic), kafka, progress=bar)
    bar.close()
    print(report.line())
    return 0
