"""Coders of the batches that flow between the ingest's steps.

Beam estimates the size of the elements a step outputs by sampling them: every one of the
first ten, then about ten in every thousand. A step that outputs a few hundred batches has
most of them sampled, and with no coder of their own (``Any``: Beam's fallback coder) each
estimate encodes the whole batch, a pickle of every record, only to measure it: about a
seventh of a pass's time. ``BatchCoder`` estimates a batch from its records' byte lengths
instead; it encodes a batch (when a runner passes it to another worker) as one pickle.
"""

from __future__ import annotations

import pickle
from typing import Any

import apache_beam as beam

from handoff.records import KafkaRecord
from pipelines.batches import CheckedBatch, RecordBatch


class BatchCoder(beam.coders.Coder):
    """A ``RecordBatch`` or ``CheckedBatch``, pickled whole; sized by its records' bytes."""

    def encode(self, value: Any) -> bytes:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)

    def decode(self, encoded: bytes) -> Any:
        return pickle.loads(encoded)

    def is_deterministic(self) -> bool:
        return False

    def estimate_size(self, value: Any) -> int:
        records = value.records if isinstance(value, CheckedBatch) else value
        return sum(_record_bytes(r) for r in records)

    def to_type_hint(self) -> Any:
        return Any


def _record_bytes(record: KafkaRecord) -> int:
    return len(record.value or b"") + len(record.key or b"") + 64  # 64: its coordinates


beam.coders.registry.register_coder(RecordBatch, BatchCoder)
beam.coders.registry.register_coder(CheckedBatch, BatchCoder)


def outputs_batches(step: Any, batch_type: type[RecordBatch] | type[CheckedBatch]) -> Any:
    """``step`` (a ParDo or Create) declared to output ``batch_type``, so its output
    PCollection takes ``BatchCoder``."""
    return step.with_output_types(batch_type)
