"""Decode, contract check and Great Expectations validation of record batches.

``DecodeAndCheck``: size limit, UTF-8, one JSON object, then the contract's structural and
semantic rules (``contracts.checks``), per record of a batch.
``ValidateWithSuites``: the GX suites of each event type over the batch's valid events at
once (pandas frames); every row a suite rejects is moved to ``rejected`` with the reason
code of every expectation it failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import apache_beam as beam

from contracts.checks import check_value
from pipelines.batches import CheckedBatch
from pipelines.kafka_source import KafkaRecord


class _DecodeAndCheckFn(beam.DoFn):
    def __init__(self, now: datetime) -> None:
        self.now = now

    def process(self, records: list[KafkaRecord]) -> Iterator[CheckedBatch]:
        batch = CheckedBatch(records)
        for i, r in enumerate(records):
            event, reasons = check_value(r.value, topic=r.topic, now=self.now)
            if reasons:
                batch.rejected[i] = reasons
            else:
                assert event is not None
                batch.valid[i] = event
        yield batch


class DecodeAndCheck(beam.PTransform):
    """Batches of ``KafkaRecord`` → ``CheckedBatch``: decode and contract check each record.

    ``now`` is the run's start: the reference of ``future_timestamp``, fixed per run so a
    rerun of the same offsets gives the same verdicts.
    """

    def __init__(self, now: datetime) -> None:
        super().__init__()
        self.now = now

    def expand(self, batches: beam.PCollection) -> beam.PCollection:
        return batches | "Decode and check contract" >> beam.ParDo(_DecodeAndCheckFn(self.now))


class _ValidateFn(beam.DoFn):
    def __init__(self, now: datetime, gx_root: str | None) -> None:
        self.now = now
        self.gx_root = gx_root
        self.runner: Any = None

    def setup(self) -> None:
        from contracts.gx_runner import SuiteRunner

        self.runner = SuiteRunner(project_root=Path(self.gx_root) if self.gx_root else None)

    def process(self, batch: CheckedBatch) -> Iterator[CheckedBatch]:
        by_type: dict[str, list[int]] = {}
        for i, event in batch.valid.items():
            by_type.setdefault(event["event_type"], []).append(i)
        for event_type, indexes in sorted(by_type.items()):
            result = self.runner.validate(
                event_type, [batch.valid[i] for i in indexes], now=self.now
            )
            for row, reasons in result.failures.items():
                batch.reject(indexes[row], reasons)
            batch.suites.extend((event_type, s) for s in result.suites)
        yield batch


class ValidateWithSuites(beam.PTransform):
    """``CheckedBatch`` → ``CheckedBatch``: run the GX suites on the batch's valid events.

    With ``gx_root`` the results are kept in a GX file context there (for Data Docs).
    """

    def __init__(self, now: datetime, gx_root: Path | None = None) -> None:
        super().__init__()
        self.now = now
        self.gx_root = str(gx_root) if gx_root else None

    def expand(self, batches: beam.PCollection) -> beam.PCollection:
        fn = _ValidateFn(self.now, self.gx_root)
        return batches | "Validate with GX suites" >> beam.ParDo(fn)
