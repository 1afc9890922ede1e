"""Survey answers column by column (``contracts.flatten.answer_columns_of`` the events,
``answer_columns_from`` their field columns, and the GX answer frames built from them) give
what the row-by-row ``flatten_answers`` gives, on the synthetic stream's survey responses (a
third of them bad) and on answers of every odd shape."""

from __future__ import annotations

from typing import Any

import orjson
import pandas as pd
import pytest

from contracts.batch_checks import value_at
from contracts.export.arrow import ANSWER_KEY_COLUMNS
from contracts.export.gx_suites import ANSWER_SUITE, OPTION_SUITE, ROW_ID
from contracts.flatten import (
    ANSWER_HEAD_PATHS,
    ANSWER_INPUT_PATHS,
    answer_columns_from,
    answer_columns_of,
    flatten_answers,
)
from contracts.survey_catalog import SurveyCatalog, survey_catalog
from contracts.synthetic import SyntheticStream
from pipelines.gx_frames import held_frame
from pipelines.gx_runner import (
    _ANSWER_COLUMNS,
    _OPTION_COLUMNS,
    answer_frames,
    answer_frames_of_values,
    arrow_answer_frames,
)

SURVEY_TOPIC = "fi.survey.responses.v1"
SUITES = (ANSWER_SUITE, OPTION_SUITE)


def _odd_events(known: dict[str, Any]) -> list[dict[str, Any]]:
    """Responses whose answers take every shape the row-by-row path reads: a known question
    of the wrong kind, unknown questions and surveys, options that are no list, answers that
    are no object, missing fields, no answers at all, numbers where text is expected."""
    survey_id, question_id = known["survey_id"], known["question_id"]
    head = {"event_id": "odd", "occurred_at": "2025-01-01T00:00:00Z"}
    subject = {"entity_id": "syn.bank.rural_001", "institution_type": "bank"}
    answers = [
        {"question_id": question_id, "kind": "wrong-kind", "options": ["a", "b"]},
        {"question_id": question_id, "kind": known["kind"], "options": "not-a-list"},
        {"question_id": "unknown", "kind": "multi", "options": ["x"]},
        {"question_id": question_id},
        {"kind": "score", "score": 1},
        {"question_id": question_id, "kind": known["kind"], "options": []},
        {"question_id": question_id, "kind": known["kind"], "options": [None, 3, "x"]},
        "not-an-object",
        None,
        {"question_id": 7, "kind": None, "score": 0.5, "stage": "pilot", "extra": 1},
    ]
    return [
        {**head, "subject": subject, "payload": {"survey_id": survey_id, "answers": answers}},
        {**head, "subject": subject, "payload": {"survey_id": "unknown", "answers": answers}},
        {**head, "subject": subject, "payload": {"survey_id": survey_id, "answers": []}},
        {**head, "payload": {"survey_id": survey_id}},
        {**head},
        {**head, "payload": {"survey_id": None, "wave": 2025, "answers": answers[:2]}},
        {**head, "subject": subject, "payload": {"survey_id": survey_id, "answers": answers}},
    ]


@pytest.fixture(scope="module")
def responses() -> list[dict[str, Any]]:
    """Decoded survey responses of the synthetic stream, bad ones included, then odd ones."""
    found = []
    for m in SyntheticStream(6000, 0.3, 29):
        if m.topic != SURVEY_TOPIC:
            continue
        try:
            event = orjson.loads(m.value)
        except orjson.JSONDecodeError:
            continue
        parts = (event.get(p, {}) for p in ("payload", "subject")) if type(event) is dict else ()
        if type(event) is dict and all(type(p) is dict for p in parts):
            found.append(event)
    assert len(found) > 300
    answered = next(a for e in found for a in e["payload"].get("answers", []) if "options" in a)
    known = {**answered, "survey_id": found[0]["payload"]["survey_id"]}
    return found + _odd_events(known)


