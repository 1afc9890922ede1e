"""What flows between the ingest transforms: one batch of Kafka records and its verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from contracts.batch_checks import TypeBatch
from contracts.checks import Reason
from handoff.records import KafkaRecord


class RecordBatch(list[KafkaRecord]):
    """Records read together, in offset order: the element the read steps output (a list
    of its own type so that it has a coder of its own, ``pipelines.coders``)."""


@dataclass
class CheckedBatch:
    """A batch of records: each is either valid (with its event) or rejected (with reasons).

    Every record of ``records`` is in exactly one of ``valid`` and ``rejected``, by index.
    """

    records: list[KafkaRecord]
    valid: dict[int, dict[str, Any]] = field(default_factory=dict)
    rejected: dict[int, list[Reason]] = field(default_factory=dict)
    # the batch check's field columns of each event type (``contracts.batch_checks``)
    screened: dict[str, TypeBatch] = field(default_factory=dict)

    def reject(self, index: int, reasons: list[Reason]) -> None:
        self.valid.pop(index, None)
        self.rejected.setdefault(index, []).extend(reasons)

    def columns(self, event_type: str, indexes: list[int]) -> dict[str, list[Any]] | None:
        """The field columns (by path) of the events at ``indexes`` (all of one type), or
        None if the batch check did not gather every one of them (the per-message checker
        passed it: the row path then reads the events themselves)."""
        screened = self.screened.get(event_type)
        if screened is None:
            return None
        where = screened.where()
        rows = [where.get(i, -1) for i in indexes]
        if any(j < 0 or not screened.clean[j] for j in rows):
            return None
        if rows == list(range(len(screened.positions))):  # the usual case: all of them
            return {path: list(values) for path, values in screened.columns.items()}
        if len(rows) < 2:
            return {path: [values[j] for j in rows] for path, values in screened.columns.items()}
        gather = itemgetter(*rows)  # one C call per column, not a Python loop over rows
        return {path: list(gather(values)) for path, values in screened.columns.items()}
