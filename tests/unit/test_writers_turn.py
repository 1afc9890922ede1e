"""Writers of a SQLite-catalog warehouse take turns: a commit after another writer's commit
(which SQLite refuses once a transaction has read the catalog) waits for its turn instead,
and opening a complete warehouse writes nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import duckdb

from finradar.settings import Settings
from tests.unit.warehouse_inputs import insert, open_lake, query, spend
from warehouse.transactions import commit_lock_path, in_transaction, is_retryable

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from finradar.settings import load_settings
    from tests.unit.warehouse_inputs import insert, spend

    insert(load_settings(var_dir=Path(sys.argv[1])), "spend_disclosures",
           [spend("late", "inst-late", "2024", "2.0", batch_id="b-late")])
    """
)


def test_a_writer_waits_for_the_turn_of_a_long_transaction(tmp_settings: Settings) -> None:
    insert(tmp_settings, "spend_disclosures", [spend("first", "inst", "2023", "1.0")])
    con = open_lake(tmp_settings)
    writer: subprocess.Popen[str] | None = None

    def long_work() -> int:
        nonlocal writer
        # read the catalog, then let another process try to commit before this one does
        seen = con.execute("select count(*) from raw.spend_disclosures").fetchone()[0]
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_settings.var)],
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(3.0)
        assert writer.poll() is None  # still waiting for its turn
        con.execute(
            "create or replace table staging.seen_then as select * from raw.spend_disclosures"
        )
        return seen

    try:
        # no retries: the first attempt has to commit
        assert in_transaction(con, long_work, retries=0) == 1
    finally:
        con.close()
    assert writer is not None
    _, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    assert query(tmp_settings, "select count(*) from staging.seen_then") == [(1,)]
    assert query(tmp_settings, "select count(*) from raw.spend_disclosures") == [(2,)]


def test_opening_a_complete_warehouse_writes_nothing(tmp_settings: Settings) -> None:
    open_lake(tmp_settings).close()  # creates it
    before = query(tmp_settings, "select count(*) from lake.snapshots()")
    con = open_lake(tmp_settings)
    try:
        assert commit_lock_path(con) is not None
    finally:
        con.close()
    assert query(tmp_settings, "select count(*) from lake.snapshots()") == before


def test_tables_a_refresh_replaces_keep_their_lists_out_of_the_catalog(
    tmp_settings: Settings,
) -> None:
    """A refresh recreates its tables: DuckLake's no-inlining option lives on their schema
    (a table's would go with it), so a one-row table with a LIST column is Parquet, and the
    quote DuckLake 1.5 drops from inlined nested values survives."""
    con = open_lake(tmp_settings)
    try:
        for _ in range(2):  # created, then replaced as a refresh does
            in_transaction(
                con,
                lambda: con.execute(
                    """create or replace table marts.one_list as select ['say "hi"'] as l"""
                ),
            )
    finally:
        con.close()
    assert query(tmp_settings, "select l from marts.one_list") == [(['say "hi"'],)]
    assert query(
        tmp_settings,
        "select count(*) from ducklake_meta.ducklake_data_file f "
        "join ducklake_meta.ducklake_table t using (table_id) "
        "where t.table_name = 'one_list' and t.end_snapshot is null and f.end_snapshot is null",
    ) == [(1,)]


def test_a_commit_is_retried_by_duckdbs_error_class_not_its_message() -> None:
    # a DuckLake conflict (Postgres) and SQLite's busy catalog both come as DuckDB's
    # transaction error; a message that merely mentions a lock or a conflict is no conflict
    assert is_retryable(duckdb.TransactionException("Failed to commit: anything at all"))
    assert not is_retryable(duckdb.IOException("database is locked"))
    assert not is_retryable(duckdb.CatalogException("conflict"))
