"""A pass's progress counts the records its ``_reads`` staging files hold, and says nothing
while no run is staging: before the pass begins, and after it has committed and removed
its staging (a short pass's last line once read "read and checked 0 of 3,805 messages")."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from handoff.records import PartitionRange
from pipelines.progress import StagedProgress

TICK_S = 0.02
PLAN = [PartitionRange("t", 0, 0, 10)]


def _stage_reads(staging: Path, records: list[int]) -> Path:
    run = staging / "20261205T000000-run"
    (run / "tables" / "_reads").mkdir(parents=True)
    table = pa.table({"records": pa.array(records, pa.int64())})
    pq.write_table(table, run / "tables" / "_reads" / "batch.parquet")
    return run


def _progress(staging: Path) -> tuple[StagedProgress, list[tuple[int, int]]]:
    updates: list[tuple[int, int]] = []
    return StagedProgress(staging, lambda *u: updates.append(u), every_s=TICK_S), updates


def test_counts_the_records_a_running_pass_has_staged(tmp_path: Path) -> None:
    _stage_reads(tmp_path, [3, 4])
    progress, updates = _progress(tmp_path)
    progress.plan(PLAN)
    try:
        deadline = time.monotonic() + 10
        while (7, 10) not in updates and time.monotonic() < deadline:
            time.sleep(TICK_S)
    finally:
        progress.close()
    assert (7, 10) in updates


def test_says_nothing_before_a_pass_stages_or_after_its_staging_is_gone(tmp_path: Path) -> None:
    before, said_before = _progress(tmp_path)
    before.plan(PLAN)
    threading.Event().wait(20 * TICK_S)  # the pass has not begun staging
    before.close()
    # a short pass, staged and committed (its staging removed) before the first tick
    shutil.rmtree(_stage_reads(tmp_path, [3, 4]))
    after, said_after = _progress(tmp_path)
    after.plan(PLAN)
    threading.Event().wait(20 * TICK_S)
    after.close()
    assert said_before == said_after == []
