"""Decode, contract check and Great Expectations validation of record batches.

``DecodeAndCheck``: size limit, UTF-8, one JSON object, then the contract's structural and
semantic rules (``contracts.checks``), per record of a batch.
``ValidateWithSuites``: the GX suites of each event type over the valid events of many
batches at once (pandas frames); every event a suite rejects leaves, by its Kafka
coordinates, with the reason code of every expectation it failed (``ValidatedRows``), for
the commit to quarantine. GX is given no personal value
(``pipelines.gx_runner.for_validation``): its results keep the values they reject.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils.windowed_value import WindowedValue

from contracts.batch_checks import Arrays, checked, suspects
from contracts.checks import Reason
from contracts.export.gx_suites import suites_of
from finradar.settings import IngestSettings
from handoff.records import Coordinates, KafkaRecord
from handoff.validation import BatchValidation, ValidatedRows
from pipelines.batch_gc import collector_paused
from pipelines.batches import CheckedBatch, EventsAt, RecordBatch
from pipelines.coders import outputs_batches
from pipelines.failpoints import kill_at
from pipelines.gx_pending import PendingValidations, rows_between
from pipelines.gx_pool import shared_pool
from pipelines.gx_runner import (
    OUTSIDE_FAULTS,
    SuiteRunner,
    build_pages,
    for_validation,
    shared_runner,
    validate_isolating,
)

# a ``KafkaRecord``'s bytes, and its topic, partition and offset (``Coordinates``)
_VALUE = itemgetter(KafkaRecord._fields.index("value"))
_TOPIC = itemgetter(KafkaRecord._fields.index("topic"))
_COORDINATES = itemgetter(*map(KafkaRecord._fields.index, ("topic", "partition", "offset")))
GX_ROWS: int = IngestSettings.model_fields["gx_rows"].default  # ``ingest.gx_rows``
GX_BYTES: int = IngestSettings.model_fields["gx_bytes"].default  # ``ingest.gx_bytes``


def check_batch(records: list[KafkaRecord], now: datetime) -> CheckedBatch:
    """Decode and contract-check the records of a batch (``contracts.batch_checks``: the
    verdicts of ``contracts.checks.check_value``; whatever a record holds, it ends valid or
    rejected with reasons)."""
    verdicts, screened = checked(
        list(map(_VALUE, records)), list(map(_TOPIC, records)), now, decoded=False
    )
    # the check's Arrow arrays of whole columns move to the batch, for the steps after it
    arrays: Arrays = {}
    for type_batch in screened.values():
        arrays.update(type_batch.arrays)
        type_batch.arrays = {}
    batch = CheckedBatch(records, screened=screened, arrays=arrays)
    # the type of each valid event the check passed without decoding it
    # (``contracts.typed_decoding``): its dict is made if a step ever reads it
    undecoded = {
        i: event_type
        for event_type, type_batch in screened.items()
        for i, event, clean in zip(
            type_batch.positions, type_batch.events, type_batch.clean, strict=True
        )
        if clean and event is None
    }
    valid = batch.valid
    for i, (event, reasons) in enumerate(verdicts):
        if reasons:
            batch.rejected[i] = reasons
            if event is not None:
                batch.decoded[i] = event
        elif event is None:
            valid.undecoded(i, undecoded[i])  # type: ignore[attr-defined]
        else:
            valid[i] = event
    return batch


def validate_batch(batch: CheckedBatch, runner: SuiteRunner, now: datetime) -> ValidatedRows:
    """Run the GX suites of each event type over the batch's valid events in this process
    (what ``Validate with GX`` does for the batches it validates together)."""
    pending = PendingValidations()
    wait_for_validation(pending, batch, runner)
    return validate_pending(pending, runner, now)


def wait_for_validation(
    pending: PendingValidations, batch: CheckedBatch, runner: SuiteRunner
) -> None:
    """Add the suites' frames of the batch's valid events to ``pending``. GX sees no
    personal value (``for_validation``)."""
    for event_type, indexes in batch.valid_by_type():
        records = list(map(batch.records.__getitem__, indexes))
        events, columns = for_validation(
            EventsAt(batch.valid, indexes),  # read only where its columns will not do
            _suspects(batch, event_type, indexes),
            batch.columns(event_type, indexes),
        )
        pending.add(
            event_type,
            runner.frames(
                event_type,
                events,
                columns=columns,
                arrow=batch.arrow,
                answers=batch.answer_columns,
            ),
            list(map(_COORDINATES, records)),
            sum(map(len, filter(None, map(_VALUE, records)))),
        )


def validate_pending(
    pending: PendingValidations, runner: SuiteRunner, now: datetime, batch_id: str | None = None
) -> ValidatedRows:
    """Validate every frame waiting in ``pending``, one validation per event type; an
    event GX fails on is rejected as ``internal_error``, the others keep GX's verdicts.
    ``batch_id``: the ingest batch they belong to, the run name of their GX results."""
    verdicts = ValidatedRows()
    for event_type in pending.event_types():
        frames, coordinates = pending.take(event_type)
        whole = len(coordinates)
        result = validate_isolating(
            lambda part, f=frames, n=whole: runner.validate_frames(
                f if len(part) == n else rows_between(f, part[0], part[-1] + 1),
                now,
                run_name=batch_id,
            ),
            list(range(whole)),
        )
        verdicts.rejected.extend(
            (coordinates[row], reasons) for row, reasons in sorted(result.failures.items())
        )
        verdicts.suites.extend((event_type, s) for s in result.suites)
    return verdicts


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


def _suspects(batch: CheckedBatch, event_type: str, indexes: list[int]) -> list[bool]:
    values = list(map(_VALUE, map(batch.records.__getitem__, indexes)))
    return suspects(batch.screened.get(event_type), indexes, values)


class _ValidateFn(beam.DoFn):
    """Holds the frames of the batches it receives (``PendingValidations``) and validates
    them once ``rows`` frame rows wait or they hold ``frame_bytes`` bytes
    (``PendingValidations.holds``), and when the bundle ends."""

    def __init__(
        self,
        now: datetime,
        gx_root: str | None,
        failpoint: str | None,
        web_assets: str | None = None,
        rows: int = GX_ROWS,
        batch_id: str | None = None,
        frame_bytes: int = GX_BYTES,
        docs_listed: int | None = None,
    ) -> None:
        self.now = now
        self.gx_root = gx_root
        self.failpoint = failpoint
        self.web_assets = web_assets
        self.rows = rows
        self.batch_id = batch_id
        self.frame_bytes = frame_bytes
        self.docs_listed = docs_listed
        self.runner: Any = None
        self.pending = PendingValidations()

    def setup(self) -> None:
        root = Path(self.gx_root) if self.gx_root else None
        self.runner = shared_runner(root, kill_at(self.failpoint))

    def start_bundle(self) -> None:
        self.pending = PendingValidations()

    def process(self, batch: CheckedBatch) -> Iterator[ValidatedRows]:
        with collector_paused():
            wait_for_validation(self.pending, batch, self.runner)
            pending = self.pending
            if pending.rows >= self.rows or pending.holds(self.frame_bytes):
                yield validate_pending(pending, self.runner, self.now, self.batch_id)

    def finish_bundle(self) -> Iterator[WindowedValue]:
        if self.pending.event_types():
            with collector_paused():
                verdicts = validate_pending(self.pending, self.runner, self.now, self.batch_id)
            yield GlobalWindows.windowed_value(verdicts)
        # with ``web_assets``, each worker adds the pages of what it validated
        if self.web_assets is not None and self.runner.unrendered:
            build_pages(
                self.runner, Path(self.web_assets), kill_at(self.failpoint), self.docs_listed
            )


class _ValidateInPoolFn(beam.DoFn):
    """Sends each batch's event types to the worker pool as soon as the batch arrives, so
    the workers validate while this process reads and checks the next batch. A batch's
    verdicts leave once its jobs are done, in the batches' order, and at the latest once
    more than ``in_flight`` batches wait for the pool: a follow pass over a large backlog
    (its first after a pause) holds a few batches' events, not the pass's."""

    def __init__(self, now: datetime, workers: int, in_flight: int = 0) -> None:
        self.now = now
        self.workers = workers
        # enough batches to keep every validator busy while the next batch is read
        self.in_flight = in_flight or 2 * workers
        self.pending: list[list[_Job]] = []

    def start_bundle(self) -> None:
        self.pending = []

    def process(self, batch: CheckedBatch) -> Iterator[ValidatedRows]:
        pool = shared_pool(self.workers)
        jobs = []
        for event_type, indexes in batch.valid_by_type():
            events, _ = for_validation(
                list(map(batch.valid.__getitem__, indexes)), _suspects(batch, event_type, indexes)
            )
            coordinates = [batch.records[i].coordinates for i in indexes]
            for suite in suites_of(event_type):
                future = pool.submit(event_type, events, self.now, suite)
                jobs.append(_Job(event_type, coordinates, events, suite, future))
        self.pending.append(jobs)
        while self.pending and (
            len(self.pending) > self.in_flight or all(j.future.done() for j in self.pending[0])
        ):
            yield self._verdicts(self.pending.pop(0))

    def finish_bundle(self) -> Iterator[WindowedValue]:
        while self.pending:
            yield GlobalWindows.windowed_value(self._verdicts(self.pending.pop(0)))

    def _verdicts(self, jobs: list[_Job]) -> ValidatedRows:
        """The verdicts of one batch's jobs, once they are done."""
        pool = shared_pool(self.workers)
        rejected: dict[Coordinates, list[Reason]] = {}
        verdicts = ValidatedRows()
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
            for row, reasons in sorted(result.failures.items()):
                rejected.setdefault(job.coordinates[row], []).extend(reasons)
            verdicts.suites.extend((job.event_type, s) for s in result.suites)
        verdicts.rejected = list(rejected.items())
        return verdicts


