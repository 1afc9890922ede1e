"""Run a command and measure its whole process tree: wall time, CPU time of every process
in it (the runner's worker processes included), peak resident memory summed over the tree,
and what each process held at that peak. Processes outside the tree that the command
works with (the Kafka broker) can be watched beside it: their CPU is in the timeline,
not in the tree's figures.

Read from ``/proc`` (Linux), sampled every ``interval`` seconds: a peak between two samples
can be missed, so the figure is a lower bound of the true peak.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.worker_logging import SDK_WORKER_MAIN
from pipelines.worker_processes import LAUNCH_MODULE, SERVER_MODULE

PAGE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class TreeRun:
    seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    returncode: int
    stdout: str
    # each process's resident memory at the tree's peak, largest first: (role, bytes)
    at_peak: list[tuple[str, int]]
    # (seconds since the start, every process then), one entry per sample
    timeline: list[tuple[float, list[ProcessSample]]] = field(default_factory=list)

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


@dataclass
class ProcessSample:
    """One process of a tree at one moment."""

    pid: int
    role: str
    cpu_seconds: float  # since it started (user and system)
    rss: int


def tree_sample(root: int) -> list[ProcessSample]:
    """Each process of the tree under ``root`` now: role, CPU time so far, resident bytes."""
    tree = _children()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        sample = process_sample(pid, "command" if pid == root else None)
        if sample is not None:
            found.append(sample)
    return found


def process_sample(pid: int, role: str | None = None) -> ProcessSample | None:
    """Process ``pid`` now (None if it is gone), in ``role`` if given, else the role its
    command line gives it."""
    try:
        rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError, ValueError):
        return None
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return ProcessSample(pid, role or _role(command), cpu, rss)


def _role(command: list[bytes]) -> str:
    if SDK_WORKER_MAIN.encode() in command or SERVER_MODULE.encode() in command:
        return "Beam worker"  # (a warm worker runs as the worker server it was forked from)
    if LAUNCH_MODULE.encode() in command:
        return "worker launcher"
    joined = b" ".join(command)
    if b"multiprocessing.spawn" in joined:  # follow's validators (``pipelines.gx_pool``)
        return "pool process"
    if b"prefect server start" in joined:
        return "Prefect server"
    if len(command) > 1 and Path(command[1].decode(errors="replace")).name == "finradar":
        return "finradar"
    return Path(command[0].decode(errors="replace")).name or "process"


def run_tree(
    command: list[str],
    env: dict[str, str] | None = None,
    interval: float = 0.25,
    watch: dict[int, str] | None = None,
) -> TreeRun:
    """Run ``command`` to its end; its figures, and the tree sampled every ``interval``.
    ``watch``: processes outside the tree (by pid, with their role) sampled beside it, in
    the timeline only."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    peak, at_peak = 0, []
    timeline: list[tuple[float, list[ProcessSample]]] = []
    while process.poll() is None:
        samples = tree_sample(process.pid)
        watched = [process_sample(pid, role) for pid, role in (watch or {}).items()]
        timeline.append(
            (time.perf_counter() - started, samples + [s for s in watched if s is not None])
        )
        processes = [(s.role, s.rss) for s in samples]
        if sum(rss for _, rss in processes) > peak:
            peak = sum(rss for _, rss in processes)
            at_peak = sorted((p for p in processes if p[1]), key=lambda p: -p[1])
        time.sleep(interval)
    stdout = process.stdout.read() if process.stdout else ""
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return TreeRun(seconds, cpu, peak, process.returncode, stdout, at_peak, timeline)
