"""The ingest's composite transforms on in-memory messages, with Beam's TestPipeline."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that

from contracts.corpus import seed_corpus
from contracts.spec import contracts
from finradar.settings import load_settings
from handoff.records import KafkaRecord
from handoff.validation import ValidatedRows
from pipelines.batches import CheckedBatch
from pipelines.checking import DecodeAndCheck, ValidateWithSuites
from pipelines.normalise import NormaliseAndStage, Normaliser
from tests.fixtures.contract import invalid_fixtures

NOW = datetime(2026, 11, 26, tzinfo=UTC)
TOPICS = {c.event_type: c.topic for c in contracts().values()}


def corpus_records() -> list[KafkaRecord]:
    return [
        KafkaRecord(
            TOPICS[e["event_type"]],
            0,
            i,
            1_700_000_000_000,
            e["subject"]["entity_id"].encode(),
            json.dumps(e, ensure_ascii=False).encode(),
        )
        for i, e in enumerate(seed_corpus())
    ]


def bad_records() -> list[tuple[KafkaRecord, str]]:
    return [
        (KafkaRecord(topic, 1, i, None, None, value), code)
        for i, (_name, code, topic, value) in enumerate(invalid_fixtures())
    ]


def _pipeline() -> BeamTestPipeline:
    return BeamTestPipeline(runner="FnApiRunner")


def test_decode_and_check_splits_valid_from_rejected():
    bad = bad_records()
    records = corpus_records()[:50] + [r for r, _ in bad]

    def check(batches: list[CheckedBatch]) -> None:
        (batch,) = batches
        assert sorted(batch.valid) == list(range(50))
        got = {i - 50: [r.code for r in reasons] for i, reasons in batch.rejected.items()}
        assert got == {i: [code] for i, (_, code) in enumerate(bad)}

    with _pipeline() as p:
        out = p | beam.Create([records]) | "Check" >> DecodeAndCheck(NOW)
        assert_that(out, check)


def test_suites_reject_what_a_flat_row_shows():
    survey = next(e for e in seed_corpus() if e["event_type"] == "survey_response")
    twice = json.loads(json.dumps(survey))
    twice["event_id"] = "dup-question"
    twice["payload"]["answers"].append(twice["payload"]["answers"][0])
    records = [
        KafkaRecord(TOPICS["survey_response"], 0, i, None, b"k", json.dumps(e).encode())
        for i, e in enumerate([survey, twice])
    ]
    batch = CheckedBatch(records, valid={0: survey, 1: twice})

    def check(verdicts: list[ValidatedRows]) -> None:
        (out,) = verdicts
        ((coordinates, reasons),) = out.rejected
        assert coordinates == (TOPICS["survey_response"], 0, 1)
        assert "duplicate_question" in {r.code for r in reasons}
        assert {name for name, _ in out.suites} == {"survey_response"}

    with _pipeline() as p:
        out = p | beam.Create([batch]) | "GX" >> ValidateWithSuites(NOW)
        assert_that(out, check)


def test_normalise_builds_every_staging_table(tmp_path: Path):
    records = corpus_records()
    survey = next(i for i, r in enumerate(records) if r.topic == TOPICS["survey_response"])
    event = json.loads(records[survey].value)
    event["payload"]["respondent_email"] = "Wang.Fang@bank.example.cn"
    records[survey] = records[survey]._replace(value=json.dumps(event).encode())
    batch = CheckedBatch(records, valid={i: json.loads(r.value) for i, r in enumerate(records)})
    bad_index = len(records)
    batch.records.append(KafkaRecord(TOPICS["spend_disclosure"], 2, 7, None, None, b"{oops"))
    from contracts.checks import Reason

    batch.rejected[bad_index] = [Reason("invalid_json", "Expecting property name")]
    tables = Normaliser("b1", NOW, b"key").tables(batch)
    assert tables["spend_disclosures"].num_rows == 100
    spend = tables["spend_disclosures"].to_pylist()
    icbc = next(r for r in spend if r["event_id"] == "seed-003-chart16-icbc-2019")
    assert icbc["amount_yi"] == pytest.approx(163.74)
    in_wan = json.loads(next(r.value for r in records if b"chart16-icbc" in r.value))
    in_wan["payload"].update(amount=1_637_400, unit="wan")
    wan_batch = CheckedBatch(records[:1], valid={0: in_wan})
    (row,) = Normaliser("b2", NOW, b"key").tables(wan_batch)["spend_disclosures"].to_pylist()
    assert row["amount_yi"] == pytest.approx(163.74)
    responses = tables["survey_responses"].to_pylist()
    hashed = [r for r in responses if r["respondent_email_hash"]]
    assert len(hashed) == 1 and hashed[0]["respondent_email_hash"].startswith("hmac-sha256:")
    assert "Wang.Fang" not in hashed[0]["raw_json"]
    assert tables["survey_answers"].num_rows == sum(
        len(e["payload"]["answers"]) for e in seed_corpus() if e["event_type"] == "survey_response"
    )
    (q,) = tables["quarantine"].to_pylist()
    assert (q["raw_value"], q["reason_code"], q["kafka_offset"]) == (b"{oops", "invalid_json", 7)
    reads = {
        (r["kafka_topic"], r["kafka_partition"]): r["records"] for r in tables["_reads"].to_pylist()
    }
    assert sum(reads.values()) == len(batch.records)
    assert tables["_valid"].num_rows == bad_index


def test_normalise_and_stage_writes_parquet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    settings = load_settings(ingest={"pii_hash_key": "a-key-of-this-test"})
    key = settings.ingest.pii_hash_key
    assert key.env_name is not None
    # the step carries a reference to the key, read from the worker's environment
    monkeypatch.setenv(key.env_name, key.get_secret_value())
    records = corpus_records()[:20]
    batch = CheckedBatch(records, valid={i: json.loads(r.value) for i, r in enumerate(records)})

    def check(staged) -> None:
        tables = {s.table: s for s in staged}
        assert {"spend_disclosures", "_valid", "_reads"} <= set(tables)
        assert pq.read_table(tables["_valid"].path).num_rows == 20

    with _pipeline() as p:
        out = p | beam.Create([batch]) | "Stage" >> NormaliseAndStage(tmp_path, "b1", NOW, key)
        assert_that(out, check)


@pytest.mark.parametrize(("stage_bytes", "valid_files"), [(32 << 20, 1), (1, 4)])
def test_normalise_and_stage_writes_the_tables_of_many_batches_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage_bytes: int, valid_files: int
):
    settings = load_settings(ingest={"pii_hash_key": "a-key-of-this-test"})
    key = settings.ingest.pii_hash_key
    assert key.env_name is not None
    monkeypatch.setenv(key.env_name, key.get_secret_value())
    records = corpus_records()[:40]
    batches = [
        CheckedBatch(part, valid={i: json.loads(r.value) for i, r in enumerate(part)})
        for part in (records[k : k + 10] for k in range(0, 40, 10))
    ]

    def check(staged) -> None:
        valid = [s for s in staged if s.table == "_valid"]
        # held until ``stage_bytes`` wait (or the bundle ends), else a file per batch
        assert len(valid) == valid_files
        rows = pq.read_table([s.path for s in valid]).to_pylist()
        assert sorted(r["kafka_offset"] for r in rows) == list(range(40))
        assert sum(s.rows for s in staged if s.table == "_reads") > 0

    with _pipeline() as p:
        out = (
            p
            | beam.Create(batches)
            | "Stage" >> NormaliseAndStage(tmp_path, "b1", NOW, key, stage_bytes=stage_bytes)
        )
        assert_that(out, check)


@pytest.mark.parametrize("partitions", [[0], [0, 1, 2]])
def test_reads_count_each_partitions_records_and_offset_span(partitions: list[int]) -> None:
    """``_reads``, the accounting's ``consumed``: per partition its records and first and
    last offsets, whatever their order in the batch (one partition's range, or a small
    pass's batch of a topic's partitions)."""
    rng = random.Random(7)
    records = [
        KafkaRecord(TOPICS["spend_disclosure"], p, offset, None, None, b"{}")
        for p in partitions
        for offset in rng.sample(range(100 * p, 100 * p + 90), 40 + p)
    ]
    rng.shuffle(records)
    reads = Normaliser("b1", NOW, b"key").tables(CheckedBatch(records))["_reads"].to_pylist()
    expected = {
        p: (
            sum(r.partition == p for r in records),
            min(r.offset for r in records if r.partition == p),
            max(r.offset for r in records if r.partition == p),
        )
        for p in partitions
    }
    assert {
        r["kafka_partition"]: (r["records"], r["first_offset"], r["last_offset"]) for r in reads
    } == expected
    assert {r["kafka_topic"] for r in reads} == {TOPICS["spend_disclosure"]}
