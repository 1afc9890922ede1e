"""The commit replay's arithmetic: statements labelled alike across copies, each at its
best over the replays, and the commit's peak memory seen while it runs."""

from __future__ import annotations

import time

import pytest

from tests.bench.commit_replay import _peak_rss, _rss, best_of, label


def test_a_label_is_one_line_without_the_staged_paths():
    sql = """
        insert into raw.x by name
        select s.* from read_parquet(['/tmp/a/replay/1.parquet', '/tmp/a/replay/2.parquet']) as s
    """
    assert label(sql) == "insert into raw.x by name select s.* from read_parquet([…]) as s"
    assert label("select  1\n\n  from t", width=8) == "select 1"


def test_each_statement_is_taken_at_its_fastest():
    first = [("create", 0.5), ("insert", 2.0), ("insert", 1.0)]
    second = [("create", 0.7), ("insert", 1.5), ("insert", 1.2)]
    assert best_of([first, second]) == [("create", 0.5), ("insert", 1.5), ("insert", 1.0)]


def test_replays_that_differ_are_refused():
    with pytest.raises(ValueError, match="numbers of statements"):
        best_of([[("a", 1.0)], [("a", 1.0), ("b", 1.0)]])
    with pytest.raises(ValueError, match="different statements"):
        best_of([[("a", 1.0)], [("b", 1.0)]])


def test_the_peak_is_seen_while_the_block_runs():
    mib = 1024 * 1024
    peak = [0]
    with _peak_rss(peak, interval=0.01):
        before = _rss()
        held = bytearray(200 * mib)  # zero-filled: every page resident
        # until the watcher has seen it (on a loaded machine it may wait for the GIL),
        # at most 30 s: without the watcher the peak never gets there
        deadline = time.monotonic() + 30
        while peak[0] < before + 150 * mib and time.monotonic() < deadline:
            time.sleep(0.01)
        del held  # gone before the block ends: only the sampling saw it
    assert peak[0] >= before + 150 * mib
