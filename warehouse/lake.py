"""Attach the DuckLake warehouse: a SQLite catalog plus Parquet files under ``var/``.

Extensions are loaded by path from the installed ``duckdb-extension-*`` packages (DuckDB's
signed binaries), with auto-install and auto-load off, so nothing is downloaded at run time.
The SQLite catalog lets a reader process attach while a writer commits.
"""

from __future__ import annotations

import importlib
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


def connect(settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open an in-memory DuckDB session with the warehouse attached and selected.

    The first writer creates the catalog and data folder. A read-only session needs an
    existing catalog.
    """
    catalog = settings.catalog_path
    data = settings.data_path
    if read_only and not catalog.exists():
        raise FinradarError(f"no warehouse at {catalog}; run an ingest first")
    data.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    load_extensions(con)
    name = settings.warehouse.catalog_name
    options = [f"DATA_PATH '{data}/'", "METADATA_CATALOG 'ducklake_meta'"]
    if read_only:
        options.append("READ_ONLY")
    try:
        con.execute(f"ATTACH 'ducklake:sqlite:{catalog}' AS {name} ({', '.join(options)})")
    except duckdb.Error as exc:
        con.close()
        raise FinradarError(f"cannot attach the warehouse at {catalog}: {exc}") from None
    con.execute(f"USE {name}")
    return con
