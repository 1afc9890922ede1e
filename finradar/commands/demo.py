"""``finradar demo``: the main job end to end on this machine."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="start Kafka, round-trip a message through a topic, stop Kafka"
    )
    p.add_argument("--keep-kafka", action="store_true", help="leave the broker running at the end")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import time

    from finradar.settings import get_settings
    from infra.broker import LocalBroker
    from infra.roundtrip import roundtrip

    broker = LocalBroker(get_settings())
    t0 = time.monotonic()
    print(broker.up().line())
    print(f"  started in {time.monotonic() - t0:.1f}s")
    result = roundtrip(get_settings().kafka.bootstrap)
    print(
        f"  round trip on {result.topic}[{result.partition}]@{result.offset}: "
        f"{result.seconds * 1000:.0f} ms"
    )
    if not args.keep_kafka:
        print(broker.down().line())
    return 0
