"""Record batches we encode are read back by kafka-python's own decoder."""

from __future__ import annotations

from kafka.record.default_records import DefaultRecordBatch

from infra.bulk_producer import encode_batch, varint


def test_batch_decodes_with_kafka_python():
    records = [(b"cn.bank.icbc", b'{"a": 1}'), (None, b"x" * 20000), (b"k", "工行".encode())]
    raw = encode_batch(records, timestamp_ms=1_700_000_000_000)
    batch = DefaultRecordBatch(bytearray(raw))
    assert batch.validate_crc()
    decoded = [(r.key, r.value, r.offset, r.timestamp) for r in batch]
    assert decoded == [(k, v, i, 1_700_000_000_000) for i, (k, v) in enumerate(records)]


def test_varint_is_zigzag():
    assert varint(0) == b"\x00" and varint(1) == b"\x02" and varint(64) == b"\x80\x01"
    assert varint(20000) == b"\xc0\xb8\x02"
