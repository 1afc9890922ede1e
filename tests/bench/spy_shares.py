"""Where a Beam worker's CPU goes, from a py-spy sample of it: shares by ingest step.

Record one worker of a running ``finradar ingest --once`` (py-spy is not in the lock:
``pip install --target <dir> py-spy``), then group its stacks:

    py-spy record -p <worker pid> -d 30 -r 50 -f raw --nonblocking -o worker.txt
    python -m tests.bench.spy_shares worker.txt

Each stack counts for the first step it matches, in the order of ``STEPS`` (kafka-python's
frames inside Beam's count as kafka-python); then the frames most often on top.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable

# (step, whether a stack's frames, joined by ";", belong to it)
STEPS: list[tuple[str, Callable[[str], bool]]] = [
    ("kafka-python, its IO thread", lambda s: "run_forever" in s),
    ("kafka-python, read loop", lambda s: "kafka/" in s.rsplit(";", 1)[-1] or "kafka/record" in s),
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


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as raw:
        steps, tops, total = shares(raw.readlines())
    print(f"{total:,} samples")
    for name, n in steps.most_common():
        print(f"{100 * n / max(total, 1):5.1f}%  {name}")
    print("frames most often on top:")
    for frame, n in tops.most_common(12):
        print(f"{100 * n / max(total, 1):5.1f}%  {frame[:120]}")


if __name__ == "__main__":
    main()
