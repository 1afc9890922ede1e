"""A writer session kept open between passes (``follow``'s) holds nothing of a pass once
it has committed: no table its commit built, no cached copy of the staged files it read."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

import warehouse.landing
from contracts.corpus import seed_corpus
from contracts.spec import contracts
from finradar.settings import load_settings
from handoff.errors import OffsetsMoved
from handoff.records import KafkaRecord, PartitionRange
from pipelines.checking import check_batch
from pipelines.normalise import Normaliser, stage_batch
from warehouse.lake import connect
from warehouse.landing import land

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def _records(start: int, n: int) -> list[KafkaRecord]:
    events = [e for e in seed_corpus() if e["event_type"] == "spend_disclosure"][start:][:n]
    topic = contracts()["spend_disclosure"].topic
    return [
        KafkaRecord(topic, 0, start + i, 0, b"k", json.dumps(e, ensure_ascii=False).encode())
        for i, e in enumerate(events)
    ]


def _held(con: duckdb.DuckDBPyConnection) -> tuple[list[str], int]:
    """The session's temporary tables, and the bytes of its external file cache."""
    tables = con.execute("select table_name from duckdb_tables() where temporary").fetchall()
    cached = con.execute(
        "select coalesce(sum(memory_usage_bytes), 0) from duckdb_memory() "
        "where tag = 'EXTERNAL_FILE_CACHE'"
    ).fetchone()[0]
    return sorted(t for (t,) in tables), int(cached)


def test_passes_in_one_session_leave_nothing_behind(tmp_path: Path):
    settings = load_settings(var_dir=tmp_path / "var")
    con = connect(settings)
    try:
        setting = "select value from duckdb_settings() where name = 'enable_external_file_cache'"
        assert con.execute(setting).fetchone()[0] == "false"
        for n, (start, size) in enumerate([(0, 6), (6, 5)]):
            records = _records(start, size)
            batch = check_batch(records, NOW)
            staged = stage_batch(Normaliser(f"b{n}", NOW, b"key"), batch, tmp_path / f"s{n}")
            plan = [PartitionRange(records[0].topic, 0, start, start + size)]
            summary = land(con, f"b{n}", plan, staged, NOW, "t")
            assert summary.consumed == size and summary.landed == size
            assert _held(con) == ([], 0)
        assert con.execute("select count(*) from raw.spend_disclosures").fetchone()[0] == 11
    finally:
        con.close()


def test_a_session_with_the_cache_on_does_hold_the_files_it_read(tmp_path: Path):
    """The check above can fail: DuckDB's default keeps what a query read."""
    records = _records(0, 6)
    batch = check_batch(records, NOW)
    staged = stage_batch(Normaliser("b", NOW, b"key"), batch, tmp_path / "s")
    con = duckdb.connect(config={"enable_external_file_cache": "true"})
    try:
        paths = [s.path for s in staged if s.rows]
        con.execute("select count(*) from read_parquet(?)", [paths]).fetchone()
        assert _held(con)[1] > 0
    finally:
        con.close()


def test_a_commit_in_a_session_gone_bad_keeps_its_own_error(tmp_path: Path, monkeypatch):
    """Dropping the pass's tables never hides why the commit failed, even when the session
    can run nothing any more."""
    settings = load_settings(var_dir=tmp_path / "var")
    con = connect(settings)

    def failing(con_, *args, **kwargs):
        con.close()  # as when DuckDB invalidates a session mid-commit
        raise OffsetsMoved("another ingest ran meanwhile")

    monkeypatch.setattr(warehouse.landing, "in_transaction", failing)
    with pytest.raises(OffsetsMoved, match="another ingest"):
        land(con, "b", [], [], NOW, "t", ensure_schema=False, threads=2)
