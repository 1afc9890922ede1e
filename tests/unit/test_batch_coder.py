"""The ingest's batches have a coder of their own: sized without being encoded, and encoded
and decoded whole when a runner passes them between workers."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import apache_beam as beam
import pyarrow as pa
import pytest

from contracts.spec import MAX_MESSAGE_BYTES
from contracts.synthetic import SyntheticStream
from finradar.settings import KafkaSettings
from handoff.records import KafkaRecord
from handoff.validation import ValidatedRows
from pipelines.batches import CheckedBatch, RecordBatch
from pipelines.checking import DecodeAndCheck, ValidateWithSuites, check_batch
from pipelines.coders import BatchCoder
from pipelines.kafka_source import ReadKafkaRanges, ReadSmallPass, batched

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def _records(n: int) -> list[KafkaRecord]:
    return [
        KafkaRecord(m.topic, 0, i, 1, m.key, m.value)
        for i, m in enumerate(SyntheticStream(n, 0.05, 3))
    ]


def test_batches_round_trip_and_are_sized_from_their_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    records = _records(300)
    batch = next(batched(records, 1000, 1 << 30))
    checked = check_batch(batch, NOW)
    values = next(iter(checked.screened.values())).columns["event_id"]
    checked.arrow(values, pa.string())
    coder = BatchCoder()
    assert isinstance(batch, RecordBatch)
    assert coder.decode(coder.encode(batch)) == batch
    again = coder.decode(coder.encode(checked))
    assert (again.records, again.valid, again.rejected) == (
        checked.records,
        checked.valid,
        checked.rejected,
    )
    # its Arrow arrays stay behind: they are found by their lists' identity, which a
    # decoded batch's lists do not share
    assert checked.arrays and not again.arrays
    expected = sum(len(r.value or b"") + len(r.key or b"") + 64 for r in batch)

    def no_pickle(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("estimating a batch's size encoded it")

    monkeypatch.setattr(pickle, "dumps", no_pickle)
    assert coder.estimate_size(batch) == expected
    assert coder.estimate_size(checked) == expected
    assert coder.get_impl().estimate_size(checked) == expected  # what Beam's sampling calls


def test_the_batch_steps_output_batch_coded_collections() -> None:
    p = beam.Pipeline()
    ranges = p | "ranges" >> beam.Create([])
    read = ranges | "big" >> ReadKafkaRanges(KafkaSettings(port=1), 10, 1000)
    small = ranges | "small" >> ReadSmallPass(KafkaSettings(port=1), 10, 1000)
    checked = read | DecodeAndCheck(NOW)
    for pcoll in (read, small, checked):
        assert isinstance(beam.coders.registry.get_coder(pcoll.element_type), BatchCoder)
    assert read.element_type is RecordBatch and checked.element_type is CheckedBatch
    # GX's verdicts leave apart from the batches
    assert (checked | ValidateWithSuites(NOW)).element_type is ValidatedRows


def test_values_too_large_for_the_contract_are_batched_apart() -> None:
    """A few oversize values (quarantined unread) do not cut the other batches short: each
    record is in one batch, each batch in offset order and within its bounds."""
    records = _records(2000)
    oversize = [r for r in records if len(r.value or b"") > MAX_MESSAGE_BYTES]
    assert len(oversize) >= 2, "the stream should hold oversize values"
    batches = list(batched(records, 1500, 4 * MAX_MESSAGE_BYTES))
    assert sorted((r for b in batches for r in b), key=lambda r: r.offset) == records
    for b in batches:
        assert [r.offset for r in b] == sorted(r.offset for r in b)
        big = [len(r.value or b"") > MAX_MESSAGE_BYTES for r in b]
        assert all(big) or not any(big)
        assert len(b) <= 1500
        # a batch ends at the first record that takes it to its bounds
        assert sum(len(r.value or b"") for r in b[:-1]) < 4 * MAX_MESSAGE_BYTES
    normal = [b for b in batches if len(b[0].value or b"") <= MAX_MESSAGE_BYTES]
    assert len(normal[0]) == 1500  # not cut short by the oversize values among them


def test_keys_count_towards_a_batch_bytes() -> None:
    """A producer may send large keys with small values: a batch stays within its bytes,
    keys included (each step holds a batch whole)."""
    records = [
        KafkaRecord("fi.spend.disclosures.v1", 0, i, 1, b"k" * 10_000 + str(i).encode(), b"{}")
        for i in range(1000)
    ]
    batches = list(batched(records, 50_000, 1 << 20))
    assert [r for b in batches for r in b] == records
    for b in batches:
        # a batch ends at the first record that takes it to its bounds
        assert sum(len(r.key or b"") + len(r.value or b"") for r in b[:-1]) < 1 << 20
