"""Synthetic publish rate: ``finradar produce --synthetic`` against kafka-python's producer.

Both publish the same synthetic stream to the contract topics of the running broker:
the baseline through one ``KafkaProducer`` (idempotent, 512 KiB batches, 20 ms linger) in
this process, the candidate through ``publish_synthetic`` (bulk record batches from one
process per CPU). Prints both rates and their ratio.

    python -m tests.bench.bench_produce [N] [--baseline-n M]
"""

from __future__ import annotations

import argparse
import time

from contracts.synthetic import SyntheticStream
from finradar.settings import get_settings
from infra.producing import publish, publish_synthetic
from infra.topics import ensure_topics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1_000_000)
    parser.add_argument(
        "--baseline-n",
        type=int,
        default=100_000,
        help="events for the (slower) kafka-python baseline",
    )
    parser.add_argument("--bad-rate", type=float, default=0.0)
    args = parser.parse_args()
    kafka = get_settings().kafka
    ensure_topics(kafka)

    stream = SyntheticStream(args.baseline_n, bad_rate=args.bad_rate, seed=101)
    started = time.perf_counter()
    base = publish(((m.topic, m.key, m.value) for m in stream), kafka)
    base_rate = base.sent / (time.perf_counter() - started)
    print(
        f"baseline  kafka-python KafkaProducer, 1 process: {base.sent:>9,} events "
        f"{base_rate:>9,.0f} events/s"
    )

    report = publish_synthetic(args.n, args.bad_rate, seed=102, kafka=kafka)
    print(
        f"candidate finradar produce --synthetic:        {report.sent:>9,} events "
        f"{report.rate:>9,.0f} events/s"
    )
    print(f"ratio candidate / baseline: {report.rate / base_rate:.2f}")


if __name__ == "__main__":
    main()
