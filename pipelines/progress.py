"""Progress of a running pass: messages read and checked so far, out of the plan's total.

Counted from the ``_reads`` staging files the pipeline writes as it goes (each holds the
number of records of one batch), so it needs no hook inside the runner. ``on_update`` is
called every ``every_s`` seconds from a background thread while the pass runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from handoff.records import PartitionRange


class StagedProgress:
    def __init__(
        self, staging: Path, on_update: Callable[[int, int], None], every_s: float = 3.0
    ) -> None:
        self.staging = staging
        self.on_update = on_update
        self.every_s = every_s
        self.total = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def plan(self, plan: list[PartitionRange]) -> None:
        """Start counting against the plan's total (pass as ``run_once``'s ``on_plan``)."""
        self.total = sum(r.size for r in plan)
        if self.total:
            self.thread.start()

    def _loop(self) -> None:
        # lazy: the CLI imports this module at start-up, and most commands never count
        import pyarrow.parquet as pq

        seen: dict[Path, int] = {}
        while not self.stop.wait(self.every_s):
            # no run staging now: the pass has not begun, or has committed and removed it (a
            # count then would miss what it read)
            if not any(self.staging.glob("*/tables")):
                continue
            for path in self.staging.glob("*/tables/_reads/*.parquet"):
                if path not in seen:
                    try:
                        seen[path] = sum(
                            pq.read_table(path, columns=["records"])["records"].to_pylist()
                        )
                    except Exception:  # still being written: count it next time
                        continue
            self.on_update(sum(seen.values()), self.total)

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()
