"""DuckLake on a SQLite catalog: multi-table transactions are atomic to another process."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from warehouse.lake import connect

pytestmark = pytest.mark.integration

WORKER = Path(__file__).with_name("lake_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def test_extensions_load_from_installed_packages_only(tmp_settings) -> None:
    con = connect(tmp_settings)
    loaded = dict(
        con.execute(
            "SELECT extension_name, install_mode FROM duckdb_extensions() WHERE loaded"
        ).fetchall()
    )
    assert "ducklake" in loaded and "sqlite_scanner" in loaded
    assert con.execute("SELECT current_setting('autoinstall_known_extensions')").fetchone() == (
        False,
    )
    assert tmp_settings.catalog_path.exists()


def test_warehouse_threads_reach_writer_and_reader_sessions(tmp_path: Path) -> None:
    """``warehouse.threads`` sets each session's DuckDB threads; 0 leaves DuckDB's default."""
    import duckdb

    from finradar.settings import load_settings

    default = duckdb.connect().execute("select current_setting('threads')").fetchone()[0]
    for threads, expected in ((1, 1), (3, 3), (0, default)):
        settings = load_settings(var_dir=tmp_path / "var", warehouse={"threads": threads})
        for read_only in (False, True):
            con = connect(settings, read_only=read_only)
            try:
                (value,) = con.execute("select current_setting('threads')").fetchone()
            finally:
                con.close()
            assert value == expected, (threads, read_only)


def test_rollback_leaves_no_trace(tmp_settings) -> None:
    con = connect(tmp_settings)
    con.execute("CREATE SCHEMA raw; CREATE TABLE raw.t (x INTEGER)")
    con.execute("BEGIN")
    con.execute("INSERT INTO raw.t SELECT range FROM range(100)")
    con.execute("ROLLBACK")
    assert con.execute("SELECT count(*) FROM raw.t").fetchone() == (0,)
    assert list(tmp_settings.data_path.rglob("*.parquet")) == []


def test_reader_process_sees_both_tables_or_neither(tmp_settings) -> None:
    transactions, rows = 40, 500
    con = connect(tmp_settings)
    con.execute("CREATE SCHEMA raw; CREATE SCHEMA ops")
    con.execute("CREATE TABLE raw.events (txn INTEGER, n BIGINT)")
    con.execute("CREATE TABLE ops.offsets (txn INTEGER, next_offset BIGINT)")
    con.close()

    var = str(tmp_settings.var)
    stop = tmp_settings.var / "writer-done"
    reader = subprocess.Popen(
        [sys.executable, str(WORKER), "read", var, str(stop)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    writer = subprocess.run(
        [sys.executable, str(WORKER), "write", var, str(transactions), str(rows)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    stop.touch()
    out, _ = reader.communicate(timeout=120)
    assert writer.returncode == 0, writer.stderr
    assert reader.returncode == 0

    observations = json.loads(out)
    for events, offset_rows, top in observations:
        assert events == offset_rows * rows == top  # data and offsets agree in every snapshot
    distinct_states = {tuple(o) for o in observations}
    assert len(distinct_states) > 2, "the reader must have watched the writer commit"
    assert observations[-1] == [transactions * rows, transactions, transactions * rows]


def test_contract_ddl_creates_the_raw_tables(tmp_settings) -> None:
    from contracts.export.arrow import raw_schemas
    from contracts.export.ddl import duckdb_type, raw_ddl

    con = connect(tmp_settings)
    con.execute("CREATE SCHEMA raw")
    con.execute(raw_ddl())
    for table, schema in raw_schemas().items():
        described = con.execute(f"DESCRIBE raw.{table}").fetchall()
        got = [
            (
                name,
                kind.lower()
                .replace("timestamp with time zone", "timestamptz")
                .replace(" ", "")
                .replace('"', ""),
            )
            for name, kind, *_ in described
        ]
        want = [(f.name, duckdb_type(f.type).replace(" ", "")) for f in schema]
        assert got == want, table
        empty = schema.empty_table()  # noqa: F841 - read by the SQL below
        con.execute(f"INSERT INTO raw.{table} SELECT * FROM empty")


def test_the_catalog_is_kept_in_wal_mode(tmp_settings) -> None:
    """Readers must not block a writer's commit (SQLite's default rollback journal does)."""
    import sqlite3

    connect(tmp_settings).close()
    with sqlite3.connect(tmp_settings.catalog_path) as db:
        assert db.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_a_reader_that_finds_the_catalog_can_attach_it(tmp_settings) -> None:
    """The first writer creates the catalog while a reader polls for it (an analyst's session
    during the first ingest): the file must never be visible before it holds a DuckLake."""
    import sqlite3

    create = (
        "from finradar.settings import load_settings; from warehouse.lake import connect; "
        f"connect(load_settings(var_dir={str(tmp_settings.var)!r})).close()"
    )
    catalog = tmp_settings.catalog_path
    writer = subprocess.Popen([sys.executable, "-c", create], cwd=ROOT)
    seen_tables = []
    # polled through SQLite directly (microseconds a look, where attaching takes a tenth of
    # a second) so that a catalog briefly visible without its tables cannot slip between looks
    while writer.poll() is None:
        if catalog.exists():
            try:
                with contextlib.closing(sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)) as db:
                    query = "select count(*) from sqlite_master where name like 'ducklake%'"
                    seen_tables.append(db.execute(query).fetchone()[0])
            except sqlite3.OperationalError:  # busy at that instant: look again
                continue
    assert writer.returncode == 0
    assert seen_tables == [] or min(seen_tables) > 0, "the catalog was visible before its tables"
    connect(tmp_settings, read_only=True).close()
    names = {p.name for p in catalog.parent.iterdir()}
    temporary = sorted(name for name in names if name.startswith("."))
    assert temporary == [], "the catalog's temporary copy was left behind"
