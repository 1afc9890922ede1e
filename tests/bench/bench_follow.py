"""Kafka-to-``raw.*`` latency at a steady rate: ``finradar follow`` against plain passes.

Starts a broker of its own (ports 28192/28193, data in a temporary folder) and measures,
in the same run and on the same stream (good synthetic events at ``--rate`` events/s for
``--seconds``):

* baseline: one-shot ingest passes back to back in one process (``run_once``: what the
  every-minute schedule runs, here with no pause between passes);
* candidate: ``finradar follow`` (the follow flow on a temporary Prefect server).

For every landed event, latency = when a reader first saw it committed (polled every
0.1 s) minus its Kafka timestamp (``tests/bench/follow_latency.py``). Prints p50/p95/max
of both and the ratio of their p95s. The producer and the probe share the machine with
what they measure, as they would on a one-machine deployment.

    python -m tests.bench.bench_follow [--rate 1000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from finradar.settings import Settings, load_settings
from tests.bench.bench_ingest import bench_env, own_broker
from tests.bench.follow_latency import CommitProbe, Latencies, latencies, paced_produce

KAFKA = {"port": 28192, "controller_port": 28193}
BASELINE = "from finradar.settings import get_settings\nfrom pipelines.ingest import run_once\n"
BASELINE += "settings = get_settings()\nwhile True:\n    run_once(settings)\n"


def _measure(
    settings: Settings,
    command: list[str],
    env: dict[str, str],
    rate: int,
    seconds: float,
    seed: int,
) -> Latencies:
    """Start ``command``, wait until it has caught up with what is on the topics, produce
    the steady stream, wait for it to land, stop the command."""
    from pipelines.planning import plan_ranges

    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        # ready = it has landed a few events sent after it started (its start-up, e.g.
        # the GX validators or a Prefect server, must not count as latency)
        for round_ in range(3):
            paced_produce(settings.kafka.bootstrap, 50, 1, seed + 100 * (round_ + 1))
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                time.sleep(1)
                if settings.catalog_path.exists() and not plan_ranges(settings):
                    break
        time.sleep(5)
        since = int(time.time() * 1000)
        with CommitProbe(settings) as probe:
            sent = paced_produce(settings.kafka.bootstrap, rate, seconds, seed)
            deadline = time.monotonic() + 120
            while plan_ranges(settings) and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(0.5)
        result = latencies(settings, probe, since)
        assert len(result.values) + result.missing == sent, "not every event landed"
        return result
    finally:
        process.terminate()
        process.wait(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    from infra.producing import corpus_messages, publish

    with tempfile.TemporaryDirectory(prefix="finradar-bench-follow-") as tmp:
        settings = load_settings(var_dir=Path(tmp) / "var", kafka=KAFKA)
        env = bench_env(settings)
        broker = own_broker(settings)
        try:
            publish(corpus_messages(), settings.kafka)
            print(f"steady stream: {args.rate:,} events/s for {args.seconds:.0f} s")
            base = _measure(
                settings, [sys.executable, "-c", BASELINE], env, args.rate, args.seconds, 1
            )
            print(f"baseline  back-to-back ingest passes: {base.line()}")
            follow = [str(Path(sys.executable).with_name("finradar")), "follow"]
            cand = _measure(settings, follow, env, args.rate, args.seconds, 2)
            print(f"candidate finradar follow:            {cand.line()}")
            print(f"ratio p95 follow / passes: {cand.quantile(0.95) / base.quantile(0.95):.3f}")
            print(f"follow p95 {'within' if cand.quantile(0.95) <= 5 else 'OVER'} the 5 s target")
        finally:
            broker.down(purge=True)


if __name__ == "__main__":
    main()
