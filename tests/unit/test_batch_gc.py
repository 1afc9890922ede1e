"""The cycle collector in the processes that work on batches (``pipelines.batch_gc``)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import weakref
from collections.abc import Iterator

from pipelines.batch_gc import (
    WORKER_YOUNG_THRESHOLD,
    collector_paused,
    paused_while_consumed,
    tune_worker_collector,
)

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


class _Batch(list[int]):
    """A batch that a weak reference can follow."""


def test_the_collector_is_paused_while_a_batch_is_consumed_and_runs_once_it_is_gone() -> None:
    made: list[weakref.ref[_Batch]] = []
    seen_by_source: list[tuple[bool, bool]] = []  # collector on, previous batch gone

    def source() -> Iterator[_Batch]:
        for n in range(3):
            if made:
                seen_by_source.append((gc.isenabled(), made[-1]() is None))
            batch = _Batch([n])
            made.append(weakref.ref(batch))
            yield batch
            del batch

    consumed = []
    for batch in paused_while_consumed(source()):
        assert not gc.isenabled()  # the steps downstream run paused
        consumed.append(list(batch))
        del batch
    assert consumed == [[0], [1], [2]]
    # asked for the next batch, the source finds the collector running again and the
    # previous batch freed (not held until the collector could find it)
    assert seen_by_source == [(True, True), (True, True)]
    assert gc.isenabled()


def test_a_consumer_that_stops_early_leaves_the_collector_running() -> None:
    batches = paused_while_consumed(iter([_Batch([1]), _Batch([2])]))
    next(batches)
    assert not gc.isenabled()
    batches.close()
    assert gc.isenabled()
