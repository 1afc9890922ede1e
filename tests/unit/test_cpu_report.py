"""The opt-in CPU plugin (``tests.fixtures.cpu_report``, shown in the README) counts a test
file's own CPU and that of the processes its tests waited for."""

from __future__ import annotations

import re

import pytest

from tests.fixtures import cpu_report

pytest_plugins = ["pytester"]

SPENDER = """
import subprocess
import sys


def test_spends_cpu_in_a_process():
    subprocess.run([sys.executable, "-c", "sum(range(2 * 10**7))"], check=True)


def test_spends_cpu_here():
    sum(range(2 * 10**7))
"""


def test_the_costliest_file_is_listed_with_its_processes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cpu_report._DIR_ENV, "")  # the run's own folder is undone afterwards
    pytester.makepyfile(test_spender=SPENDER, test_idle="def test_nothing():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "tests.fixtures.cpu_report", "-p", "no:xdist")
    result.assert_outcomes(passed=3)
    lines = result.outlines
    header = next(i for i, line in enumerate(lines) if "CPU per test file" in line)
    first = re.match(
        r"\s*([\d.]+) s  \(tests\s+([\d.]+) s, processes\s+([\d.]+) s\)  (\S+)", lines[header + 1]
    )
    assert first is not None, lines[header:]
    total, own, processes, file = float(first[1]), float(first[2]), float(first[3]), first[4]
    assert file == "test_spender.py"
    assert own > 0.1 and processes > 0.1 and total == pytest.approx(own + processes, abs=0.2)
    assert any(line.endswith("test_idle.py") for line in lines[header + 2 :])
