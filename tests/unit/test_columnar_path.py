"""The column-by-column path gives the row-by-row path's results: the same GX frames and
the same staging tables, on the synthetic stream's bad classes and the poison mutations."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from types import SimpleNamespace
from unittest import mock

import orjson
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings

from contracts.batch_checks import value_at
from contracts.export.gx_suites import ANSWER_SUITE, OPTION_SUITE
from contracts.flatten import answer_columns_from
from contracts.spec import contracts
from contracts.survey_catalog import survey_catalog
from contracts.synthetic import SyntheticStream
from handoff.records import KafkaRecord
from pipelines.batches import CheckedBatch, own_columns
from pipelines.checking import check_batch, wait_for_validation
from pipelines.gx_frames import held_frame
from pipelines.gx_pending import PendingValidations
from pipelines.gx_runner import SuiteRunner, answer_frames, event_frame, for_validation
from pipelines.normalise import Normaliser
from tests.poison.strategies import NOW, messages

INGESTED = datetime(2026, 11, 27, tzinfo=UTC)


def _records(values_topics: list[tuple[bytes | None, str]]) -> list[KafkaRecord]:
    return [
        KafkaRecord(topic, i % 3, i, 1_700_000_000_000 + i, b"k", value)
        for i, (value, topic) in enumerate(values_topics)
    ]


def _row_by_row(batch: CheckedBatch) -> CheckedBatch:
    return CheckedBatch(batch.records, dict(batch.valid), dict(batch.rejected))


def _sorted(table: pa.Table) -> pa.Table:
    keys = [
        k for k in ("kafka_topic", "kafka_partition", "kafka_offset") if k in table.schema.names
    ]
    extra = ["answer_index"] if "answer_index" in table.schema.names else []
    return table.sort_by([(k, "ascending") for k in keys + extra])


def _same_tables(batch: CheckedBatch) -> None:
    normaliser = Normaliser("batch-1", INGESTED, b"key")
    columnar = normaliser.tables(batch)
    rows = normaliser.tables(_row_by_row(batch))
    assert set(columnar) == set(rows)
    for name in rows:
        if name == "_dq_results":
            continue
        assert _sorted(columnar[name]).equals(_sorted(rows[name])), name


def _same_held_frames(batch: CheckedBatch) -> None:
    """Each type's frame as a worker holds it, built from the batch's columns with the
    Arrow arrays the staging tables share (``CheckedBatch.arrow``), GX's view of personal
    values included (``for_validation``), against the row-by-row build; the answers' frames
    from the answer rows the staging tables share (``CheckedBatch.answer_columns``)."""
    catalog = survey_catalog()
    for contract in contracts().values():
        event_type = contract.event_type
        indexes = [i for i, e in sorted(batch.valid.items()) if e["event_type"] == event_type]
        columns = batch.columns(event_type, indexes)
        if columns is None or not indexes:
            continue
        shown, shown_columns = for_validation(
            [batch.valid[i] for i in indexes], [True] * len(indexes), columns
        )
        pd.testing.assert_frame_equal(
            held_frame(event_type, event_frame(shown, event_type, shown_columns, batch.arrow)),
            held_frame(event_type, event_frame(shown, event_type)),
        )
        if event_type == "survey_response":  # and the answers' frames, from shared rows
            assert shown_columns is not None
            shared = answer_frames(shown, catalog, batch.answer_columns(shown_columns))
            for suite, got, want in zip(
                (ANSWER_SUITE, OPTION_SUITE), shared, answer_frames(shown, catalog), strict=True
            ):
                pd.testing.assert_frame_equal(held_frame(suite, got), held_frame(suite, want))


def test_synthetic_stream_same_tables_and_frames() -> None:
    stream = list(SyntheticStream(4000, 0.3, 21))
    batch = check_batch(_records([(m.value, m.topic) for m in stream]), NOW)
    assert batch.screened  # the columns were gathered: this test compares two paths
    _same_held_frames(batch)  # GX's frames first, then the staging tables, as a worker
    _same_tables(batch)
    assert batch.arrays and batch.answers  # both built from the shared arrays and answers
    for contract in contracts().values():
        indexes = [
            i for i, e in sorted(batch.valid.items()) if e["event_type"] == contract.event_type
        ]
        columns = batch.columns(contract.event_type, indexes)
        assert columns is not None
        events = [batch.valid[i] for i in indexes]
        pd.testing.assert_frame_equal(
            event_frame(events, contract.event_type, columns),
            event_frame(events, contract.event_type),
        )


def test_events_with_fields_of_their_producer_go_column_by_column() -> None:
    """Fields the contract does not declare (a producer's own; some holding an e-mail
    address, which is redacted) leave an event on the column path, with the row path's
    frames and staging tables."""
    stream = list(SyntheticStream(1500, 0.0, 8))
    values = []
    for n, m in enumerate(stream):
        event = json.loads(m.value)
        event["x_trace"] = {"id": n, "hops": [1, 2.5, None, {"at": "edge"}]}
        event["payload"]["x_note"] = f"owner-{n}@example.com" if n % 50 == 0 else "checked"
        values.append((json.dumps(event).encode(), m.topic))
    batch = check_batch(_records(values), NOW)
    assert len(batch.valid) == len(values)
    for event_type, screened in batch.screened.items():
        assert all(screened.clean), event_type  # screened clean: the column path is taken
    _same_held_frames(batch)
    _same_tables(batch)
    # the bytes kept of each message: a valid event's in its raw table's raw_json
    tables = Normaliser("b", INGESTED, b"key").tables(batch).values()
    kept = [
        v if isinstance(v, bytes) else v.encode()
        for table in tables
        for column in ("raw_value", "raw_json")
        if column in table.schema.names
        for v in table.column(column).to_pylist()
    ]
    assert len(kept) == len(values)
    assert b"@example.com" not in b"".join(kept)


def test_a_rejected_message_is_decoded_once_for_its_quarantine_row() -> None:
    """The quarantine row of a rejected message that decoded takes the event the contract
    check decoded (its event_id and type) instead of decoding the bytes again; the row path
    of the tests above, which decodes them again, gives the same rows."""
    stream = list(SyntheticStream(300, 0.0, 2))
    values = [
        (m.value.replace(b'"schema_version":1', b'"schema_version":"1"', 1), m.topic)
        for m in stream
    ]
    batch = check_batch(_records(values), NOW)
    assert len(batch.rejected) == len(batch.decoded) == len(values)
    with mock.patch("pipelines.normalise.decode", side_effect=AssertionError) as again:
        quarantine = Normaliser("b", INGESTED, b"key").tables(batch)["quarantine"]
    assert again.call_count == 0
    assert quarantine.column("event_id").to_pylist() == [m.event_id for m in stream]
    _same_tables(batch)


@pytest.mark.parametrize("typed", [True, False])
def test_the_valid_part_of_a_checked_column_is_converted_once(typed: bool) -> None:
    """A batch with rejected events gathers its valid events' columns anew. Where the batch
    check read them with ``orjson`` (every event here holds a field the contract does not
    declare, which a Struct refuses), their Arrow arrays are the same rows of the arrays
    the check made, not a second conversion. Where it read them with their Struct
    (``contracts.typed_decoding``) it made no dict of them and no array: their columns are
    converted once, for the frames and the staging tables alike."""
    stream = list(SyntheticStream(2000, 0.3, 5))
    values = [m.value if typed else _undeclared_field(m.value) for m in stream]
    batch = check_batch(_records(list(zip(values, [m.topic for m in stream], strict=True))), NOW)
    for contract in contracts().values():
        event_type = contract.event_type
        indexes = [i for i in sorted(batch.valid) if batch.valid[i]["event_type"] == event_type]
        columns = batch.columns(event_type, indexes)
        assert columns is not None
        screened = batch.screened[event_type]
        assert all(e is None for e in screened.events) is typed  # decoded by orjson or not
        if not typed:  # the rejected events' values are in the check's arrays too
            assert 0 < len(indexes) < len(screened.positions)
        for path in ("event_id", "subject.entity_id"):
            first = batch.arrow(columns[path], pa.string()) if typed else None
            with mock.patch("pyarrow.array", side_effect=AssertionError("converted again")):
                array = batch.arrow(columns[path], pa.string())
            assert array.equals(pa.array(columns[path], pa.string())), (event_type, path)
            assert first is None or array is first


def _undeclared_field(value: bytes | None) -> bytes | None:
    """``value`` with a field the contract does not declare, if it is a JSON object."""
    if value is None or not value.rstrip().endswith(b"}"):
        return value
    return value.rstrip()[:-1] + b', "x_note": 1}'


@settings(
    derandomize=True,
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch=messages(max_size=30))
def test_poison_mutations_same_tables_and_frames(batch) -> None:  # type: ignore[no-untyped-def]
    topics = [contracts()[m.event_type].topic for m in batch]
    checked = check_batch(_records([(m.value, t) for m, t in zip(batch, topics, strict=True)]), NOW)
    _same_held_frames(checked)
    _same_tables(checked)


@pytest.mark.parametrize("event_type", sorted(contracts()))
def test_a_type_without_columns_goes_row_by_row(event_type: str) -> None:
    stream = [m for m in SyntheticStream(600, 0.0, 4) if m.topic == contracts()[event_type].topic]
    batch = check_batch(_records([(m.value, m.topic) for m in stream]), NOW)
    assert batch.columns(event_type, sorted(batch.valid)) is not None
    _same_tables(batch)


@pytest.mark.parametrize("event_type", sorted(contracts()))
def test_columns_hold_each_events_values_and_a_callers_copy_is_its_own(event_type: str) -> None:
    """``CheckedBatch.columns`` of every event of a type, and of some, hold each event's
    value at each path; a caller changes its copy (``own_columns``), never the batch's."""
    stream = [m for m in SyntheticStream(600, 0.0, 4) if m.topic == contracts()[event_type].topic]
    batch = check_batch(_records([(m.value, m.topic) for m in stream]), NOW)
    everyone = sorted(batch.valid)
    for indexes in (everyone, everyone[1::2], everyone[:1]):
        columns = batch.columns(event_type, indexes)
        assert columns is not None
        for path, column in columns.items():
            assert column == [value_at(batch.valid[i], path) for i in indexes], path
        for column in own_columns(columns).values():
            column[0] = "changed by a caller"
        again = batch.columns(event_type, indexes)
        assert again is not None
        assert all(column[0] != "changed by a caller" for column in again.values())


