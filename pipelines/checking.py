"""Decode, contract check and Great Expectations validation of record batches.

``DecodeAndCheck``: size limit, UTF-8, one JSON object, then the contract's structural and
semantic rules (``contracts.checks``), per record of a batch.
``ValidateWithSuites``: the GX suites of each event type over the batch's valid events at
once (pandas frames); every row a suite rejects is moved to ``rejected`` with the reason
code of every expectation it failed. GX is given no personal value
(``pipelines.gx_runner.for_validation``): its results keep the values they reject.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils.windowed_value import WindowedValue

from contracts.batch_checks import checked, suspects
from contracts.export.gx_suites import suites_of
from handoff.records import KafkaRecord
from handoff.validation import BatchValidation
from pipelines.batch_gc import collector_paused
from pipelines.batches import CheckedBatch, RecordBatch
from pipelines.coders import outputs_batches
from pipelines.failpoints import kill_at
from pipelines.gx_pool import shared_pool
from pipelines.gx_runner import (
    OUTSIDE_FAULTS,
    SuiteRunner,
    build_pages,
    for_validation,
    shared_runner,
    validate_isolating,
)


def check_batch(records: list[KafkaRecord], now: datetime) -> CheckedBatch:
    """Decode and contract-check the records of a batch (``contracts.batch_checks``: the
    verdicts of ``contracts.checks.check_value``; whatever a record holds, it ends valid or
    rejected with reasons)."""
    verdicts, screened = checked([r.value for r in records], [r.topic for r in records], now)
    batch = CheckedBatch(records, screened=screened)
    for i, (event, reasons) in enumerate(verdicts):
        if reasons:
            batch.rejected[i] = reasons
        else:
            assert event is not None
            batch.valid[i] = event
    return batch


def validate_batch(batch: CheckedBatch, runner: SuiteRunner, now: datetime) -> CheckedBatch:
    """Run the GX suites of each event type over the batch's valid events in this process;
    an event GX fails on is rejected as ``internal_error``, the others keep GX's verdicts.
    GX sees no personal value (``for_validation``)."""
    for event_type, indexes in _by_type(batch):
        events, columns = for_validation(
            [batch.valid[i] for i in indexes],
            _suspects(batch, event_type, indexes),
            batch.columns(event_type, indexes),
        )
        result = validate_isolating(
            lambda part, t=event_type, whole=events, c=columns: runner.validate(
                t, part, now=now, columns=c if part is whole else None
            ),
            events,
        )
        _apply(batch, event_type, indexes, result)
    return batch


class _DecodeAndCheckFn(beam.DoFn):
    def __init__(self, now: datetime) -> None:
        self.now = now

    def process(self, records: RecordBatch) -> Iterator[CheckedBatch]:
        with collector_paused():
            checked = check_batch(records, self.now)
        yield checked


class DecodeAndCheck(beam.PTransform):
    """Batches of ``KafkaRecord`` → ``CheckedBatch``: decode and contract check each record.

    ``now`` is the run's start: the reference of ``future_timestamp``, fixed per run so a
    rerun of the same offsets gives the same verdicts.
    """

    def __init__(self, now: datetime) -> None:
        super().__init__()
        self.now = now

    def expand(self, batches: beam.PCollection) -> beam.PCollection:
        return batches | "Decode and check contract" >> outputs_batches(
            beam.ParDo(_DecodeAndCheckFn(self.now)), CheckedBatch
        )


def _by_type(batch: CheckedBatch) -> list[tuple[str, list[int]]]:
    by_type: dict[str, list[int]] = {}
    for i, event in batch.valid.items():
        by_type.setdefault(event["event_type"], []).append(i)
    return sorted(by_type.items())


def _suspects(batch: CheckedBatch, event_type: str, indexes: list[int]) -> list[bool]:
    values = [batch.records[i].value for i in indexes]
    return suspects(batch.screened.get(event_type), indexes, values)


def _apply(batch: CheckedBatch, event_type: str, indexes: list[int], result: Any) -> None:
    for row, reasons in result.failures.items():
        batch.reject(indexes[row], reasons)
    batch.suites.extend((event_type, s) for s in result.suites)


class _ValidateFn(beam.DoFn):
    def __init__(
        self,
        now: datetime,
        gx_root: str | None,
        failpoint: str | None,
        web_assets: str | None = None,
    ) -> None:
        self.now = now
        self.gx_root = gx_root
        self.failpoint = failpoint
        self.web_assets = web_assets
        self.runner: Any = None

    def setup(self) -> None:
        root = Path(self.gx_root) if self.gx_root else None
        self.runner = shared_runner(root, kill_at(self.failpoint))

    def process(self, batch: CheckedBatch) -> Iterator[CheckedBatch]:
        with collector_paused():
            validated = validate_batch(batch, self.runner, self.now)
        yield validated

    def finish_bundle(self) -> None:
        # with ``web_assets``, each worker adds the pages of what it validated
        if self.web_assets is not None and self.runner.unrendered:
            build_pages(self.runner, Path(self.web_assets), kill_at(self.failpoint))


class _ValidateInPoolFn(beam.DoFn):
    """Sends each batch's event types to the worker pool as soon as the batch arrives, so
    the workers validate while this process reads and checks the next batch; the batches
    leave, validated, when the bundle ends."""

    def __init__(self, now: datetime, workers: int) -> None:
        self.now = now
        self.workers = workers
        self.pending: list[tuple[CheckedBatch, list[_Job]]] = []

    def start_bundle(self) -> None:
        self.pending = []

    def process(self, batch: CheckedBatch) -> None:
        pool = shared_pool(self.workers)
        jobs = []
        for event_type, indexes in _by_type(batch):
            events, _ = for_validation(
                [batch.valid[i] for i in indexes], _suspects(batch, event_type, indexes)
            )
            for suite in suites_of(event_type):
                future = pool.submit(event_type, events, self.now, suite)
                jobs.append(_Job(event_type, indexes, events, suite, future))
        self.pending.append((batch, jobs))

    def finish_bundle(self) -> Iterator[WindowedValue]:
        pool = shared_pool(self.workers)
        for batch, jobs in self.pending:
            for job in jobs:
                try:
                    result = job.future.result()
                except OUTSIDE_FAULTS:
                    raise
                except Exception:  # find the events it fails on, in halves
                    result = validate_isolating(
                        lambda events, j=job: pool.submit(
                            j.event_type, events, self.now, j.suite
                        ).result(),
                        job.events,  # as submitted: an earlier suite may have rejected some
                    )
                _apply(batch, job.event_type, job.indexes, result)
            yield GlobalWindows.windowed_value(batch)
        self.pending = []


class _Job(NamedTuple):
    """One suite of one event type of a batch, sent to the worker pool."""

    event_type: str
    indexes: list[int]  # the events' positions in the batch
    events: list[dict[str, Any]]
    suite: str
    future: Future[BatchValidation]


class ValidateWithSuites(beam.PTransform):
    """``CheckedBatch`` → ``CheckedBatch``: run the GX suites on the batch's valid events.

    With ``gx_root`` the results are kept in a GX file context there (for Data Docs), and
    with ``web_assets`` as well each bundle ends by adding its pages to the Data Docs (a
    pass whose commit is made after its worker processes have ended).
    With ``workers`` (no ``gx_root``) the bundle's batches are validated at once in that
    many worker processes (``pipelines.gx_pool``): the short passes of ``follow``.
    """

    def __init__(
        self,
        now: datetime,
        gx_root: Path | None = None,
        workers: int = 0,
        failpoint: str | None = None,
        web_assets: Path | None = None,
    ) -> None:
        super().__init__()
        if gx_root and workers:
            raise ValueError("the worker pool validates without a GX project (no Data Docs)")
        if web_assets and not gx_root:
            raise ValueError("Data Docs need a GX project (gx_root)")
        self.now = now
        self.gx_root = str(gx_root) if gx_root else None
        self.workers = workers
        self.failpoint = failpoint  # crash tests (``pipelines.failpoints``)
        self.web_assets = str(web_assets) if web_assets else None

    def expand(self, batches: beam.PCollection) -> beam.PCollection:
        fn: beam.DoFn = (
            _ValidateInPoolFn(self.now, self.workers)
            if self.workers
            else _ValidateFn(self.now, self.gx_root, self.failpoint, self.web_assets)
        )
        return batches | "Validate with GX suites" >> outputs_batches(beam.ParDo(fn), CheckedBatch)
