"""The process-tree measure: a watched process beside the tree is in its timeline only."""

from __future__ import annotations

import os
import sys

from tests.bench.process_tree import run_tree


def test_a_watched_process_is_sampled_beside_the_tree_and_kept_out_of_its_peak():
    run = run_tree(
        [sys.executable, "-c", "import time; time.sleep(0.6)"],
        interval=0.05,
        watch={os.getpid(): "watcher"},
    )
    assert run.returncode == 0
    roles = [{s.role for s in samples} for _, samples in run.timeline]
    assert roles and all(r == {"command", "watcher"} for r in roles)
    assert all(
        s.pid == os.getpid() for _, samples in run.timeline for s in samples if s.role == "watcher"
    )
    # the tree's peak and what held it leave the watched process out
    tree_sums = [sum(s.rss for s in samples if s.role != "watcher") for _, samples in run.timeline]
    assert run.peak_rss_bytes == max(tree_sums)
    assert [role for role, _ in run.at_peak] == ["command"]