def _row_by_row_frames(
    events: list[dict[str, Any]], catalog: SurveyCatalog
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The answer frames as they were built before, one answer row (a dict) at a time."""
    answers, options = [], []
    for i, event in enumerate(events):
        for row in flatten_answers(event):
            survey = catalog.get(str(row["survey_id"]))
            question = survey.questions.get(str(row["question_id"])) if survey else None
            opts = row["options"] if isinstance(row["options"], list) else []
            row.update(
                {
                    ROW_ID: i,
                    "question_key": f"{row['survey_id']}|{row['question_id']}",
                    "question_kind_key": f"{row['survey_id']}|{row['question_id']}|{row['kind']}",
                    "question_known": question is not None,
                    "option_count": len(opts),
                }
            )
            answers.append(row)
            if question is not None and question.kind == row["kind"]:
                for opt in opts:
                    options.append(
                        {
                            ROW_ID: i,
                            "answer_index": row["answer_index"],
                            "option_id": opt,
                            "option_key": f"{row['survey_id']}|{row['question_id']}|{opt}",
                        }
                    )
    return (
        pd.DataFrame(answers, columns=_ANSWER_COLUMNS),
        pd.DataFrame(options, columns=_OPTION_COLUMNS),
    )


def test_answer_columns_are_the_rows_of_flatten_answers(responses: list[dict[str, Any]]) -> None:
    positions, columns = answer_columns_of(responses)
    rows = [(i, row) for i, event in enumerate(responses) for row in flatten_answers(event)]
    assert positions == [i for i, _ in rows]
    assert list(columns) == list(rows[0][1])
    for name, values in columns.items():
        assert values == [row[name] for _, row in rows], name


@pytest.mark.parametrize("part", [slice(None), slice(0, 1), slice(-7, None), slice(0, 0)])
def test_answer_columns_from_field_columns_are_those_of_the_events(
    responses: list[dict[str, Any]], part: slice
) -> None:
    """The answer rows from the events' field columns (by path, as the batch check gathers
    them) are those read from the events, odd answers included."""
    events = responses[part]
    columns = {path: [value_at(e, path) for e in events] for path in ANSWER_INPUT_PATHS}
    assert answer_columns_from(columns) == answer_columns_of(events)


@pytest.mark.parametrize("part", [slice(None), slice(0, 1), slice(-7, None), slice(0, 0)])
def test_answer_frames_are_the_row_by_row_frames(
    responses: list[dict[str, Any]], part: slice
) -> None:
    """As GX validates them (``held_frame``: text compared for equality only categorical)."""
    catalog = survey_catalog()
    events = responses[part]
    built = answer_frames(events, catalog)
    expected = _row_by_row_frames(events, catalog)
    for suite, got, want in zip(SUITES, built, expected, strict=True):
        pd.testing.assert_frame_equal(
            held_frame(suite, got), held_frame(suite, want), check_dtype=True
        )
    if part == slice(None):  # the comparison covers options of known questions
        assert len(expected[1]) > 100 and expected[0]["question_known"].any()


def _well_formed(responses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The responses whose answers Arrow's loops take (``arrow_answer_frames``), then
    well-formed ones the catalog does not know all of: an unknown survey, an unknown
    question, a known question of another kind."""
    catalog = survey_catalog()
    taken = [e for e in responses if arrow_answer_frames(*answer_columns_of([e]), catalog)]
    first = taken[0]["payload"]
    answered = next(a for a in first["answers"] if a.get("options"))
    strange = [
        {**answered, "kind": "stage" if answered["kind"] != "stage" else "multi"},
        {**answered, "question_id": "no-such-question"},
        answered,
    ]
    return [
        *taken,
        {"payload": {**first, "answers": strange}},
        {"payload": {**first, "survey_id": "no-such-survey"}},
    ]


@pytest.mark.parametrize("part", [slice(None), slice(0, 1), slice(-7, None), slice(0, 0)])
def test_arrow_answer_frames_are_the_frames_of_values_as_gx_holds_them(
    responses: list[dict[str, Any]], part: slice
) -> None:
    """Arrow's loops build the held frames the value-by-value path builds, on the stream's
    well-formed responses (answers of unknown questions and of the wrong kind among
    them); on the odd ones they decline, and the value-by-value path builds them."""
    catalog = survey_catalog()
    events = _well_formed(responses)[part]
    rows, columns = answer_columns_of(events)
    arrow = arrow_answer_frames(rows, columns, catalog)
    if not rows:
        assert arrow is None
        return
    assert arrow is not None
    for suite, got, want in zip(
        SUITES, arrow, answer_frames_of_values(rows, columns, catalog), strict=True
    ):
        pd.testing.assert_frame_equal(got, held_frame(suite, want), check_dtype=True)
    if part == slice(None):
        answers, options = arrow
        assert not answers["question_known"].all() and len(options) > 100
        fits = answers["question_known"] & (answers["option_count"] > 0)
        assert fits.sum() > options[ROW_ID].nunique()  # some of the wrong kind left out


@pytest.mark.parametrize(
    "answer",
    [
        {"question_id": "q", "kind": "multi", "options": "not-a-list"},
        {"question_id": "q", "kind": "multi", "options": [None, "x"]},
        {"question_id": "q", "kind": "multi", "options": [3]},
        {"question_id": "q", "kind": "multi", "options": {"x": 1}},
        {"question_id": 7, "kind": "multi"},
        {"question_id": "q", "kind": None},
        {"kind": "score", "score": 1},
        "not-an-object",
    ],
)
def test_arrow_answer_frames_decline_every_odd_answer(answer: Any) -> None:
    """An answer whose values Arrow would read otherwise than Python's f-strings and
    ``isinstance`` (a text taken as a list of characters, a null joined as nothing) sends
    the whole batch value by value."""
    catalog = survey_catalog()
    good = {"question_id": "q", "kind": "multi", "options": ["x"]}
    event = {"payload": {"survey_id": "s", "answers": [good, answer]}}
    assert arrow_answer_frames(*answer_columns_of([event]), catalog) is None
    assert (
        arrow_answer_frames(
            *answer_columns_of([{"payload": {"survey_id": "s", "answers": [good]}}]), catalog
        )
        is not None
    )


def test_the_answer_heads_are_the_contracts_answer_key_columns() -> None:
    """The columns an answer row takes from its response are the contract's
    ``ANSWER_KEY_COLUMNS`` (but ``answer_index``, the answer's own), in its order."""
    assert [*ANSWER_HEAD_PATHS, "answer_index"] == [name for name, _, _ in ANSWER_KEY_COLUMNS]
