"""The cycle collector in the processes that work on batches (``pipelines.batch_gc``)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

from pipelines.batch_gc import WORKER_YOUNG_THRESHOLD, collector_paused, tune_worker_collector

# a process that is, to ``in_worker_process``, a runner's SDK worker, setting up the read
# step (the first of its bundles), then telling its collector's thresholds
AS_A_WORKER = """
import gc, json, sys, types
from pipelines.worker_logging import SDK_WORKER_MAIN
sys.modules["__main__"].__spec__ = types.SimpleNamespace(name=SDK_WORKER_MAIN)
from finradar.settings import KafkaSettings
from pipelines.kafka_source import ReadRangeFn
before = gc.get_threshold()
ReadRangeFn(KafkaSettings(), 1000, 1 << 20, shared=True).setup()
print(json.dumps({"before": before, "after": gc.get_threshold()}))
"""


def test_a_worker_collects_its_young_generation_less_often() -> None:
    run = subprocess.run(
        [sys.executable, "-c", AS_A_WORKER], capture_output=True, text=True, check=True
    )
    seen = json.loads(run.stdout)
    assert seen["before"][0] < WORKER_YOUNG_THRESHOLD
    assert seen["after"] == [WORKER_YOUNG_THRESHOLD, *seen["before"][1:]]


def test_any_other_process_keeps_its_collector() -> None:
    threshold = gc.get_threshold()
    tune_worker_collector()  # this test process is not a worker
    assert gc.get_threshold() == threshold


def test_the_collector_is_paused_inside_a_block_and_runs_again_after_it() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outermost block decides
    assert gc.isenabled()
