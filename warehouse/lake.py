"""Attach the DuckLake warehouse: a SQLite catalog plus Parquet files under ``var/``.

Extensions are loaded by path from the installed ``duckdb-extension-*`` packages (DuckDB's
signed binaries), with auto-install and auto-load off, so nothing is downloaded at run time.
The SQLite catalog lets a reader process attach while a writer commits.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sqlite3
import uuid
from datetime import datetime
from pathlib import Path

import duckdb

from finradar.errors import FinradarError
from finradar.settings import Settings

# module name of the PyPI wheel -> extension name inside it
EXTENSION_PACKAGES = {
    "duckdb_extension_sqlite_scanner": "sqlite_scanner",
    "duckdb_extension_ducklake": "ducklake",
}


def extension_path(package: str, name: str) -> Path:
    module = importlib.import_module(package)
    base = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    path = base / f"{name}.duckdb_extension"
    if not path.is_file():
        raise FinradarError(
            f"{path} is missing: the {package} wheel does not match duckdb {duckdb.__version__}"
        )
    return path


def load_extensions(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    for package, name in EXTENSION_PACKAGES.items():
        con.execute(f"LOAD '{extension_path(package, name)}'")


def one_line(message: object) -> str:
    """A DuckDB error (multi-line, with a caret under the position) as one line."""
    lines = (line.strip() for line in str(message).splitlines())
    kept = [line for line in lines if line and set(line) != {"^"}]
    return " ".join(" ".join(kept).split())


def use_wal(catalog: Path) -> None:
    """Keep the SQLite catalog in write-ahead-log mode (it stays so: the mode lives in the
    file). In SQLite's default rollback mode a reader's lock blocks a writer's commit, so a
    refresh could fail for as long as an ingest kept committing next to it; with WAL, readers
    never block the writer and writers only queue behind each other's short commits.
    Called when the catalog is created."""
    try:
        with contextlib.closing(sqlite3.connect(catalog, timeout=5)) as db:
            if db.execute("pragma journal_mode").fetchone()[0] != "wal":
                db.execute("pragma journal_mode=wal")
    except sqlite3.OperationalError:
        pass  # busy: another process is creating it at this moment, and switches it


def _attach_options(data: Path) -> list[str]:
    return [f"DATA_PATH '{data}/'", "METADATA_CATALOG 'ducklake_meta'"]


def create_catalog(catalog: Path, data: Path) -> None:
    """Create an empty DuckLake catalog at ``catalog`` atomically: it is built under a
    temporary name and hard-linked into place, so whoever finds the catalog file finds a
    DuckLake in it (a reader attaching during the first ingest used to find SQLite's empty
    file and fail). Of two writers creating it at once, the first link wins; the other's
    copy is dropped, never renamed over a catalog someone already attached."""
    catalog.parent.mkdir(parents=True, exist_ok=True)
    fresh = catalog.with_name(f".{catalog.name}.{os.getpid()}.{uuid.uuid4().hex}")
    try:
        # only while no session of this process can have the file open: closing a Python
        # sqlite3 connection drops the locks DuckDB's own SQLite holds on the same file
        use_wal(fresh)
        with contextlib.closing(duckdb.connect()) as con:
            load_extensions(con)
            options = ", ".join(_attach_options(data))
            con.execute(f"ATTACH 'ducklake:sqlite:{fresh}' AS fresh_catalog ({options})")
            con.execute("DETACH fresh_catalog")
        if Path(f"{fresh}-wal").exists() and Path(f"{fresh}-wal").stat().st_size:
            raise FinradarError(f"creating the warehouse at {catalog}: its log was not merged")
        with contextlib.suppress(FileExistsError):
            os.link(fresh, catalog)
    except duckdb.Error as exc:
        raise FinradarError(f"cannot create the warehouse at {catalog}: {one_line(exc)}") from None
    finally:
        for leftover in (fresh, Path(f"{fresh}-wal"), Path(f"{fresh}-shm")):
            leftover.unlink(missing_ok=True)


def connect(
    settings: Settings, *, read_only: bool = False, as_of: int | datetime | None = None
) -> duckdb.DuckDBPyConnection:
    """Open an in-memory DuckDB session with the warehouse attached and selected.

    The first writer creates the catalog and data folder. A read-only session needs an
    existing catalog. ``as_of`` (a snapshot id or a time) attaches the warehouse read-only
    as it was then.
    """
    catalog = settings.catalog_path
    data = settings.data_path
    read_only = read_only or as_of is not None
    if read_only and not catalog.exists():
        raise FinradarError(f"no warehouse at {catalog}; run an ingest first")
    if not read_only and not catalog.exists():
        if data.is_dir() and next(data.rglob("*.parquet"), None) is not None:
            # a new catalog would start again from offset 0 beside the old warehouse's data
            raise FinradarError(
                f"the warehouse catalog {catalog} is missing while {data} holds data files: "
                f"restore the catalog, or move {data} away to start an empty warehouse"
            )
        data.mkdir(parents=True, exist_ok=True)
        create_catalog(catalog, data)
    data.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config=session_config(settings))
    con.execute("set enable_progress_bar = false")  # it is drawn into logs too
    load_extensions(con)
    name = settings.warehouse.catalog_name
    options = _attach_options(data)
    if read_only:
        options.append("READ_ONLY")
    where = str(catalog)
    if isinstance(as_of, int):
        options.append(f"SNAPSHOT_VERSION {as_of}")
        where += f" as of snapshot {as_of}"
    elif as_of is not None:
        options.append(f"SNAPSHOT_TIME '{as_of.isoformat()}'")
        where += f" as of {as_of.isoformat()}"
    try:
        con.execute(f"ATTACH 'ducklake:sqlite:{catalog}' AS {name} ({', '.join(options)})")
    except duckdb.Error as exc:
        con.close()
        raise FinradarError(f"cannot attach the warehouse at {where}: {one_line(exc)}") from None
    con.execute(f"USE {name}")
    return con


def session_config(settings: Settings) -> dict[str, str]:
    """A warehouse session's DuckDB settings: its memory bound, and where it spills."""
    return {
        "memory_limit": settings.warehouse.memory_limit,
        "temp_directory": str(settings.var / "duckdb-tmp"),
        # an insert need not keep its rows' order: it can then stream them, not hold them
        "preserve_insertion_order": "false",
    }


_shared: dict[Path, duckdb.DuckDBPyConnection] = {}


def shared_connection(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A writer session kept open in this process for back-to-back passes (``follow``):
    opening one costs a fifth of a second. Each statement outside a transaction, and each
    transaction, still reads the catalog's newest snapshot, so other writers' commits are
    seen. Closed by ``close_shared_connections``."""
    con = _shared.get(settings.catalog_path)
    if con is None:
        con = _shared[settings.catalog_path] = connect(settings)
    return con


def close_shared_connections() -> None:
    while _shared:
        _shared.popitem()[1].close()


def compact(con: duckdb.DuckDBPyConnection, settings: Settings) -> int:
    """Merge adjacent small data files of every table (each commit writes its own); returns
    how many files were merged. Snapshots stay readable as before."""
    rows = con.execute(
        f"call ducklake_merge_adjacent_files('{settings.warehouse.catalog_name}')"
    ).fetchall()
    return sum(int(r[2]) for r in rows)
