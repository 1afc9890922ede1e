"""Each commit names itself in ``lake.snapshots()`` (ingest, backfill, refresh, replay), and a
quarantined message's bytes get a readable ``raw_text`` beside them, in new and older
warehouses alike."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.corpus import seed_corpus
from contracts.spec import contracts
from finradar.settings import Settings, load_settings
from handoff.records import KafkaRecord, PartitionRange
from pipelines.checking import check_batch
from pipelines.normalise import Normaliser, stage_batch
from tests.unit.warehouse_inputs import insert, query, spend
from warehouse.lake import compact, connect
from warehouse.landing import land
from warehouse.refresh import refresh
from warehouse.replay import land_replayed
from warehouse.schema import create_all

NOW = datetime(2026, 11, 26, tzinfo=UTC)
BAD = {
    # invalid UTF-8 (long enough to be stored out of line): each bad byte as U+FFFD
    b'{"event_id": "caf\xe9 \xff"}': '{"event_id": "caf\ufffd \ufffd"}',
    b'{"event_id": "x", oops}': '{"event_id": "x", oops}',  # text, not JSON: as it is
    b"\x00\x01\x02binary": None,  # a NUL byte: not text
}


def _records() -> list[KafkaRecord]:
    topic = contracts()["spend_disclosure"].topic
    events = [e for e in seed_corpus() if e["event_type"] == "spend_disclosure"][:2]
    values = [json.dumps(e, ensure_ascii=False).encode() for e in events] + list(BAD)
    return [KafkaRecord(topic, 0, i, 0, b"k", v) for i, v in enumerate(values)]


def _land(settings: Settings, tmp: Path, batch_id: str, backfill: bool = False) -> None:
    records = _records()
    staged = stage_batch(Normaliser(batch_id, NOW, b"key"), check_batch(records, NOW), tmp)
    plan = [PartitionRange(records[0].topic, 0, 0, len(records))]
    con = connect(settings)
    try:
        land(con, batch_id, plan, staged, NOW, "test", backfill=backfill)
    finally:
        con.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(var_dir=tmp_path / "var")


def _messages(settings: Settings) -> list[str]:
    rows = query(
        settings,
        "select author, commit_message from snapshots() where commit_message is not null "
        "order by snapshot_id",
    )
    assert {author for author, _ in rows} == {"finradar"}
    return [message for _, message in rows]


def test_ingest_backfill_refresh_and_replay_snapshots_carry_their_ids(
    settings: Settings, tmp_path: Path
) -> None:
    _land(settings, tmp_path / "s1", "20261126T000000-aaaa0001")
    summary = refresh(settings)
    _land(settings, tmp_path / "s2", "20261126T000000-aaaa0002", backfill=True)
    con = connect(settings)
    try:  # a replay that found nothing to do is still recorded (ops.replay_runs)
        land_replayed(con, "replay-20261126T000000-aaaa0003", [], [], NOW)
        for batch in ("c1", "c2"):  # two small files of one table, for compaction
            insert(settings, "spend_disclosures", [spend(f"e-{batch}", "x", "2024", "1.0")])
        merged = compact(con, settings)
        unnamed = con.execute(
            "select snapshot_id from snapshots() where commit_message is null and snapshot_id > 0"
        ).fetchall()
    finally:
        con.close()
    assert unnamed == []  # every commit but the catalog's creation says what it was
    messages = _messages(settings)
    assert merged >= 2 and f"compact: {merged} small files merged" in messages
    assert "ingest 20261126T000000-aaaa0001" in messages
    assert f"refresh {summary.refresh_id}" in messages
    assert "backfill 20261126T000000-aaaa0002" in messages
    assert "replay replay-20261126T000000-aaaa0003" in messages
    # the order of the commits
    ingest = messages.index("ingest 20261126T000000-aaaa0001")
    assert ingest < messages.index(f"refresh {summary.refresh_id}")


def test_quarantined_bytes_have_a_readable_text(settings: Settings, tmp_path: Path) -> None:
    """And the bytes stay as received (DuckDB's own ``decode(blob, 'replace')`` would
    rewrite them: the keys of ``BAD`` are the bytes sent)."""
    _land(settings, tmp_path / "s", "b1")
    con = connect(settings, read_only=True)
    try:
        rows = dict(con.execute("select raw_value, raw_text from quarantine.events").fetchall())
    finally:
        con.close()
    assert rows == BAD


def test_an_older_warehouse_gains_raw_text_for_the_rows_it_holds(settings: Settings) -> None:
    con = connect(settings)
    try:
        create_all(con)
        con.execute("alter table quarantine.events drop column raw_text")  # as before it
        con.execute(
            "insert into quarantine.events (kafka_topic, raw_value) values ('t', ?), ('t', ?)",
            [b"caf\xc3\xa9 \xff", None],
        )
        create_all(con)
        rows = con.execute(
            "select raw_text from quarantine.events order by raw_value nulls last"
        ).fetchall()
    finally:
        con.close()
    assert rows == [("café \ufffd",), (None,)]
