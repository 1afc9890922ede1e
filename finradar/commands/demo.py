"""``finradar demo``: the main job end to end on this machine."""

from __future__ import annotations

import argparse

DEMO_SYNTHETIC = 20_000
DEMO_BAD_RATE = 0.02
DEMO_SEED = 2025


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="start Kafka, publish the seed corpus and a synthetic stream, ingest it",
        description="Start the local broker, publish the seed reference corpus and "
        f"{DEMO_SYNTHETIC:,} synthetic events ({DEMO_BAD_RATE:.0%} bad records), run one "
        "ingest pass into the warehouse and summarise what landed and what was quarantined. "
        "Kafka keeps running afterwards.",
    )
    p.add_argument("--stop-kafka", action="store_true", help="stop the broker at the end")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import time

    from finradar.producing import corpus_messages, publish, publish_synthetic
    from finradar.settings import get_settings
    from infra.broker import LocalBroker
    from infra.topics import ensure_topics
    from pipelines.ingest import run_once

    settings = get_settings()
    broker = LocalBroker(settings)
    t0 = time.monotonic()
    print(broker.up().line())
    print(f"  ready in {time.monotonic() - t0:.1f} s")
    bootstrap = settings.kafka.bootstrap
    ensure_topics(bootstrap)
    report = publish(corpus_messages(), bootstrap)
    print(f"seed corpus: {report.line()}")
    report = publish_synthetic(DEMO_SYNTHETIC, DEMO_BAD_RATE, DEMO_SEED, bootstrap)
    print(f"synthetic:   {report.line()}")
    summary = run_once(settings)
    print(
        f"ingest {summary.batch_id}: consumed {summary.consumed}, landed {summary.landed}, "
        f"duplicates {summary.duplicates}, quarantined {summary.quarantined} "
        f"in {summary.seconds:.1f} s ({summary.rate:,.0f} events/s)"
    )
    for reason, count in summary.by_reason.items():
        print(f"  quarantined {count:>6} {reason}")
    print(f"warehouse: {settings.catalog_path} (DuckLake; data in {settings.data_path})")
    print(f"Data Docs: {settings.gx_dir / 'gx/uncommitted/data_docs/local_site/index.html'}")
    if args.stop_kafka:
        print(broker.down().line())
    else:
        print("Kafka keeps running; stop it with: .venv/bin/finradar infra down")
    return 0
