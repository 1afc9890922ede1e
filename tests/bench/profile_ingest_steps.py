"""Seconds per ingest step on N in-memory synthetic messages, one core, no broker.

Times the contract check (the batch check, over all N messages as one batch and over the
batches a pass reads, against the per-message checker on the same messages, and orjson's
decode of the batch with Python's cycle collector running and paused), each event type's
GX validation (with its fixed cost per call and its cost per row, from the whole type and
an eighth of it), the personal-data screen (``may_hold_personal_data`` per message, and per
batch as the check runs it), normalisation to Arrow and the staging files' write (zstd with
dictionaries against LZ4 without; a file per batch against files of many batches), the
quarantine's ``raw_text`` (DuckDB's decode where it can against the Python function on
every row), and GX with a validation per read batch
against the frames of many batches held until ``ingest.gx_rows`` rows wait (and the
building of those frames alone, and with the batches' normalisation, the two converting
each batch's columns to Arrow once), the latter also without ``pipelines.gx_memo`` (GX's own
code, the memo's baseline) and through a GX project's checkpoints as a pass validates
(with each object's freshness read from its store once a validation, and each time),
and, by topic, normalisation and the building of GX's frames a message (and the
normalisation of an oversize value, quarantined whole) — the per-step figures behind the
ingest benchmark's rate.
The steps run with the collector paused, as in the pipeline.

    python -m tests.bench.profile_ingest_steps [N]
"""

from __future__ import annotations

import contextlib
import gc
import io
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

