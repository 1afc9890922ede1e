"""Landlock confinement (``infra.landlock``), in a child process: it lasts for good."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from infra.landlock import abi_version

pytestmark = pytest.mark.skipif(abi_version() == 0, reason="this kernel has no Landlock")

CHILD = """
import sys
from pathlib import Path
from infra.landlock import restrict_files
allowed, writable, outside = map(Path, sys.argv[1:4])
system = [sys.prefix, sys.base_prefix, "/usr", "/lib", "/lib64", "/etc", "/proc", "/dev"]
assert restrict_files([*map(Path, system), Path("infra"), allowed], [writable])
print((allowed / "in.txt").read_text())
with writable.open("a") as fh:
    fh.write("written")
for attempt in (
    lambda: (outside / "secret.txt").read_text(),
    lambda: (allowed / "new.txt").write_text("x"),
    lambda: (allowed / "in.txt").write_text("x"),
    lambda: (allowed / "in.txt").unlink(),
):
    try:
        attempt()
    except PermissionError:
        print("refused")
    else:
        print("ALLOWED")
"""


def test_a_confined_process_reads_what_it_was_given_and_nothing_else(tmp_path: Path) -> None:
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (allowed / "in.txt").write_text("inside")
    (outside / "secret.txt").write_text("secret")
    writable = tmp_path / "history"
    writable.write_text("")
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(allowed), str(writable), str(outside)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.stdout.split() == ["inside", "refused", "refused", "refused", "refused"]
    assert writable.read_text() == "written"
    assert (allowed / "in.txt").read_text() == "inside"
    assert not (allowed / "new.txt").exists()
