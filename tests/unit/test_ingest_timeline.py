"""The ingest timeline's arithmetic: CPU share per second and the phases of a pass."""

from __future__ import annotations

from tests.bench.ingest_timeline import WORKER, per_second, phases
from tests.bench.process_tree import ProcessSample, TreeRun

GIB = 1024**3


def _run() -> TreeRun:
    """A command starting alone for 2 s, two workers busy for 3 s, then 2 s of commit."""
    timeline = []
    for second in range(8):
        command_cpu = 0.1 * second + (second - 5) * (second > 5)
        samples = [ProcessSample(1, "command", command_cpu, GIB // 4)]
        if 2 <= second <= 5:
            busy = float(second - 2)
            samples += [
                ProcessSample(2, WORKER, busy, GIB // 2),
                ProcessSample(3, WORKER, busy * 0.9, GIB // 2),
            ]
        timeline.append((float(second), samples))
    return TreeRun(7.5, 0.0, GIB, 0, "", [], timeline)


def test_each_second_gives_each_process_its_share_of_a_core():
    rows = dict(per_second(_run()))
    assert [round(cpu, 2) for _, cpu, _ in rows[4]] == [0.1, 1.0, 0.9]
    assert rows[4][1][2] == 0.5  # GiB
    assert [r for r, _, _ in rows[7]] == ["command"] and round(rows[7][0][1], 2) == 1.1


def test_phases_split_the_pass_at_the_busy_workers():
    assert phases(per_second(_run()), 7.5) == (
        "starting 3 s, workers busy 3 s, after the workers 1.5 s (the commit)"
    )