import pipelines.gx_runner as gx_runner
from contracts.checks import check_value
from contracts.personal_data import may_hold_personal_data, may_hold_personal_data_each
from contracts.spec import MAX_MESSAGE_BYTES
from contracts.synthetic import SyntheticStream
from finradar.settings import IngestSettings
from handoff.records import KafkaRecord
from pipelines.batch_gc import collector_paused
from pipelines.batches import CheckedBatch
from pipelines.checking import check_batch, validate_batch, validate_pending, wait_for_validation
from pipelines.gx_pending import PendingValidations
from pipelines.gx_runner import SuiteRunner
from pipelines.kafka_source import batched
from pipelines.normalise import (
    STAGE_BYTES,
    STAGING_PARQUET,
    HeldTables,
    Normaliser,
    stage_batch,
)
from warehouse.schema import RAW_TEXT, RAW_TEXT_FUNCTION, RAW_TEXT_OF_ANY_SIZE, register_raw_text


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    now = datetime.now(UTC)
    records = [
        KafkaRecord(m.topic, 0, i, 0, m.key, m.value)
        for i, m in enumerate(SyntheticStream(n, 0.02, 5))
    ]
    values = [r.value for r in records]
    for label, paused in (("collector running", False), ("collector paused", True)):
        gc.collect()
        with collector_paused() if paused else contextlib.nullcontext():
            started = time.perf_counter()
            decoded = [orjson.loads(v) for v in values if _decodes(v)]
            seconds = time.perf_counter() - started
        del decoded
        print(f"orjson decode    {seconds:6.2f} s  {1e6 * seconds / n:6.1f} µs/message ({label})")
    seconds = _best_seconds(lambda: [check_value(r.value, topic=r.topic, now=now) for r in records])
    print(f"per-message check{seconds:6.2f} s  {1e6 * seconds / n:6.1f} µs/message (best of 3)")
    as_read = _as_read(records)
    screened = [
        [r.value for r in read if r.value and len(r.value) <= MAX_MESSAGE_BYTES] for read in as_read
    ]
    for label, screen in (
        ("per message", lambda vs: [may_hold_personal_data(v) for v in vs]),
        ("per batch", may_hold_personal_data_each),
    ):
        seconds = _best_seconds(lambda s=screen: [s(vs) for vs in screened])
        print(
            f"personal screen  {seconds:6.2f} s  {1e6 * seconds / n:6.1f} µs/message"
            f" ({label}, batches as read, best of 3)"
        )
    seconds = _best_seconds(lambda: [check_batch(read, now) for read in as_read])
    print(
        f"batch check      {seconds:6.2f} s  {1e6 * seconds / n:6.1f} µs/message"
        " (as read, best of 3)"
    )
    with collector_paused():
        started = time.perf_counter()
        batch = check_batch(records, now)
        seconds = time.perf_counter() - started
    print(f"batch check      {seconds:6.2f} s  {1e6 * seconds / n:6.1f} µs/message (one batch)")
    gc.disable()  # the steps below run with the collector paused, as in the pipeline
    started = time.perf_counter()
    runner = SuiteRunner()
    print(f"GX context       {time.perf_counter() - started:6.2f} s  (once per worker)")
    by_type: dict[str, list[int]] = {}
    for i, event in batch.valid.items():
        by_type.setdefault(event["event_type"], []).append(i)
    for event_type, indexes in sorted(by_type.items()):
        # the whole type, then an eighth of it: a call's fixed cost and its cost per row
        timed = [_validation_seconds(runner, batch, event_type, indexes, now)]
        small = indexes[: max(1, len(indexes) // 8)]
        timed.append(_validation_seconds(runner, batch, event_type, small, now))
        per_row = (timed[0] - timed[1]) / max(1, len(indexes) - len(small))
        print(
            f"GX {event_type:<22} {timed[0]:6.2f} s  ({len(indexes)} rows; per call "
            f"{timed[0] - per_row * len(indexes):.2f} s fixed + {1e6 * per_row:.1f} µs/row)"
        )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as staging:
        stage_batch(Normaliser("profile", now, b"key"), batch, Path(staging))
    seconds = time.perf_counter() - started
    print(f"normalise, stage {seconds:6.2f} s  {1e6 * seconds / n:6.1f} µs/message")
    tables = Normaliser("profile", now, b"key").tables(batch)
    # pyarrow's defaults with zstd, the baseline, then LZ4 without dictionaries with the
    # columns' statistics, and the staging files' options
    with_statistics = {**STAGING_PARQUET, "write_statistics": True}
    for options in ({"compression": "zstd"}, with_statistics, STAGING_PARQUET):
        best = _best_seconds(lambda o=options: _written_bytes(tables, o))
        size = _written_bytes(tables, options)
        dictionaries = "on" if options.get("use_dictionary", True) else "off"
        statistics = "on" if options.get("write_statistics", True) else "off"
        print(
            f"stage as {options['compression']:<4} {best:6.2f} s  {1e6 * best / n:6.1f} µs/message"
            f"  {size / 2**20:,.0f} MiB (dictionaries {dictionaries}, statistics {statistics};"
            " best of 3)"
        )
    _raw_text_seconds(tables["quarantine"])
    _staged_per_batch_and_together(as_read, now, n)
    _held_against_per_batch(records, runner, now)
    print("by topic:")
    _per_topic(records, runner, now)
    gc.enable()


def _staged_per_batch_and_together(as_read: list[list[KafkaRecord]], now: datetime, n: int) -> None:
    """The staging files written per batch read, against held and written together once
    ``STAGE_BYTES`` of tables wait (``HeldTables``, as the pipeline's step does): writing
    only, the tables built first."""
    normaliser = Normaliser("profile", now, b"key")
    tables = [normaliser.tables(check_batch(read, now)) for read in as_read]
    for label, stage_bytes in (("a file per batch", 0), ("files of many batches", STAGE_BYTES)):
        with tempfile.TemporaryDirectory() as staging:
            held = HeldTables(Path(staging), stage_bytes)
            started = time.process_time()
            files = sum(len(held.add(t)) for t in tables) + len(held.flush())
            seconds = time.process_time() - started
        print(
            f"stage, write     {seconds:6.2f} s  {1e6 * seconds / n:6.1f} µs/message"
            f"  {files:,} files ({label}, batches as read, CPU)"
        )


def _per_topic(records: list[KafkaRecord], runner: SuiteRunner, now: datetime) -> None:
    """Each topic's cost a message of it in the batch check (``check_batch``) and in the two
    steps after it that build from its events: normalising (``Normaliser.tables``, no
    write) and building its GX frames (``wait_for_validation``), over its batches as read,
    best of 3 each; then the normalisation of the batches of values past
    ``MAX_MESSAGE_BYTES`` (``batched`` puts them apart), quarantined whole."""
    normaliser = Normaliser("profile", now, b"key")
    oversize: list[CheckedBatch] = []
    for topic in sorted({r.topic for r in records}):
        read = _as_read([r for r in records if r.topic == topic])
        checked = _best_seconds(lambda t=read: [check_batch(b, now) for b in t])
        batches = [check_batch(b, now) for b in read]
        oversize += [b for b in batches if _oversize(b)]
        n = sum(len(b.records) for b in batches)
        normalised = _best_seconds(lambda t=batches: [normaliser.tables(b) for b in _cold(t)])
        framed = _best_seconds(
            lambda t=batches: [
                wait_for_validation(PendingValidations(), b, runner) for b in _cold(t)
            ]
        )
        print(
            f"  {topic:<28} check {1e6 * checked / n:5.1f} µs, normalise"
            f" {1e6 * normalised / n:5.1f} µs, GX frames {1e6 * framed / n:5.1f} µs a message"
            f" ({n:,})"
        )
    n = sum(len(b.records) for b in oversize)
    if n:
        seconds = _best_seconds(lambda: [normaliser.tables(b) for b in oversize])
        print(f"  oversize values, quarantined: {1e3 * seconds / n:5.2f} ms a message ({n:,})")


def _oversize(batch: CheckedBatch) -> bool:
    return all(len(r.value or b"") > MAX_MESSAGE_BYTES for r in batch.records)


def _written_bytes(tables: dict[str, pa.Table], options: dict[str, Any]) -> int:
    """The bytes of ``tables`` written as Parquet with ``options``."""
    size = 0
    for table in tables.values():
        sink = io.BytesIO()
        pq.write_table(table, sink, **options)
        size += sink.tell()
    return size


def _raw_text_seconds(quarantine: pa.Table) -> None:
    """``quarantine.events.raw_text`` of the quarantined messages as the commit derives it
    (``RAW_TEXT``: DuckDB's own decode where it can, no text of an oversize message)
    against the text of every message whatever its size, and the Python function on every
    row: its baselines."""
    con = duckdb.connect()
    register_raw_text(con)
    con.register("quarantine", quarantine.select(["raw_value"]))
    mib = sum(len(v or b"") for v in quarantine.column("raw_value").to_pylist()) / 2**20
    for label, expression in (
        ("raw_text", RAW_TEXT),
        ("  oversize too", RAW_TEXT_OF_ANY_SIZE),
        ("  function only", f"{RAW_TEXT_FUNCTION}(raw_value)"),
    ):
        started = time.perf_counter()
        con.execute(f"create or replace temp table texts as select {expression} from quarantine")
        seconds = time.perf_counter() - started
        print(
            f"{label:<16} {seconds:6.2f} s  ({quarantine.num_rows:,} quarantined, {mib:,.0f} MiB)"
        )


def _best_seconds(step: Callable[[], object], repeats: int = 3) -> float:
    """The fastest of ``repeats`` runs of ``step`` with the collector paused: this machine's
    speed moves by 10–30% between runs of a few seconds, the fastest run least."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        with collector_paused():
            started = time.perf_counter()
            step()
            best = min(best, time.perf_counter() - started)
    return best


def _as_read(records: list[KafkaRecord]) -> list[list[KafkaRecord]]:
    """The records in the batches a pass reads them in: topic by topic, up to
    ``ingest.batch_records`` messages or ``ingest.batch_bytes`` bytes each."""
    ingest = IngestSettings()
    in_order = sorted(records, key=lambda r: (r.topic, r.offset))
    return list(batched(in_order, ingest.batch_records, ingest.batch_bytes))


def _held_against_per_batch(records: list[KafkaRecord], runner: SuiteRunner, now: datetime) -> None:
    """GX over the messages read as a pass reads them (topic by topic, in batches of
    ``ingest.batch_bytes``): a validation per batch against the frames of many batches
    held until ``ingest.gx_rows`` frame rows wait (``pipelines.gx_pending``)."""
    ingest = IngestSettings()
    batches = [check_batch(b, now) for b in _as_read(records)]
    n = len(records)
    seconds = _best_seconds(
        lambda: [wait_for_validation(PendingValidations(), b, runner) for b in _cold(batches)]
    )
    print(f"GX frames built  {seconds:6.2f} s  {1e6 * seconds / n:6.1f} µs/message (best of 3)")
    normaliser = Normaliser("profile", now, b"key")
    seconds = _best_seconds(
        lambda: [
            (wait_for_validation(PendingValidations(), b, runner), normaliser.tables(b))
            for b in _cold(batches)
        ]
    )
    print(
        f"  and normalise  {seconds:6.2f} s  {1e6 * seconds / n:6.1f} µs/message (the two steps"
        " of each batch, which convert its columns to Arrow once)"
    )
    held = PendingValidations()
    for batch in batches:
        wait_for_validation(held, batch, runner)
    rows = held.rows
    started = time.perf_counter()
    size = held.frame_bytes()  # what ``PendingValidations.holds`` measures
    seconds = time.perf_counter() - started
    print(
        f"GX frames held   {size / rows:6.0f} bytes a frame row ({rows:,} rows;"
        f" measured in {1e6 * seconds / rows:.2f} µs a row)"
    )
    started = time.perf_counter()
    for batch in batches:
        validate_batch(batch, runner, now)
    seconds = time.perf_counter() - started
    print(f"GX per batch     {seconds:6.2f} s  {1e6 * seconds / n:6.1f} µs/message")
    seconds = _held_seconds(batches, runner, now, ingest.gx_rows)
    print(
        f"GX held frames   {seconds:6.2f} s  {1e6 * seconds / n:6.1f} µs/message"
        f"  (a validation per {ingest.gx_rows:,} frame rows)"
    )
    # the baseline of ``pipelines.gx_memo``: the same validations with GX's own code
    with mock.patch.object(gx_runner, "memoised_configurations", contextlib.nullcontext):
        seconds = _held_seconds(batches, runner, now, ingest.gx_rows)
    print(f"  without gx_memo {seconds:6.2f} s  {1e6 * seconds / n:6.1f} µs/message")
    # as a pass validates: through a project's checkpoints, which store every result and
    # check that what they run is what their stores hold (``gx_memo.memoised_freshness``)
    with tempfile.TemporaryDirectory() as folder:
        project = SuiteRunner(project_root=Path(folder) / "gx")
        freshness = gx_runner.memoised_freshness
        for label, memo in (("", freshness), (", freshness each time", contextlib.nullcontext)):
            with mock.patch.object(gx_runner, "memoised_freshness", memo):
                seconds = min(
                    _held_seconds(batches, project, now, ingest.gx_rows) for _ in range(2)
                )
            print(
                f"GX held, project{seconds:6.2f} s  {1e6 * seconds / n:6.1f} µs/message"
                f"  (checkpoints and stores, as a pass; best of 2{label})"
            )


def _held_seconds(
    batches: list[CheckedBatch], runner: SuiteRunner, now: datetime, gx_rows: int
) -> float:
    """GX over ``batches`` as a worker validates them: once ``gx_rows`` frame rows wait."""
    started = time.perf_counter()
    pending = PendingValidations()
    for batch in batches:
        wait_for_validation(pending, batch, runner)
        if pending.rows >= gx_rows:
            validate_pending(pending, runner, now)
    validate_pending(pending, runner, now)
    return time.perf_counter() - started


def _validation_seconds(
    runner: SuiteRunner, batch: Any, event_type: str, indexes: list[int], now: datetime
) -> float:
    """One validation of the events at ``indexes``, from the batch check's columns as in a
    pass."""
    started = time.perf_counter()
    events = [batch.valid[i] for i in indexes]
    runner.validate(event_type, events, now=now, columns=batch.columns(event_type, indexes))
    return time.perf_counter() - started


def _cold(batches: list[CheckedBatch]) -> list[CheckedBatch]:
    """The batches without the Arrow arrays and answer rows a step made before
    (``CheckedBatch.arrow``, ``CheckedBatch.answer_columns``): each timed step makes its
    own, as a pass's first does."""
    for batch in batches:
        batch.arrays.clear()
        batch.answers.clear()
    return batches


def _decodes(value: bytes | None) -> bool:
    try:
        orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return False
    return True


if __name__ == "__main__":
    main()
