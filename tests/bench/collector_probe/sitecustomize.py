"""Times every cycle collection of the process it is loaded in (put this folder first on
``PYTHONPATH``): ``tests.bench.ingest_timeline --collector`` does, and prints the totals
each process wrote to ``$FINRADAR_COLLECTOR_TIMES``. Written every few seconds, as a Beam
worker may end without running ``atexit``."""

from __future__ import annotations

import atexit
import gc
import os
import sys
import time

_OUT = os.environ.get("FINRADAR_COLLECTOR_TIMES")
_started = [0.0]
_totals = {"seconds": 0.0, "collections": 0, "full_seconds": 0.0, "written": 0.0}


def _write() -> None:
    if _OUT:
        line = (
            f"{' '.join(sys.argv)[-60:]}: collector {_totals['seconds']:.2f} s in "
            f"{_totals['collections']} collections (full {_totals['full_seconds']:.2f} s), "
            f"CPU {time.process_time():.1f} s\n"
        )
        with open(os.path.join(_OUT, str(os.getpid())), "w") as f:
            f.write(line)


def _timed(phase: str, info: dict) -> None:
    now = time.perf_counter()
    if phase == "start":
        _started[0] = now
        return
    spent = now - _started[0]
    _totals["seconds"] += spent
    _totals["collections"] += 1
    if info.get("generation") == 2:
        _totals["full_seconds"] += spent
    if now - _totals["written"] > 3:
        _totals["written"] = now
        _write()


if _OUT:
    gc.callbacks.append(_timed)
    atexit.register(_write)
