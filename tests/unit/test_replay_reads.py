"""A replay reads the quarantined messages a few at a time: a quarantine of more bytes than a
warehouse session may hold (a backlog's oversize messages) is read whole, in offset order,
each read within its bounds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from contracts.spec import MAX_MESSAGE_BYTES, contracts
from finradar.settings import Settings, load_settings
from handoff.records import KafkaRecord, PartitionRange
from pipelines.checking import check_batch
from pipelines.normalise import Normaliser, stage_batch
from warehouse.lake import connect
from warehouse.landing import land
from warehouse.replay import pending, pending_records, read_ranges

NOW = datetime(2026, 11, 26, tzinfo=UTC)
TOPIC = contracts()["spend_disclosure"].topic


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(var_dir=tmp_path / "var")


def _oversize(offset: int) -> bytes:
    return b'{"event_id": "big-%d", "pad": "' % offset + b"x" * MAX_MESSAGE_BYTES + b'"}'


def test_a_quarantine_larger_than_a_session_is_read_for_replay(
    settings: Settings, tmp_path: Path
) -> None:
    records = [
        KafkaRecord(TOPIC, p, o, 0, b"k", _oversize(o) if o % 4 else b"not json %d" % o)
        for p in (0, 1)
        for o in range(60)
    ]
    con = connect(settings)
    try:  # commits of ten messages: the lake's row groups stay small, as a pass's are
        for p in (0, 1):
            for start in range(0, 60, 10):
                part = [r for r in records if r.partition == p and start <= r.offset < start + 10]
                batch = check_batch(part, NOW)
                staged = stage_batch(Normaliser("b", NOW, b"key"), batch, tmp_path / f"{p}-{start}")
                plan = [PartitionRange(TOPIC, p, start, start + 10)]
                land(con, f"20261126T000000-{p:04d}{start:04d}", plan, staged, NOW, "test")
    finally:
        con.close()
    # a session's memory well below the quarantine's bytes (about 90 MiB)
    small = load_settings(var_dir=settings.var, warehouse={"memory_limit": "64MB"})
    con = connect(small, read_only=True)
    try:
        with pytest.raises(duckdb.OutOfMemoryException):  # what a read of them all meets
            con.execute("select raw_value from quarantine.events order by kafka_offset").fetchall()
        sizes = pending(con)
        ranges = read_ranges(sizes, read_bytes=4 * MAX_MESSAGE_BYTES, read_rows=8)
        read = list(pending_records(con, ranges))
    finally:
        con.close()
    assert [s[:3] for s in sizes] == [r.coordinates for r in records]
    assert [s[3] for s in sizes] == [len(r.value) for r in records]
    assert [(r.coordinates, r.value, r.key) for r in read] == [
        (r.coordinates, r.value, r.key) for r in records
    ]


def test_reads_are_ranges_of_one_partition_within_their_bounds() -> None:
    sizes = [("t", p, o, (o % 7) * 100 if o % 5 else None) for p in (0, 1, 2) for o in range(50)]
    sizes.append(("t", 3, 0, 5_000))  # one message larger than a read: read alone
    ranges = read_ranges(sizes, 1_000, 6)
    covered = []
    for topic, partition, first, last in ranges:
        inside = [s for s in sizes if s[:2] == (topic, partition) and first <= s[2] <= last]
        assert 1 <= len(inside) <= 6
        assert len(inside) == 1 or sum(s[3] or 0 for s in inside) <= 1_000
        covered += inside
    assert covered == sizes