def test_answer_rows_are_made_once_for_the_same_lists_and_again_for_a_callers_copy() -> None:
    """``CheckedBatch.answer_columns`` gives the staging tables and GX's frames one making
    of the same responses' answer rows; a caller's changed copy (``own_columns``: a
    redacted response) gets rows of its own, and a batch pickled to another process
    makes them anew (they are found by the identity of the lists)."""
    topic = contracts()["survey_response"].topic
    stream = [m for m in SyntheticStream(600, 0.0, 4) if m.topic == topic]
    batch = check_batch(_records([(m.value, m.topic) for m in stream]), NOW)
    columns = batch.columns("survey_response", sorted(batch.valid))
    assert columns is not None
    with mock.patch(
        "pipelines.batches.answer_columns_from", side_effect=answer_columns_from
    ) as made:
        rows, answers = batch.answer_columns(columns)
        answers["batch_id"] = ["added by a caller"]  # (the staging tables add columns)
        same = batch.columns("survey_response", sorted(batch.valid))
        assert same is not None
        again_rows, again = batch.answer_columns(same)
        assert again_rows is rows and "batch_id" not in again
        assert again["answer_index"] is answers["answer_index"]
        assert made.call_count == 1
        copy = own_columns(columns)
        copy["payload.respondent_id"][0] = "redacted"
        rows, answers = batch.answer_columns(copy)
        assert made.call_count == 2 and rows[0] == 0
        assert answers["respondent_id"][: rows.count(0)] == ["redacted"] * rows.count(0)
        assert "redacted" not in batch.answer_columns(columns)[1]["respondent_id"]
        elsewhere = pickle.loads(pickle.dumps(batch))
        assert batch.answers and not elsewhere.answers


