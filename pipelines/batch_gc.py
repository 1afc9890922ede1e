"""Python's cycle collector in the processes that work on batches.

A batch holds tens of thousands of decoded events: millions of live objects. Every few
thousand allocations the collector runs, and a full collection walks every live object:
orjson's decode of a 50,000-message batch took 8.5 µs a message with it and 5.0 µs without
(``python -m tests.bench.profile_ingest_steps 50000``). So the collector is paused while a
batch is worked on; reference counting still frees what a batch no longer needs, and the
collector, running again, finds the cycles a batch leaves.

Between batches, in a runner's worker process, CPython's default thresholds made the
collector 7.5% of a worker's CPU in a 1,000,000-event pass: about 5 s of 67 s a worker, in
3,600 collections, 3 s of them full ones walking the worker's modules and GX context.
``tune_worker_collector`` brings that to 3.5%: 2.5-2.7 s of 72-73 s a worker, in 900
collections, most of them while the worker imports its modules. Measured with
``python -m tests.bench.ingest_timeline 1000000 --collector`` (``gc.callbacks`` timing every
collection of each process). Also tried: ``gc.freeze`` of what a
worker holds once GX is set up saved nothing more, nor did a threshold of 50,000.

The read steps pause it for a batch's whole way through the steps fused after them
(``paused_while_consumed``): paused per step only, it ran as each step ended, over every
event of the batch still alive. 1.1-1.3 s a worker instead of 1.7-1.9 s in the same
1,000,000-event pass, run twice each way, alternating.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from pipelines.worker_logging import in_worker_process

T = TypeVar("T")

# a young collection once this many more container objects live than at the last one
# (CPython's default: 700)
WORKER_YOUNG_THRESHOLD = 10_000


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (nested blocks: the outermost decides)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def paused_while_consumed(batches: Iterable[T]) -> Iterator[T]:
    """Each of ``batches``, with the collector paused until the next is asked for.

    A runner calls the steps fused after a read step on each batch it yields before it
    asks for the next (checked, validated, staged): paused for that whole journey, the
    collector next runs once the batch and what was made of it are gone, and walks only
    what outlives them. Paused per step instead, it ran as each step ended, over every
    event of the batch still alive (``python -m tests.bench.ingest_timeline --collector``).
    """
    for batch in batches:
        with collector_paused():
            yield batch
            del batch  # before the collector runs again


def tune_worker_collector() -> None:
    """In a runner's worker process, collect the young generation less often
    (``WORKER_YOUNG_THRESHOLD``); nothing elsewhere (a pass run in ``finradar``'s own
    process, the tests)."""
    if in_worker_process():
        _, middle, old = gc.get_threshold()
        gc.set_threshold(WORKER_YOUNG_THRESHOLD, middle, old)
