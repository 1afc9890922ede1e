"""An extension file's signature is checked by DuckDB once per process, and again whenever
the file is not the one checked (``warehouse.extensions``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from finradar.errors import FinradarError
from finradar.settings import Settings
from warehouse import extensions
from warehouse.extensions import (
    OBJECT_STORE_EXTENSION,
    extension_config,
    extension_files,
    extension_path,
    load_extension_files,
)
from warehouse.lake import connect


@pytest.fixture()
def copied(tmp_path: Path) -> Path:
    """A copy of DuckLake's signed extension file, unknown to this process's sessions."""
    source = next(p for p in extension_files() if p.name.startswith("ducklake"))
    return Path(shutil.copy2(source, tmp_path / source.name))


def _session(files: list[Path]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config=extension_config(files))
    load_extension_files(con, files)
    return con


def _skips_check(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("select current_setting('allow_unsigned_extensions')").fetchone()[0]


def test_the_first_session_checks_the_signature_later_ones_do_not(copied: Path) -> None:
    assert extension_config([copied])["allow_unsigned_extensions"] == "false"
    first = _session([copied])
    assert not _skips_check(first)
    second = _session([copied])
    assert _skips_check(second)
    assert second.execute(
        "select loaded from duckdb_extensions() where extension_name = 'ducklake'"
    ).fetchone() == (True,)


def test_a_session_that_skips_the_check_refuses_a_file_changed_meanwhile(copied: Path) -> None:
    _session([copied]).close()
    con = duckdb.connect(config=extension_config([copied]))
    assert _skips_check(con)
    os.utime(copied)
    with pytest.raises(FinradarError, match="changed"):
        load_extension_files(con, [copied])


def _unsigned_copy(source: Path, folder: Path) -> Path:
    """A copy of ``source`` with one byte changed: its signature no longer holds."""
    copy = Path(shutil.copy2(source, folder / source.name))
    with copy.open("r+b") as f:
        f.seek(os.path.getsize(copy) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    return copy


def test_a_file_written_since_its_check_is_checked_again(copied: Path) -> None:
    _session([copied]).close()
    os.utime(copied)  # any write changes the file's times
    assert extension_config([copied])["allow_unsigned_extensions"] == "false"
    elsewhere = copied.parent / "elsewhere"
    elsewhere.mkdir()
    os.replace(_unsigned_copy(copied, elsewhere), copied)  # then replaced by another file
    with pytest.raises(duckdb.Error, match="signature"):
        _session([copied])
    assert extension_config([copied])["allow_unsigned_extensions"] == "false"


def test_a_read_only_session_that_skipped_the_check_loads_nothing_else(
    tmp_settings: Settings, tmp_path: Path
) -> None:
    connect(tmp_settings).close()  # creates the warehouse; its extensions are checked
    assert all(path in extensions._checked for path in extension_files())
    con = connect(tmp_settings, read_only=True)
    assert _skips_check(con)
    # an extension the session has not loaded, unsigned: only the lock-down refuses it
    unsigned = _unsigned_copy(extension_path(*OBJECT_STORE_EXTENSION), tmp_path)
    with pytest.raises(duckdb.Error, match="Loading external extensions is disabled"):
        con.execute(f"load '{unsigned}'")
    with pytest.raises(duckdb.Error, match="locked"):
        con.execute("set allow_unsigned_extensions = false")