def test_the_steps_after_the_check_decode_no_event_but_where_personal_data_may_be() -> None:
    """The check reads clean events with their Struct and makes no dict of them
    (``contracts.typed_decoding``); GX's frames and the staging tables are built from their
    columns, so an event is decoded only where its bytes may hold personal data (each
    redacted from its dict), and once."""
    stream = [(m.value, m.topic) for m in SyntheticStream(4000, 0.05, 9)]
    surveys = [(v, t) for v, t in stream if v and b'"respondent_id"' in v][:20]
    assert len(surveys) == 20
    stream += [  # valid responses that hold personal data, which landing hashes
        (v.replace(b'"respondent_id"', b'"respondent_email": "a@b.cn", "respondent_id"', 1), t)
        for v, t in surveys
    ]
    batch = check_batch(_records(stream), NOW)
    suspects = {
        batch.records[i].value
        for screened in batch.screened.values()
        for i, suspect in zip(screened.positions, screened.suspect, strict=True)
        if suspect and i in batch.valid
    }
    assert 0 < len(suspects) < len(batch.valid) / 10
    decoded: list[bytes] = []
    counting = SimpleNamespace(loads=lambda b: decoded.append(b) or orjson.loads(b))
    with mock.patch("pipelines.batches.orjson", counting):  # where ``ValidEvents`` decodes
        wait_for_validation(PendingValidations(), batch, SuiteRunner())
        tables = Normaliser("batch-1", INGESTED, b"key").tables(batch)
    assert set(decoded) <= suspects
    assert len(decoded) == len(set(decoded))
    assert sum(len(tables[c.table]) for c in contracts().values()) == len(batch.valid)
