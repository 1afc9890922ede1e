"""Personal data through the ingest's own steps: what GX sees and keeps, and every staging
table (column by column and row by row) after normalisation, for messages that carry
personal data in escaped and unusual places (``tests/fixtures/personal_data.py``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from contracts.batch_checks import suspects
from contracts.corpus.seed_surveys import survey_events
from contracts.personal_data import WITHHELD, may_hold_personal_data
from contracts.spec import contracts
from contracts.synthetic import SyntheticStream
from handoff.records import KafkaRecord
from pipelines.batches import CheckedBatch
from pipelines.checking import check_batch, validate_batch
from pipelines.gx_runner import SuiteRunner, for_validation
from pipelines.normalise import KEY_BYTES_KEPT, Normaliser
from tests.fixtures.personal_data import found_in, personal_messages

NOW = datetime(2026, 11, 26, tzinfo=UTC)
KEY = b"a-key-of-this-test"


STREAM = list(SyntheticStream(400, 0.1, 7))
# the stream's own personal data: an address as respondent id (quarantined)
SYNTHETIC_PERSONAL = {m.value for m in STREAM if m.bad_class == "personal_data"}


def _records() -> list[KafkaRecord]:
    messages = [(m.topic, m.key, m.value) for m in STREAM]
    messages[100:100] = personal_messages()
    return [
        KafkaRecord(topic, i % 3, i, 1_700_000_000_000 + i, key, value)
        for i, (topic, key, value) in enumerate(messages)
    ]


def _cells(table: pa.Table) -> list[tuple[str, str]]:
    """Every value of the table as text: (column, text)."""
    out = []
    for row in table.to_pylist():
        for column, value in row.items():
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            out.append(
                (column, value if isinstance(value, str) else json.dumps(value, default=str))
            )
    return out


def _leaks(tables: dict[str, pa.Table]) -> list[tuple[str, str, list[str]]]:
    return [
        (name, column, found)
        for name, table in tables.items()
        for column, text in _cells(table)
        if (found := found_in(text))
    ]


@pytest.fixture(scope="module")
def checked() -> CheckedBatch:
    batch = check_batch(_records(), NOW)
    assert batch.screened  # the columnar path is exercised
    return batch


def test_the_personal_messages_keep_their_verdicts(checked: CheckedBatch) -> None:
    base = 100
    rejected = {i - base: [r.code for r in rs] for i, rs in checked.rejected.items()}
    n = len(personal_messages())
    assert {i: rejected[i] for i in range(n) if i in rejected} == {
        8: ["personal_data_in_clear"],
        9: ["unknown_enum"],
        10: ["invalid_json"],
        11: ["invalid_utf8"],
    }
    assert rejected[9] and WITHHELD in checked.rejected[base + 9][0].detail


@pytest.mark.parametrize("columnar", [True, False])
def test_no_staging_table_holds_personal_data(checked: CheckedBatch, columnar: bool) -> None:
    batch = checked if columnar else CheckedBatch(checked.records, checked.valid, checked.rejected)
    tables = Normaliser("b1", NOW, KEY).tables(batch)
    assert _leaks(tables) == []


def test_both_paths_give_the_same_tables(checked: CheckedBatch) -> None:
    normaliser = Normaliser("b1", NOW, KEY)
    columnar = normaliser.tables(checked)
    rows = normaliser.tables(CheckedBatch(checked.records, checked.valid, checked.rejected))
    assert set(columnar) == set(rows)
    for name in rows:
        if name == "_dq_results":
            continue
        keys = [k for k in ("kafka_topic", "kafka_partition", "kafka_offset", "answer_index")]
        order = [(k, "ascending") for k in keys if k in rows[name].schema.names]
        assert columnar[name].sort_by(order).equals(rows[name].sort_by(order)), name


def test_a_redacted_event_keeps_everything_else_as_sent(checked: CheckedBatch) -> None:
    normaliser = Normaliser("b1", NOW, KEY)
    tables = normaliser.tables(checked)
    spend = {r["kafka_offset"]: r for r in tables["spend_disclosures"].to_pylist()}
    located = spend[101]  # the locator's phone number, the escaped address in a name
    assert located["source_locator"].startswith("hmac-sha256:")
    assert located["name_en"].startswith("hmac-sha256:")
    assert '"amount":163.50' in located["raw_json"]  # the number text as sent
    assert located["name_zh"] == "工商银行" and located["event_id"] == "pii-spend-locator"
    redacted = json.loads(located["raw_json"])
    assert redacted["source"]["locator"] == located["source_locator"]
    entity = spend[100]
    assert entity["entity_id"] == entity["message_key"] != "cn.bank.icbc"
    assert entity["entity_id"].startswith("hmac-sha256:")
    assert spend[103]["message_key"].startswith("hmac-sha256:")  # the key alone
    assert spend[103]["raw_json"] == checked.records[103].value.decode()  # value untouched
    valid = {r["kafka_offset"]: r for r in tables["_valid"].to_pylist()}
    assert valid[103]["redacted"] and valid[100]["redacted"]
    # the bytes kept of each valid event: its raw table's raw_json
    kept = {
        r["kafka_offset"]: r["raw_json"].encode()
        for name in {v["raw_table"] for v in valid.values()}
        for r in tables[name].to_pylist()
    }
    assert kept.keys() == valid.keys()
    # content hashes are of the bytes as received (a repeat is still a duplicate), keyed
    # where those bytes held personal data (a plain hash could be matched by guessing)
    for o, v in valid.items():
        sent = checked.records[o].value
        changed = kept[o] != sent
        assert v["content_sha256"] == normaliser.bytes_hash(sent, changed)
        assert v["content_sha256"].startswith("hmac-sha256:") == changed
    assert valid[100]["content_sha256"].startswith("hmac-sha256:")
    unchanged = [v for o, v in valid.items() if not 100 <= o < 112]
    assert unchanged and not any(v["redacted"] for v in unchanged)
    assert all(
        kept[v["kafka_offset"]] == checked.records[v["kafka_offset"]].value for v in unchanged
    )


def test_the_survey_s_personal_values_are_hashed_in_every_table(checked: CheckedBatch) -> None:
    tables = Normaliser("b1", NOW, KEY).tables(checked)
    (response,) = [r for r in tables["survey_responses"].to_pylist() if r["kafka_offset"] == 107]
    normaliser = Normaliser("b1", NOW, KEY)
    assert response["respondent_email_hash"] == normaliser.pii_hash(
        "Tan.Wenbo.pii7@Bank-Example.CN"
    )
    assert response["respondent_id"].startswith("hmac-sha256:")
    answers = [r for r in tables["survey_answers"].to_pylist() if r["kafka_offset"] == 107]
    assert answers and {a["entity_id"] for a in answers} == {response["entity_id"]}
    assert response["entity_id"] == response["message_key"]
    assert json.loads(response["raw_json"])["payload"]["answers"][0]["comment"].startswith(
        "hmac-sha256:"
    )


def test_a_declared_personal_field_is_hashed_whatever_it_holds() -> None:
    event = copy_of_survey()
    event["payload"]["respondent_email"] = "prefers-not-to-say"
    value = orjson.dumps(event)
    records = [KafkaRecord(contracts()["survey_response"].topic, 0, 0, 0, b"k", value)]
    for batch in (check_batch(records, NOW), CheckedBatch(records, {0: event})):
        tables = Normaliser("b1", NOW, KEY).tables(batch)
        (row,) = tables["survey_responses"].to_pylist()
        hashed = Normaliser("b1", NOW, KEY).pii_hash("prefers-not-to-say")
        assert row["respondent_email_hash"] == hashed
        assert json.loads(row["raw_json"])["payload"]["respondent_email"] == hashed


def copy_of_survey() -> dict[str, Any]:
    return json.loads(json.dumps(survey_events()[0]))


def test_quarantine_rows_keep_no_personal_data(checked: CheckedBatch) -> None:
    quarantine = Normaliser("b1", NOW, KEY).tables(checked)["quarantine"].to_pylist()
    by_offset = {q["kafka_offset"]: q for q in quarantine}
    assert all(by_offset[o]["redacted"] for o in (108, 109, 110, 111))
    cut, utf8 = by_offset[110], by_offset[111]
    assert cut["raw_value"].startswith(b'{"event_id":"pii-cut","note":"hmac-sha256:')
    assert utf8["raw_value"].endswith(b"\xff\xfe")  # what is not personal stays as received
    assert b'"tel":hmac-sha256:' in utf8["raw_value"]
    assert by_offset[109]["reason_detail"] == f"subject.level: {WITHHELD} is not a level"
    # a quarantined message that decodes is redacted as a valid one is
    assert json.loads(by_offset[108]["raw_value"])["event_id"] == "pii-survey-2"
    others = [q for o, q in by_offset.items() if not 100 <= o < 112]
    assert {q["redacted"] for q in others} == {True, False}
    for q in others:
        sent = checked.records[q["kafka_offset"]].value
        assert q["redacted"] == (sent in SYNTHETIC_PERSONAL)
        assert not found_in(q["raw_value"].decode("utf-8", "replace"))
    assert all(
        q["raw_value"] == checked.records[q["kafka_offset"]].value
        for q in others
        if not q["redacted"]
    )


def test_redaction_changes_copies_of_the_columns_never_the_batchs() -> None:
    """What GX sees (``for_validation``) and the staging tables are redacted in copies of
    the batch check's field columns: after both, the batch's own columns still hold every
    event's values as sent, which each later step reads. The batch holds only events the
    screen passes, so ``CheckedBatch.columns`` gives the batch's own lists."""
    first = check_batch(_records(), NOW)
    clean = {
        i for b in first.screened.values() for i, c in zip(b.positions, b.clean, strict=True) if c
    }
    batch = check_batch([r for i, r in enumerate(first.records) if i in clean], NOW)
    sent = {t: {p: list(c) for p, c in b.columns.items()} for t, b in batch.screened.items()}
    redacted = []
    for event_type, screened in batch.screened.items():
        indexes = list(screened.positions)
        columns = batch.columns(event_type, indexes)
        assert columns is not None and all(columns[p] is screened.columns[p] for p in columns)
        values = [batch.records[i].value for i in indexes]
        _, seen = for_validation(
            [batch.valid[i] for i in indexes], suspects(screened, indexes, values), columns
        )
        redacted += [(event_type, path) for path in columns if seen and seen[path] != columns[path]]
    Normaliser("b1", NOW, KEY).tables(batch)
    assert ("spend_disclosure", "subject.name_en") in redacted  # a value GX did not see
    assert {t: b.columns for t, b in batch.screened.items()} == sent


