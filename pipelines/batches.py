"""What flows between the ingest transforms: one batch of Kafka records and its verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contracts.checks import Reason
from handoff.records import KafkaRecord
from handoff.validation import SuiteOutcome


@dataclass
class CheckedBatch:
    """A batch of records: each is either valid (with its event) or rejected (with reasons).

    Every record of ``records`` is in exactly one of ``valid`` and ``rejected``, by index.
    """

    records: list[KafkaRecord]
    valid: dict[int, dict[str, Any]] = field(default_factory=dict)
    rejected: dict[int, list[Reason]] = field(default_factory=dict)
    suites: list[tuple[str, SuiteOutcome]] = field(default_factory=list)  # (contract, outcome)

    def reject(self, index: int, reasons: list[Reason]) -> None:
        self.valid.pop(index, None)
        self.rejected.setdefault(index, []).extend(reasons)
