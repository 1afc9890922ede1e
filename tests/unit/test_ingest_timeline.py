"""The ingest timeline's arithmetic: CPU share per second and the phases of a pass."""

from __future__ import annotations

import os

from tests.bench.ingest_timeline import WORKER, busy_shares, per_second, phases, process_peaks
from tests.bench.process_tree import ProcessSample, TreeRun, _role

GIB = 1024**3


def _run() -> TreeRun:
    """A command starting alone for 2 s, two workers busy for 3 s, then 2 s of commit;
    the broker it reads beside it throughout."""
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
        samples.append(ProcessSample(4, "broker", 0.2 * second, GIB // 2))  # watched beside
        timeline.append((float(second), samples))
    return TreeRun(7.5, 0.0, GIB, 0, "", [], timeline)


def test_each_second_gives_each_process_its_share_of_a_core():
    rows = dict(per_second(_run()))
    assert [round(cpu, 2) for _, cpu, _ in rows[4]] == [0.1, 1.0, 0.9, 0.2]
    assert rows[4][1][2] == 0.5  # GiB
    assert [r for r, _, _ in rows[7]] == ["command", "broker"]
    assert round(rows[7][0][1], 2) == 1.1


def test_phases_split_the_pass_at_the_busy_workers():
    assert phases(per_second(_run()), 7.5) == (
        "starting 3 s, workers busy 3 s, after the workers 1.5 s (the commit)"
    )


def test_busy_shares_average_each_process_over_the_busy_seconds_beside_the_cores():
    cores = 100 * (os.cpu_count() or 1)
    # busy from second 3 to 6: each worker's CPU from its first sample in them to its
    # last (second 5: it ended), over the 3 seconds; the command's 0.1 a second and 1.0
    # more in second 6; the broker, watched beside the tree, 0.2 a second
    run = _run()
    assert busy_shares(run, per_second(run)) == (
        "while the workers were busy: command 43%, Beam worker 67%, Beam worker 60%, "
        f"broker 20%; 190% of {cores}%"
    )


def test_process_peaks_give_each_role_its_largest_process():
    run = _run()
    run.timeline[6][1][0] = ProcessSample(1, "command", 0.7, GIB)  # the commit's peak
    assert process_peaks(per_second(run)) == (
        "peak of one process: command 1.00 GiB, broker 0.50 GiB, Beam worker 0.50 GiB"
    )


def test_roles_of_the_processes_a_pass_or_follow_starts():
    python = b"/work/.venv/bin/python"
    assert _role([python, b"/work/.venv/bin/finradar", b"follow"]) == "finradar"
    assert _role([python, b"-m", b"prefect", b"server", b"start"]) == "Prefect server"
    spawn = [python, b"-B", b"-c", b"from multiprocessing.spawn import spawn_main; spawn_main()"]
    assert _role(spawn) == "pool process"
    assert _role([python, b"-c", b"print()"]) == "python"
    # a pass's workers: started the plain way, or forked from the worker server
    sdk = b"apache_beam.runners.worker.sdk_worker_main"
    assert _role([python, b"-m", sdk]) == "Beam worker"
    assert _role([python, b"-m", b"pipelines.worker_server", b"/tmp/s", b"2"]) == "Beam worker"
    launch = [python, b"-m", b"pipelines.worker_launch", b"/tmp/s", b"60.0", b"1"]
    assert _role(launch) == "worker launcher"
