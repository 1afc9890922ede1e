"""Run test code in a new interpreter: for what a process does before anything else loads
(this one may have loaded GX, Beam or SciPy already)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str, timeout: float = 120) -> str:
    """The standard output of ``code`` (dedented) run by this Python in a new process, which
    must exit 0 (else the test fails with the end of its standard error)."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()
