"""A pass that finds nothing new lands its empty run without importing Beam (the scheduled
runs of an idle stream), and one with something to read runs the pipeline. Each case runs
in a new interpreter, on a warehouse of its own, with the plan given (no broker)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PASS = """
import sys
from unittest import mock
from finradar.settings import load_settings
from handoff.records import PartitionRange
import pipelines.ingest as ingest

settings = load_settings(var_dir={var!r})
loaded = "apache_beam" in sys.modules
with mock.patch.object(ingest, "plan_ranges", return_value={plan}):
    if {plan}:  # the pipeline itself is replaced: what is checked is that the pass reaches it
        with mock.patch("pipelines.ingest_pipeline.run_pipeline") as run_pipeline:
            ingest.run_once(settings)
        print(loaded, "ran", run_pipeline.call_count)
    else:
        summary = ingest.run_once(settings)
        print(loaded, summary.consumed, "apache_beam" in sys.modules)
"""


def _pass(var: Path, plan: str) -> str:
    code = textwrap.dedent(PASS.format(var=str(var), plan=plan))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_a_pass_with_nothing_new_imports_no_beam(tmp_path: Path) -> None:
    assert _pass(tmp_path / "var", "[]") == "False 0 False"


def test_a_pass_with_something_to_read_runs_the_pipeline(tmp_path: Path) -> None:
    plan = "[PartitionRange('fi.tech_spend.disclosed.v1', 0, 0, 10)]"
    assert _pass(tmp_path / "var", plan) == "False ran 1"
