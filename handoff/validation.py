"""What a Great Expectations validation of a batch hands to the staging step."""

from __future__ import annotations

from dataclasses import dataclass, field

from contracts.checks import Reason


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
