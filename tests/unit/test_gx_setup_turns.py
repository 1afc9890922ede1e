"""The worker processes of a pass take turns setting up their GX project (a lock), but
import GX before their turn: the import takes seconds and touches no project, and a worker
that imported it while holding the lock kept the other idle that long (one second of a
core or more in every pass). Runs in a new interpreter, where GX is not yet imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SETUP = """
import sys
from contextlib import contextmanager
from pathlib import Path
import pipelines.gx_runner as gx_runner

seen = []
real_lock = gx_runner._project_lock

@contextmanager
def recording_lock(project_root):
    seen.append("great_expectations" in sys.modules)
    with real_lock(project_root):
        yield

gx_runner._project_lock = recording_lock
runner = gx_runner.shared_runner(Path({root!r}))
assert runner.project_root is not None
print(seen)
"""


def test_gx_is_imported_before_the_project_lock_is_taken(tmp_path: Path) -> None:
    code = textwrap.dedent(SETUP.format(root=str(tmp_path / "gx")))
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[True]"
