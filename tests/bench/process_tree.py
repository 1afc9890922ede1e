"""Run a command and measure its whole process tree: wall time, CPU time of every process
in it (the runner's worker processes included), peak resident memory summed over the tree,
and what each process held at that peak.

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

from pipelines.worker_logging import SDK_WORKER_MAIN

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class TreeRun:
    seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    returncode: int
    stdout: str
    # each process's resident memory at the tree's peak, largest first: (role, bytes)
    at_peak: list[tuple[str, int]]

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


def _tree_rss(root: int) -> list[tuple[str, int]]:
    """Each process of the tree under ``root``: its role and resident bytes."""
    tree = _children()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        try:
            rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        found.append((_role(pid == root, command), rss))
    return found


def _role(is_root: bool, command: list[bytes]) -> str:
    if is_root:
        return "command"
    if SDK_WORKER_MAIN.encode() in command:
        return "Beam worker"
    return Path(command[0].decode(errors="replace")).name or "process"


def run_tree(
    command: list[str], env: dict[str, str] | None = None, interval: float = 0.25
) -> TreeRun:
    """Run ``command`` to its end; its figures."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    peak, at_peak = 0, []
    while process.poll() is None:
        processes = _tree_rss(process.pid)
        if sum(rss for _, rss in processes) > peak:
            peak = sum(rss for _, rss in processes)
            at_peak = sorted((p for p in processes if p[1]), key=lambda p: -p[1])
        time.sleep(interval)
    stdout = process.stdout.read() if process.stdout else ""
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return TreeRun(seconds, cpu, peak, process.returncode, stdout, at_peak)
