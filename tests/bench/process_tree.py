"""Run a command and measure its whole process tree: wall time, CPU time of every process
in it (the runner's worker processes included), peak resident memory summed over the tree.

Read from ``/proc`` (Linux), sampled every ``interval`` seconds: a peak between two samples
can be missed, so the figure is a lower bound of the true peak.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class TreeRun:
    seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    returncode: int
    stdout: str

    @property
    def cpu_share(self) -> float:
        """CPU time over wall time and the machine's cores (1.0 = every core busy)."""
        return self.cpu_seconds / self.seconds / (os.cpu_count() or 1) if self.seconds else 0.0


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _tree_rss(root: int) -> int:
    tree = _children()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def run_tree(
    command: list[str], env: dict[str, str] | None = None, interval: float = 0.25
) -> TreeRun:
    """Run ``command`` to its end; its figures."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss(process.pid))
        time.sleep(interval)
    stdout = process.stdout.read() if process.stdout else ""
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return TreeRun(seconds, cpu, peak, process.returncode, stdout)
