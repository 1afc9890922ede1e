"""Whatever one record does at any stage, it ends in quarantine with a reason and the others
go on: GX raising on one event, a row Arrow refuses, a value the warehouse cannot cast, a
reason text DuckLake's catalog would garble."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from contracts.checks import Reason, check_value
from contracts.corpus import seed_corpus
from contracts.spec import contracts
from finradar.settings import load_settings
from handoff.errors import AccountingError
from handoff.records import KafkaRecord, PartitionRange
from handoff.staging import StagedFile, staging_schemas
from handoff.validation import BatchValidation
from pipelines.batches import CheckedBatch
from pipelines.checking import check_batch
from pipelines.gx_runner import validate_isolating
from pipelines.normalise import Normaliser, stage_batch
from warehouse.lake import connect
from warehouse.landing import land
from warehouse.schema import create_all

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def _spend_records(n: int) -> list[KafkaRecord]:
    events = [e for e in seed_corpus() if e["event_type"] == "spend_disclosure"][:n]
    topic = contracts()["spend_disclosure"].topic
    return [
        KafkaRecord(topic, 0, i, 0, b"k", json.dumps(e, ensure_ascii=False).encode())
        for i, e in enumerate(events)
    ]


def test_an_event_gx_fails_on_is_an_internal_error_and_the_others_keep_their_verdicts():
    events = [{"n": i} for i in range(7)]

    def validate(batch: list[dict[str, Any]]) -> BatchValidation:
        if {"n": 4} in batch:
            raise ValueError("GX cannot read this frame")
        return BatchValidation(
            {i: [Reason("out_of_range", "x")] for i, e in enumerate(batch) if e["n"] == 1}, []
        )

    result = validate_isolating(validate, events)
    assert sorted(result.failures) == [1, 4]
    assert result.failures[1] == [Reason("out_of_range", "x")]
    (reason,) = result.failures[4]
    assert reason.code == "internal_error" and "ValueError" in reason.detail


def test_a_failure_outside_the_data_is_not_isolated():
    from finradar.errors import TransientError

    def validate(batch: list[dict[str, Any]]) -> BatchValidation:
        raise TransientError("survey definitions changed")

    with pytest.raises(TransientError):
        validate_isolating(validate, [{"n": 1}, {"n": 2}])


def _defect(batch: CheckedBatch, index: int, field: str, value: Any, columns: bool) -> None:
    """A value past the checker, in the event and (``columns``) in the batch's gathered
    columns, which the column path builds from; without, the row path builds the batch."""
    batch.valid[index]["payload"][field] = value
    if not columns:
        batch.screened = {}
        return
    screened = batch.screened["spend_disclosure"]
    screened.columns[f"payload.{field}"][screened.where()[index]] = value


@pytest.mark.parametrize("columns", [True, False], ids=["column path", "row path"])
def test_a_row_arrow_refuses_quarantines_its_record_only(columns: bool):
    records = _spend_records(5)
    batch = check_batch(records, NOW)
    assert len(batch.valid) == 5
    _defect(batch, 2, "tech_headcount", 2**70, columns)  # past the checker: int64 refuses it
    tables = Normaliser("b1", NOW, b"key").tables(batch)
    assert tables["spend_disclosures"].num_rows == 4
    quarantined = tables["quarantine"].to_pylist()
    assert [q["kafka_offset"] for q in quarantined] == [2]
    assert quarantined[0]["reason_code"] == "internal_error"
    assert "staging spend_disclosures" in quarantined[0]["reason_detail"]
    assert tables["_reads"].to_pylist()[0]["records"] == 5


@pytest.mark.parametrize("columns", [True, False], ids=["column path", "row path"])
def test_a_record_whose_rows_cannot_be_built_is_quarantined(columns: bool):
    records = _spend_records(3)
    batch = check_batch(records, NOW)
    _defect(batch, 1, "unit", "no-such-unit", columns)  # the unit-scale lookup raises
    tables = Normaliser("b1", NOW, b"key").tables(batch)
    (row,) = tables["quarantine"].to_pylist()
    assert row["kafka_offset"] == 1 and row["reason_detail"].startswith("normalise: KeyError")


def test_a_value_the_warehouse_cannot_cast_is_quarantined_at_landing(tmp_path: Path):
    settings = load_settings(var_dir=tmp_path / "var")
    records = _spend_records(4)
    batch = check_batch(records, NOW)
    staged = stage_batch(Normaliser("b1", NOW, b"key"), batch, tmp_path / "staging")
    # a gap between the checker and the warehouse: a date the checker let through
    spend = next(s for s in staged if s.table == "spend_disclosures")
    table = pq.read_table(spend.path)
    vintages = table.column("vintage").to_pylist()
    vintages[3] = "2020-02-30"
    table = table.set_column(
        table.schema.get_field_index("vintage"), "vintage", pa.array(vintages, pa.string())
    )
    pq.write_table(table, spend.path)
    con = connect(settings)
    try:
        summary = land(con, "b1", [PartitionRange(records[0].topic, 0, 0, 4)], staged, NOW, "t")
        assert (summary.landed, summary.quarantined) == (3, 1)
        assert summary.by_reason == {"internal_error": 1}
        code, detail, raw = con.execute(
            "select reason_code, reason_detail, raw_value from quarantine.events"
        ).fetchone()
        assert code == "internal_error"
        assert detail == "landing: raw.spend_disclosures: vintage 2020-02-30 is not a date"
        assert raw == records[3].value
    finally:
        con.close()


@pytest.mark.parametrize("verdict", ["land", "rejected"])
def test_a_valid_event_without_its_raw_row_fails_the_commit(tmp_path: Path, verdict: str):
    """A staged valid event whose raw-table row is missing (the two are written together:
    this is a defect, not bad data) fails the commit in one line, whether it would land or
    go to quarantine with the bytes its raw row holds: nothing is counted that is kept
    nowhere, and the offsets stay where they were."""
    settings = load_settings(var_dir=tmp_path / "var")
    records = _spend_records(4)
    staged = stage_batch(Normaliser("b1", NOW, b"key"), check_batch(records, NOW), tmp_path)
    spend = next(s for s in staged if s.table == "spend_disclosures")
    table = pq.read_table(spend.path)
    pq.write_table(table.filter(pa.compute.not_equal(table["kafka_offset"], 3)), spend.path)
    if verdict == "rejected":  # as the GX suites would stage it
        rejected = tmp_path / "gx_rejected.parquet"
        reasons = [{"code": "gx_expectation_failed", "detail": "a suite failed it"}]
        row = {"kafka_topic": records[3].topic, "kafka_partition": 0, "kafka_offset": 3}
        schema = staging_schemas()["_gx_rejected"]
        pq.write_table(pa.Table.from_pylist([{**row, "reasons": reasons}], schema), rejected)
        staged.append(StagedFile("_gx_rejected", str(rejected), 1))
    con = connect(settings)
    try:
        plan = [PartitionRange(records[0].topic, 0, 0, 4)]
        with pytest.raises(AccountingError) as failed:
            land(con, "b1", plan, staged, NOW, "t")
        expected = {
            "land": "raw.spend_disclosures: 3 rows inserted where the verdicts give 4",
            "rejected": "quarantine.events: 0 rows inserted where the verdicts give 1",
        }
        assert str(failed.value).startswith(expected[verdict])
        assert con.execute("select count(*) from ops.kafka_offsets").fetchone() == (0,)
    finally:
        con.close()


@pytest.mark.parametrize("text", ["it's", "brace}", "back\\", "{'code': x}", "中文 ']'"])
def test_a_reason_quoting_any_text_reads_back_exactly(tmp_path: Path, text: str):
    """DuckLake keeps small inserts in its catalog and reads STRUCT values back wrong;
    tables with a STRUCT column write files instead (``warehouse.schema``)."""
    settings = load_settings(var_dir=tmp_path / "var")
    con = connect(settings)
    reasons = [{"code": "unknown_enum", "detail": f"subject.level: {text!r} is not a level"}]
    try:
        create_all(con)
        con.execute(
            "insert into quarantine.events (kafka_topic, reasons) values ('t', ?)", [reasons]
        )
    finally:
        con.close()
    con = connect(settings, read_only=True)
    try:
        assert con.execute("select reasons from quarantine.events").fetchone()[0] == reasons
    finally:
        con.close()


def test_no_table_with_a_struct_column_is_inlined(tmp_path: Path):
    con = connect(load_settings(var_dir=tmp_path / "var"))
    try:
        create_all(con)
        nested = {
            f"{schema}.{table}"
            for schema, table in con.execute(
                "select distinct table_schema, table_name from information_schema.columns "
                "where table_catalog = 'lake' and data_type like '%STRUCT%'"
            ).fetchall()
        }
        off = {
            scope
            for name, _, value, _, scope in con.execute("from lake.options()").fetchall()
            if name == "data_inlining_row_limit" and value == "0"
        }
    finally:
        con.close()
    assert {"quarantine.events", "raw.deployment_milestones"} <= nested
    assert nested <= off


def test_check_value_turns_a_checker_defect_into_an_internal_error(monkeypatch):
    import contracts.checks as checks

    def broken(*args: Any, **kwargs: Any) -> list[Reason]:
        raise ZeroDivisionError("a defect")

    monkeypatch.setattr(checks, "check_event", broken)
    value = json.dumps(seed_corpus()[0], ensure_ascii=False).encode()
    _, reasons = check_value(value, topic=contracts()["spend_disclosure"].topic, now=NOW)
    assert [r.code for r in reasons] == ["internal_error"]
    assert reasons[0].detail == "contract check: ZeroDivisionError: a defect"


def test_follow_s_pool_isolates_a_suite_that_fails_after_an_earlier_suite_rejected(
    monkeypatch: pytest.MonkeyPatch,
):
    """A survey batch's suites run as separate jobs: the response suite rejects event 0,
    then the answer suite raises on event 1; event 1 alone becomes an internal error."""
    from concurrent.futures import Future

    import pipelines.checking as checking
    from contracts.export.gx_suites import suites_of

    topic = contracts()["survey_response"].topic
    events = [e for e in seed_corpus() if e["event_type"] == "survey_response"][:3]
    records = [
        KafkaRecord(topic, 0, i, 0, b"k", json.dumps(e, ensure_ascii=False).encode())
        for i, e in enumerate(events)
    ]
    batch = check_batch(records, NOW)
    first, second, *_ = suites_of("survey_response")
    poison = events[1]["event_id"]

    class Pool:
        def submit(self, event_type: str, batch: list, now: Any, suite: str) -> Future:
            future: Future = Future()
            if suite == second and any(e["event_id"] == poison for e in batch):
                future.set_exception(ValueError("GX cannot read this frame"))
            elif suite == first:
                failing = {
                    i: [Reason("out_of_range", "x")]
                    for i, e in enumerate(batch)
                    if e["event_id"] == events[0]["event_id"]
                }
                future.set_result(BatchValidation(failing, []))
            else:
                future.set_result(BatchValidation({}, []))
            return future

    monkeypatch.setattr(checking, "shared_pool", lambda workers: Pool())
    fn = checking._ValidateInPoolFn(NOW, workers=2)
    fn.start_bundle()
    # a batch's verdicts leave as soon as its jobs are done, else when the bundle ends
    (out,) = [*fn.process(batch), *(w.value for w in fn.finish_bundle())]
    rejected = {offset: [r.code for r in reasons] for (_, _, offset), reasons in out.rejected}
    assert rejected == {0: ["out_of_range"], 1: ["internal_error"]}


def test_an_outside_fault_in_gx_fails_the_pass_instead_of_quarantining_everything():
    def validate(batch: list[dict[str, Any]]) -> BatchValidation:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        validate_isolating(validate, [{"n": 1}, {"n": 2}])


def test_each_suite_outcome_is_a_chunk_of_its_own():
    """A batch validated again in halves has two outcomes of one suite, often of one size:
    the landing counts rows_checked once per chunk, so each outcome needs its own."""
    from handoff.validation import ExpectationOutcome, SuiteOutcome, ValidatedRows
    from pipelines.normalise import verdict_tables

    half = SuiteOutcome("spend_disclosure", 1)
    verdicts = ValidatedRows(suites=[("spend_disclosure", half), ("spend_disclosure", half)])
    half.outcomes = [
        ExpectationOutcome(
            "spend_disclosure",
            "ExpectColumnValuesToNotBeNull",
            "event_id",
            "missing_field",
            True,
            0,
        )
    ]
    rows = verdict_tables(verdicts)["_dq_results"].to_pylist()
    assert len({r["chunk_id"] for r in rows}) == 2


def test_a_conflicting_copy_s_answers_stay_out_of_raw(tmp_path: Path):
    """Two responses under one event_id with other content in one pass: the first lands
    with its answers, the other is a conflict, and none of its answers land."""
    settings = load_settings(var_dir=tmp_path / "var")
    topic = contracts()["survey_response"].topic
    first = next(e for e in seed_corpus() if e["event_type"] == "survey_response")
    other = json.loads(json.dumps(first))
    other["payload"]["answers"] = other["payload"]["answers"][:1]
    records = [
        KafkaRecord(topic, 0, i, 0, b"k", json.dumps(e, ensure_ascii=False).encode())
        for i, e in enumerate([first, other])
    ]
    batch = check_batch(records, NOW)
    staged = stage_batch(Normaliser("b1", NOW, b"key"), batch, tmp_path / "staging")
    con = connect(settings)
    try:
        summary = land(con, "b1", [PartitionRange(topic, 0, 0, 2)], staged, NOW, "t")
        assert (summary.landed, summary.by_reason) == (1, {"event_id_conflict": 1})
        answers = con.execute("select count(*) from raw.survey_answers").fetchone()[0]
    finally:
        con.close()
    assert answers == len(first["payload"]["answers"])


def test_a_quarantine_row_arrow_refuses_keeps_its_bytes_and_reasons():
    from pipelines.normalise import _quarantine_table

    schema = Normaliser("b1", NOW, b"key").schemas["quarantine"]
    row = {
        "kafka_topic": "t",
        "kafka_partition": 0,
        "kafka_offset": 7,
        "raw_value": b'{"event_id": "\\ud800"}',
        "event_id": "\ud800",  # what no UTF-8 column can hold
        "reason_code": "invalid_unicode",
        "reasons": [{"code": "invalid_unicode", "detail": "event_id"}],
    }
    (kept,) = _quarantine_table([row], schema).to_pylist()
    assert kept["event_id"] is None and kept["raw_value"] == row["raw_value"]
    assert kept["reasons"] == row["reasons"]


def test_a_commit_refused_once_runs_again_and_lands_the_same(tmp_path: Path):
    """A commit another writer got in before (DuckDB's transaction error: retried) runs
    again in the same session and lands what one attempt lands, its quarantine with the
    text of its bytes included: nothing of the refused attempt stays in the session's way
    (a function created inside it once did, and every retry failed)."""
    records = [*_spend_records(3), KafkaRecord(_spend_records(1)[0].topic, 0, 3, 0, b"k", b"{")]
    plan = [PartitionRange(records[0].topic, 0, 0, 4)]
    summaries = []
    for refused in (False, True):
        staging = tmp_path / f"staging-{refused}"
        staged = stage_batch(Normaliser("b1", NOW, b"key"), check_batch(records, NOW), staging)
        refusals = [duckdb.TransactionException("another writer committed first")] * refused

        def failpoint(point: str, refusals: list[Exception] = refusals) -> None:
            if point == "in_transaction" and refusals:
                raise refusals.pop()

        con = connect(load_settings(var_dir=tmp_path / f"var-{refused}"))
        try:
            summary = land(con, "b1", plan, staged, NOW, "t", failpoint=failpoint)
            assert summary.commit_attempts == 1 + refused
            summaries.append(
                (
                    summary.landed,
                    summary.by_reason,
                    con.execute("select raw_text from quarantine.events").fetchall(),
                    con.execute("select count(*) from raw.spend_disclosures").fetchall(),
                )
            )
        finally:
            con.close()
    assert summaries[0] == summaries[1] and summaries[0][0] == 3
    assert summaries[0][2] == [("{",)]