class _Job(NamedTuple):
    """One suite of one event type of a batch, sent to the worker pool."""

    event_type: str
    coordinates: list[Coordinates]  # of the events, in their order
    events: list[dict[str, Any]]
    suite: str
    future: Future[BatchValidation]


class ValidateWithSuites(beam.PTransform):
    """``CheckedBatch`` → ``ValidatedRows``: run the GX suites on the batches' valid events;
    the verdicts leave apart from the batches (``Stage GX verdicts``), so that one
    validation covers the frames of many batches (``pipelines.gx_pending``: at least
    ``rows`` frame rows or ``frame_bytes`` bytes of frames, or what the bundle holds at its
    end).

    With ``gx_root`` the results are kept in a GX file context there (for Data Docs), and
    with ``web_assets`` as well each bundle ends by adding its pages to the Data Docs (a
    pass whose commit is made after its worker processes have ended), whose index lists
    the latest ``docs_listed`` validations.
    With ``workers`` (no ``gx_root``) each batch is validated at once in that many worker
    processes (``pipelines.gx_pool``): the short passes of ``follow``.
    ``batch_id``: the ingest batch, the run name its results have in the GX project.
    """

    def __init__(
        self,
        now: datetime,
        gx_root: Path | None = None,
        workers: int = 0,
        failpoint: str | None = None,
        web_assets: Path | None = None,
        rows: int = GX_ROWS,
        batch_id: str | None = None,
        frame_bytes: int = GX_BYTES,
        docs_listed: int | None = None,
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
        self.rows = rows
        self.batch_id = batch_id
        self.frame_bytes = frame_bytes
        self.docs_listed = docs_listed

    def expand(self, batches: beam.PCollection) -> beam.PCollection:
        fn: beam.DoFn = (
            _ValidateInPoolFn(self.now, self.workers)
            if self.workers
            else _ValidateFn(
                self.now,
                self.gx_root,
                self.failpoint,
                self.web_assets,
                self.rows,
                self.batch_id,
                self.frame_bytes,
                self.docs_listed,
            )
        )
        return batches | "Validate with GX suites" >> beam.ParDo(fn).with_output_types(
            ValidatedRows
        )
