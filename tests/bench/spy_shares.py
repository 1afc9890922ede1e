"""Where a Beam worker's CPU goes, from a py-spy sample of it: shares by ingest step.

Record one worker of a running ``finradar ingest --once`` (py-spy is not in the lock:
``pip install --target <dir> py-spy``), then group its stacks:

    py-spy record -p <worker pid> -d 30 -r 50 -f raw --nonblocking --gil -o worker.txt
    python -m tests.bench.spy_shares worker.txt

``--gil`` keeps the samples of the thread holding the GIL only: where the worker's Python
work goes. Without it a thread waiting for the GIL counts as busy: kafka-python's IO thread,
woken by its socket while the main thread checks a batch, took 18% of a worker's samples
without it and 2–3% with it (two 1,000,000-event passes on 2026-12-06), where the contract check
rose from 23% to 36–39%.

Each stack counts for the first step it matches, in the order of ``STEPS`` (kafka-python's
frames inside Beam's count as kafka-python); then the frames most often on top.

``--project-lines`` groups a sample of any finradar process instead (the ``ingest`` command
itself, its commit): each stack by its innermost frame in the project's own code, the line
that was running or waiting on a library (a DuckDB statement, an import):

    py-spy record -r 50 -f raw -o main.txt -- .venv/bin/finradar ingest --once
    python -m tests.bench.spy_shares main.txt --project-lines
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable

PROJECT = ("finradar/", "flows/", "pipelines/", "warehouse/", "infra/", "handoff/", "contracts/")

# (step, whether a stack's frames, joined by ";", belong to it)
STEPS: list[tuple[str, Callable[[str], bool]]] = [
    ("kafka-python, its IO thread", lambda s: "run_forever" in s),
    (
        "kafka-python, read loop",  # with finradar's parsing of its fetched batches
        lambda s: "kafka/" in s.rsplit(";", 1)[-1] or "kafka/record" in s or "kafka_records" in s,
    ),
    (
        "threads waiting (gRPC, Condition.wait)",
        lambda s: "_channel_spin" in s or "threading.py" in s.rsplit(";", 1)[-1],
    ),
    ("contract check", lambda s: "batch_checks" in s or "check_batch" in s),
    ("GX validation", lambda s: "validate_frames" in s or "great_expectations" in s),
    ("GX frame building", lambda s: "wait_for_validation" in s),
    ("normalise and stage", lambda s: "normalise.py" in s),
    ("Beam's own work", lambda s: "apache_beam" in s),
]


def shares(lines: list[str]) -> tuple[Counter[str], Counter[str], int]:
    """Samples by step and by top frame, and all samples, of py-spy's raw lines."""
    steps: Counter[str] = Counter()
    tops: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        steps[next((name for name, holds in STEPS if holds(stack)), "other")] += n
        tops[stack.rsplit(";", 1)[-1]] += n
    return steps, tops, total


def project_lines(lines: list[str]) -> tuple[Counter[str], int]:
    """Samples by the innermost frame of each stack in the project's code, and all samples."""
    found: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        total += int(count)
        frames = [f for f in stack.split(";") if any(f"({p}" in f for p in PROJECT)]
        found[frames[-1] if frames else "outside the project's code"] += int(count)
    return found, total


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as raw:
        lines = raw.readlines()
    if "--project-lines" in sys.argv[2:]:
        found, total = project_lines(lines)
        print(f"{total:,} samples")
        for frame, n in found.most_common(20):  # samples / py-spy's rate = seconds
            print(f"{100 * n / max(total, 1):5.1f}% {n:7,}  {frame[:120]}")
        return
    steps, tops, total = shares(lines)
    print(f"{total:,} samples")
    for name, n in steps.most_common():
        print(f"{100 * n / max(total, 1):5.1f}%  {name}")
    print("frames most often on top:")
    for frame, n in tops.most_common(12):
        print(f"{100 * n / max(total, 1):5.1f}%  {frame[:120]}")


if __name__ == "__main__":
    main()
