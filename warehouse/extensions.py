"""The warehouse's DuckDB extensions: loaded by path from their PyPI wheels (DuckDB's signed
binaries), nothing downloaded or auto-loaded, each file's signature checked by DuckDB once
per process.

DuckDB checks an extension's signature whenever a database loads it, by hashing the whole
file: about 80 ms for each of ``ducklake`` and ``sqlite_scanner`` (33 MiB each), in every
session. A process opens many sessions (a refresh, ``follow``'s passes, the tests' reads),
and that check was most of opening one: ``/usr/bin/time python -m pytest
tests/unit/test_warehouse_models.py`` took 94 s of user CPU with it in every session and
62 s with it once per process (2026-12-03). So the first
session of a process that loads a file checks its signature as before, and records the
file's identity (device, inode, size, modification and change times); a later session
whose every file is still the one recorded skips the check (``allow_unsigned_extensions``).
A file replaced or written since has another identity, and is checked again; one that
changes while a session that skips the check loads it is refused.

A read-only session that skips the check cannot load anything else: it turns external
access off before it runs a statement of the caller's (``warehouse.lake.read_only_session``).
"""

from __future__ import annotations

import importlib
import os
import threading
from pathlib import Path

import duckdb

from finradar.errors import FinradarError
from finradar.settings import Settings

# module name of the PyPI wheel -> extension name inside it
EXTENSION_PACKAGES = {
    "duckdb_extension_sqlite_scanner": "sqlite_scanner",
    "duckdb_extension_ducklake": "ducklake",
}
# a shared warehouse's: a Postgres catalog, data in an S3-compatible store
POSTGRES_EXTENSION = ("duckdb_extension_postgres_scanner", "postgres_scanner")
OBJECT_STORE_EXTENSION = ("duckdb_extension_httpfs", "httpfs")

Identity = tuple[int, int, int, int, int]
_checked: dict[Path, Identity] = {}
_checked_lock = threading.Lock()


def extension_path(package: str, name: str) -> Path:
    module = importlib.import_module(package)
    base = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    path = base / f"{name}.duckdb_extension"
    if not path.is_file():
        raise FinradarError(
            f"{path} is missing: the {package} wheel does not match duckdb {duckdb.__version__}"
        )
    return path


def extension_files(settings: Settings | None = None) -> list[Path]:
    """The extension files a session loads: DuckLake's, and those a shared warehouse of
    ``settings`` needs (Postgres, S3)."""
    packages = list(EXTENSION_PACKAGES.items())
    if settings is not None and settings.catalog_is_postgres:
        packages.append(POSTGRES_EXTENSION)
    if settings is not None and settings.data_in_object_store:
        packages.append(OBJECT_STORE_EXTENSION)
    return [extension_path(package, name) for package, name in packages]


def extension_config(files: list[Path]) -> dict[str, str]:
    """The DuckDB settings at start of a session that will load ``files``: it skips their
    signature check only if this process's sessions checked every one of them as it is now."""
    checked = all(path in _checked and _identity(path) == _checked[path] for path in files)
    return {
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
        "allow_unsigned_extensions": str(checked).lower(),
    }


def load_extension_files(con: duckdb.DuckDBPyConnection, files: list[Path]) -> None:
    """Load ``files`` in ``con`` (a session started with ``extension_config(files)``)."""
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    setting = con.execute("select current_setting('allow_unsigned_extensions')").fetchone()
    skips_check = bool(setting and setting[0])
    for path in files:
        before = _identity(path)
        if skips_check and before != _checked.get(path):
            raise FinradarError(f"{path} changed while the warehouse was opened: run it again")
        con.execute(f"LOAD '{path}'")
        after = _identity(path)
        if before != after:
            raise FinradarError(f"{path} changed while DuckDB loaded it: run it again")
        if not skips_check:
            with _checked_lock:
                _checked[path] = after


def load_extensions(con: duckdb.DuckDBPyConnection, settings: Settings | None = None) -> None:
    """Load DuckLake's extensions, and those a shared warehouse of ``settings`` needs."""
    load_extension_files(con, extension_files(settings))


def session_extension_config(settings: Settings | None = None) -> dict[str, str]:
    """``extension_config`` of the files ``load_extensions(con, settings)`` loads."""
    return extension_config(extension_files(settings))


def _identity(path: Path) -> Identity | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
