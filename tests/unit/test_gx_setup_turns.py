"""The worker processes of a pass take turns setting up their GX project (a lock), but
import GX before their turn: the import takes seconds and touches no project, and a worker
that imported it while holding the lock kept the other idle that long (one second of a
core or more in every pass). Runs in a new interpreter, where GX is not yet imported."""

from __future__ import annotations

from pathlib import Path

from tests.unit.new_interpreter import run_python

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
    out = run_python(SETUP.format(root=str(tmp_path / "gx")), timeout=300)
    assert out.splitlines()[-1] == "[True]"


INSTALLS = """
import threading
from pipelines import gx_memo

start = threading.Barrier(6)

def install():
    start.wait()
    gx_memo.install()

threads = [threading.Thread(target=install) for _ in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
from great_expectations.core.id_dict import IDDict
from great_expectations.expectations.expectation import Expectation

def wrapped(function):
    # what the memo's wrapper calls: GX's own function, or another wrapper of the memo
    return [c.cell_contents.__qualname__ for c in function.__closure__
            if callable(c.cell_contents)]

print(wrapped(Expectation.configuration.fget), wrapped(IDDict.to_id))
"""


def test_threads_installing_the_memo_at_once_wrap_gx_once() -> None:
    """A worker's threads set up their runners at once (GX's import is outside the project
    lock): the memo wraps GX's functions once, not its own wrappers again."""
    assert run_python(INSTALLS, timeout=300).splitlines()[-1] == (
        "['Expectation.configuration'] ['IDDict.to_id']"
    )