def test_gx_sees_no_personal_value_and_keeps_none(checked: CheckedBatch, tmp_path: Path) -> None:
    screened = checked.screened["spend_disclosure"]
    where = screened.where()
    # the events the batch check gathered as columns (those with undeclared fields it did not)
    indexes = [i for i in sorted(where) if i in checked.valid and screened.clean[where[i]]]
    assert {100, 101, 104} <= set(indexes)
    events = [checked.valid[i] for i in indexes]
    columns = checked.columns("spend_disclosure", indexes)
    values = [checked.records[i].value for i in indexes]
    suspect = suspects(screened, indexes, values)
    assert suspect == [may_hold_personal_data(v) for v in values] and any(suspect)
    seen, seen_columns = for_validation(events, suspect, columns)
    assert seen is not events and events[0] is seen[0]  # copies of the redacted ones only
    assert not found_in(json.dumps(seen, ensure_ascii=False))
    assert seen_columns is not None and not found_in(json.dumps(seen_columns, default=str))
    assert found_in(json.dumps(events, ensure_ascii=False))  # the batch itself is unchanged
    # a personal value GX rejects: the rejection stands, the value is not in its results
    batch = CheckedBatch(
        checked.records[:1], {0: json.loads(json.dumps(checked.valid[100]))}, screened={}
    )
    batch.valid[0]["payload"]["scope"] = "Qiu.Zhiyuan-pii1@Bank-Example.CN"
    runner = SuiteRunner(project_root=tmp_path / "gx")
    batch.records[0] = batch.records[0]._replace(value=orjson.dumps(batch.valid[0]))
    ((_, reasons),) = validate_batch(batch, runner, NOW).rejected
    assert [r.code for r in reasons] == ["unknown_enum"]
    runner.build_data_docs()
    written = [p for p in (tmp_path / "gx").rglob("*") if p.is_file()]
    assert any("validations" in p.parts for p in written)
    leaks = [
        (str(p), found)
        for p in written
        if p.suffix in (".json", ".html") and (found := found_in(p.read_text("utf-8")))
    ]
    assert leaks == []


def test_the_message_keys_a_normaliser_keeps_are_bounded_by_their_bytes() -> None:
    """Keys are read for personal data once and kept (an entity's id each, as the project's
    producers send them); a producer's large distinct keys must not grow a worker without
    bound, and each key is still kept as it should be."""
    normaliser = Normaliser("b1", NOW, KEY)
    keys = [str(i).encode() * 2_000 for i in range(1, 2_001)]  # 2,000 distinct keys, ~7 MB
    keys.append(b"someone@example.com")
    for key in keys:
        text, personal = normaliser.message_key(key)
        assert personal == (key == keys[-1])
        assert text == (normaliser.pii_hash(key.decode()) if personal else key.decode())
        assert sum(map(len, normaliser.keys)) <= KEY_BYTES_KEPT
    assert normaliser.message_key(keys[-1]) == (normaliser.pii_hash(keys[-1].decode()), True)
