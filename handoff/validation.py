"""What a Great Expectations validation hands to the staging step."""

from __future__ import annotations

from dataclasses import dataclass, field

from contracts.checks import Reason
from handoff.records import Coordinates


@dataclass
class ExpectationOutcome:
    suite: str
    expectation: str
    column: str
    reason_code: str
    success: bool
    unexpected_count: int


@dataclass
class SuiteOutcome:
    suite: str
    rows_checked: int
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    rows_failed: int = 0  # distinct rows (of the suite's frame) failing any expectation

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)


@dataclass
class BatchValidation:
    """Per-event failures (by position in the batch) and per-suite results."""

    failures: dict[int, list[Reason]]
    suites: list[SuiteOutcome]


@dataclass
class ValidatedRows:
    """What the GX suites decided on the events of one or more batches: each event they
    rejected, by its Kafka coordinates, with the reason of every expectation it failed (in
    the suites' order), and each suite's outcome. Staged apart from the events themselves
    (``_gx_rejected``, ``_dq_results``): the commit moves a rejected event from its staged
    landing candidates to the quarantine."""

    rejected: list[tuple[Coordinates, list[Reason]]] = field(default_factory=list)
    suites: list[tuple[str, SuiteOutcome]] = field(default_factory=list)  # (contract, outcome)
