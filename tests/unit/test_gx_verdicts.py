"""GX validates the frames of many batches at once, and its verdicts reach the commit apart
from the events: the same verdicts as a validation per batch, and an event GX rejects is
quarantined by the commit exactly as the staging step quarantined it before."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from contracts.corpus import seed_corpus
from contracts.export.gx_suites import ROW_ID
from contracts.spec import contracts
from contracts.synthetic import SyntheticStream
from finradar.settings import load_settings
from handoff.records import KafkaRecord, PartitionRange
from pipelines.batches import CheckedBatch
from pipelines.checking import (
    _ValidateFn,
    _ValidateInPoolFn,
    check_batch,
    validate_batch,
    validate_pending,
    wait_for_validation,
)
from pipelines.gx_pending import PendingValidations, rows_between
from pipelines.gx_pool import close_pools
from pipelines.gx_runner import SuiteRunner, shared_runner
from pipelines.normalise import Normaliser, stage_batch, stage_verdicts
from warehouse.lake import connect
from warehouse.landing import land

NOW = datetime(2026, 11, 26, tzinfo=UTC)
SURVEY_TOPIC = contracts()["survey_response"].topic


def _synthetic_batches(n: int, size: int) -> list[list[KafkaRecord]]:
    records = [
        KafkaRecord(m.topic, 0, i, 0, m.key, m.value)
        for i, m in enumerate(SyntheticStream(n, 0.05, 11))
    ]
    return [records[i : i + size] for i in range(0, n, size)]


def _answered_twice() -> list[dict]:
    """A survey response, the same response answering one question twice (its suites
    reject it: ``duplicate_question``), and another response under that second event id."""
    survey = next(e for e in seed_corpus() if e["event_type"] == "survey_response")
    twice = json.loads(json.dumps(survey))
    twice["event_id"] = "answered-twice"
    twice["payload"]["answers"].append(twice["payload"]["answers"][0])
    other = json.loads(json.dumps(survey))
    other["event_id"] = "answered-twice"
    other["payload"]["answers"] = other["payload"]["answers"][:1]
    return [survey, twice, other]


def test_pending_frames_are_renumbered_and_taken_whole():
    pending = PendingValidations()
    first = {"s": pd.DataFrame({ROW_ID: [0, 1], "v": ["a", "b"]})}
    second = {"s": pd.DataFrame({ROW_ID: [0, 0, 1], "v": ["c", "d", "e"]})}
    pending.add("t", first, [("x", 0, 10), ("x", 0, 11)])
    pending.add("t", second, [("x", 0, 12), ("x", 0, 13)])
    assert pending.rows == 5 and pending.event_types() == ["t"]
    frames, coordinates = pending.take("t")
    assert frames["s"][ROW_ID].tolist() == [0, 1, 2, 2, 3]
    assert coordinates == [("x", 0, 10), ("x", 0, 11), ("x", 0, 12), ("x", 0, 13)]
    assert pending.rows == 0 and pending.event_types() == []
    part = rows_between(frames, 2, 4)
    assert part["s"][ROW_ID].tolist() == [0, 0, 1] and part["s"]["v"].tolist() == ["c", "d", "e"]


def test_one_validation_of_many_batches_gives_each_batch_s_verdicts():
    runner = SuiteRunner()
    batches = [check_batch(records, NOW) for records in _synthetic_batches(1500, 400)]
    for offset in (5000, 6000):  # two batches with a response GX rejects
        events = _answered_twice()
        records = [
            KafkaRecord(SURVEY_TOPIC, 1, offset + i, 0, b"k", json.dumps(e).encode())
            for i, e in enumerate(events)
        ]
        batches.insert(offset // 2000, CheckedBatch(records, valid=dict(enumerate(events))))
    together = PendingValidations()
    for batch in batches:
        wait_for_validation(together, batch, runner)
    whole = validate_pending(together, runner, NOW)
    apart = [validate_batch(batch, runner, NOW) for batch in batches]
    assert sorted(whole.rejected) == sorted(r for v in apart for r in v.rejected)
    assert {c for c, _ in whole.rejected} >= {(SURVEY_TOPIC, 1, 5001), (SURVEY_TOPIC, 1, 6001)}
    checked = {(c, s.suite): s.rows_checked for c, s in whole.suites}
    for contract, suite in {(c, s.suite) for v in apart for c, s in v.suites}:
        rows = sum(
            s.rows_checked for v in apart for c, s in v.suites if (c, s.suite) == (contract, suite)
        )
        assert checked[(contract, suite)] == rows


def test_an_event_gx_fails_on_in_a_long_validation_is_isolated(monkeypatch: pytest.MonkeyPatch):
    runner = SuiteRunner()
    pending = PendingValidations()
    for records in _synthetic_batches(600, 200):
        wait_for_validation(pending, check_batch(records, NOW), runner)
    frames, coordinates = pending.take("spend_disclosure")
    poison = frames["spend_disclosure"]["event_id"].iloc[37]
    validate_frames = runner.validate_frames

    def fails_on_poison(parts, now=None, screen=False, **kwargs):
        if (parts["spend_disclosure"]["event_id"] == poison).any():
            raise ValueError("GX cannot read this frame")
        return validate_frames(parts, now, screen, **kwargs)

    monkeypatch.setattr(runner, "validate_frames", fails_on_poison)
    again = PendingValidations()
    again.add("spend_disclosure", frames, coordinates)
    verdicts = validate_pending(again, runner, NOW)
    internal = [c for c, reasons in verdicts.rejected if reasons[0].code == "internal_error"]
    assert internal == [coordinates[37]]


def test_the_commit_quarantines_what_gx_rejected_as_staging_did(tmp_path: Path):
    """The rejected response lands in quarantine with its bytes and GX's reasons (the row
    ``Normaliser`` builds for a rejected record), and takes no part in deciding the
    duplicates: the later response under its event id lands."""
    events = _answered_twice()
    records = [
        KafkaRecord(SURVEY_TOPIC, 0, i, 1_700_000_000_000, b"k", json.dumps(e).encode())
        for i, e in enumerate(events)
    ]
    batch = CheckedBatch(records, valid=dict(enumerate(events)))
    verdicts = validate_batch(batch, shared_runner(), NOW)
    ((coordinates, reasons),) = verdicts.rejected
    assert coordinates == (SURVEY_TOPIC, 0, 1)
    staging = tmp_path / "staging"
    normaliser = Normaliser("b1", NOW, b"key")
    staged = stage_batch(normaliser, batch, staging) + stage_verdicts(verdicts, staging)
    con = connect(load_settings(var_dir=tmp_path / "var"))
    try:
        summary = land(con, "b1", [PartitionRange(SURVEY_TOPIC, 0, 0, 3)], staged, NOW, "t")
        assert (summary.landed, summary.quarantined) == (2, 1)
        assert summary.by_reason == {reasons[0].code: 1}
        landed = con.execute("select kafka_offset from ops.landed_events order by 1").fetchall()
        assert landed == [(0,), (2,)]
        columns = [
            "kafka_topic",
            "kafka_partition",
            "kafka_offset",
            "kafka_timestamp",
            "message_key",
            "raw_value",
            "raw_sha256",
            "redacted",
            "event_id",
            "event_type",
            "reason_code",
            "reason_detail",
            "reasons",
        ]
        (row,) = con.execute(f"select {', '.join(columns)} from quarantine.events").fetchall()
        failed = con.execute(
            "select rows_failed from dq.validation_runs where contract = 'survey_response'"
        ).fetchone()
    finally:
        con.close()
    kept = dict(zip(columns, row, strict=True))
    expected = normaliser._quarantine_row(records[1], reasons)
    assert kept["raw_value"] == records[1].value
    assert kept["raw_sha256"] == hashlib.sha256(records[1].value).hexdigest()
    assert int(kept["kafka_timestamp"].timestamp() * 1000) == expected.pop("kafka_timestamp")
    del kept["kafka_timestamp"]
    assert kept == expected
    assert failed == (1,)


def _long_texts(field: str) -> list[CheckedBatch]:
    """300 valid events, each with ~65 KB of its own text in ``field`` of its source."""
    records = []
    for i, m in enumerate(SyntheticStream(300, 0.0, 11)):
        event = json.loads(m.value)
        event["source"][field] = f"document {i} " * 5_000
        records.append(KafkaRecord(m.topic, 0, i, 0, m.key, json.dumps(event).encode()))
    batches = [check_batch(records[i : i + 20], NOW) for i in range(0, len(records), 20)]
    assert all(len(b.valid) == len(b.records) for b in batches)
    return batches


def _validated(batches: list[CheckedBatch], frame_bytes: int) -> tuple[list, list[int]]:
    """What a worker's validation step yields over ``batches`` (rows never the bound), and
    the bytes its frames held after each batch."""
    fn = _ValidateFn(NOW, None, None, rows=10**9, frame_bytes=frame_bytes)
    fn.setup()
    fn.start_bundle()
    validated, held = [], []
    for batch in batches:
        validated += list(fn.process(batch))
        held.append(fn.pending.frame_bytes())
    validated += [v.value for v in fn.finish_bundle()]
    return validated, held


def test_frames_wait_for_gx_up_to_their_bytes() -> None:
    """Events of long texts (a source's document: the contract bounds only the message)
    make few frame rows large: a worker validates once its waiting frames hold
    ``frame_bytes``, not only once ``rows`` rows wait, and every event keeps its verdict.
    A message's bytes in a field no suite reads stay out of the frames and out of the
    count: they do not cut validations short (each costs GX's fixed time)."""
    limit = 1 << 20
    batches = _long_texts("document")
    validated, held = _validated(batches, limit)
    assert max(held) < 2 * limit  # ~20 MB of documents waited a megabyte or two at a time
    assert len(validated) >= 8
    spend = contracts()["spend_disclosure"]
    checked = sum(s.rows_checked for v in validated for t, s in v.suites if t == spend.event_type)
    assert checked == sum(r.topic == spend.topic for b in batches for r in b.records) > 0
    unread, _ = _validated(_long_texts("notes_of_the_producer"), limit)
    assert len(unread) == 1  # one validation, when the bundle ends


def test_the_worker_pool_s_verdicts_leave_as_batches_are_done() -> None:
    """``follow`` validates in a pool of processes: a pass over a large backlog (its first
    after a pause) must not hold every batch's events until it ends. At most
    ``in_flight`` batches wait for the pool, and the verdicts are those of a validation
    in this process."""
    batches = [check_batch(b, NOW) for b in _synthetic_batches(360, 60)]
    fn = _ValidateInPoolFn(NOW, workers=1, in_flight=2)
    fn.start_bundle()
    verdicts = []
    try:
        for batch in batches:
            verdicts += list(fn.process(batch))
            assert len(fn.pending) <= 2
        assert len(verdicts) >= len(batches) - 2
        verdicts += [v.value for v in fn.finish_bundle()]
    finally:
        close_pools()
    runner = SuiteRunner()
    expected = [validate_batch(b, runner, NOW) for b in batches]
    assert sorted(r for v in verdicts for r in v.rejected) == sorted(
        r for v in expected for r in v.rejected
    )
    assert sum(s.rows_checked for v in verdicts for _, s in v.suites) == sum(
        s.rows_checked for v in expected for _, s in v.suites
    )
