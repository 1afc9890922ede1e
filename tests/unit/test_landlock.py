"""Landlock confinement (``infra.landlock``), in a child process: it lasts for good."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from infra.landlock import abi_version

NO_LANDLOCK = pytest.mark.skipif(abi_version() == 0, reason="this kernel has no Landlock")

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


@NO_LANDLOCK
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


def test_without_landlock_finradar_sql_refuses_unless_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from finradar.commands import sql_sandbox
    from finradar.errors import FinradarError
    from finradar.settings import load_settings

    monkeypatch.setattr(sql_sandbox, "abi_version", lambda: 0)
    settings = load_settings(var_dir=tmp_path / "var")
    with pytest.raises(FinradarError, match="cannot confine itself"):
        sql_sandbox.confine(settings)
    allowed = load_settings(var_dir=tmp_path / "var", warehouse={"allow_unconfined_sql": True})
    assert sql_sandbox.confine(allowed) is None  # and nothing was confined: this test goes on
    assert (tmp_path / "x").write_text("still writable")
