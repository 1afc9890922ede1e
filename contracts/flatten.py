"""Flatten contract events into rows of the landed tables (see ``contracts.export.arrow``)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from operator import itemgetter
from typing import Any

from contracts.export.arrow import answer_columns, event_columns
from contracts.spec import EventContract, contracts


@cache
def _column_paths(event_type: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((c.name, c.path) for c in event_columns(contracts()[event_type]))


@cache
def _answer_fields() -> tuple[str, ...]:
    return tuple(c.name for c in answer_columns() if c.path and c.path[0] == "answer")


def flatten_event(event: dict[str, Any], contract: EventContract) -> dict[str, Any]:
    """The contract columns of one event, values as in the JSON (dates stay strings).

    Personal fields come out under their ``*_hash`` column still in clear; landing replaces
    them with a keyed hash before anything is written.
    """
    row: dict[str, Any] = {}
    for name, path in _column_paths(contract.event_type):
        value: Any = event.get(path[0])
        if len(path) == 2:
            value = value.get(path[1]) if isinstance(value, dict) else None
        row[name] = value
    return row


# the columns every answer row takes from its response (the contract's
# ``ANSWER_KEY_COLUMNS`` but ``answer_index``), by the path of the field each holds (an
# envelope field by its name, as ``contracts.batch_checks.TypeBatch`` gathers columns), and
# the path of the answers themselves
ANSWER_HEAD_PATHS = {
    "event_id": "event_id",
    "survey_id": "payload.survey_id",
    "wave": "payload.wave",
    "respondent_id": "payload.respondent_id",
    "entity_id": "subject.entity_id",
    "institution_type": "subject.institution_type",
    "occurred_at": "occurred_at",
}
ANSWERS_PATH = "payload.answers"
ANSWER_INPUT_PATHS = (*ANSWER_HEAD_PATHS.values(), ANSWERS_PATH)
_HEAD_STEPS = tuple((name, *path.partition(".")[::2]) for name, path in ANSWER_HEAD_PATHS.items())


def _answer_head(event: dict[str, Any]) -> dict[str, Any]:
    """The columns every answer row of a response takes from the response itself
    (``ANSWER_HEAD_PATHS``)."""
    head = {}
    for name, field, child in _HEAD_STEPS:
        value = event.get(field)
        head[name] = (value or {}).get(child) if child else value
    return head


def _answers(event: dict[str, Any]) -> Any:
    return (event.get("payload") or {}).get("answers") or []


def flatten_answers(event: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per answer of a ``survey_response`` event."""
    head = _answer_head(event)
    names = _answer_fields()
    rows = []
    for i, answer in enumerate(_answers(event)):
        row = dict(head, answer_index=i)
        for name in names:
            row[name] = answer.get(name) if isinstance(answer, dict) else None
        rows.append(row)
    return rows


AnswerColumns = tuple[list[int], dict[str, list[Any]]]


def answer_columns_of(events: Sequence[dict[str, Any]]) -> AnswerColumns:
    """``flatten_answers`` of many ``survey_response`` events at once, as columns: the
    position in ``events`` of each answer's event, and each column of the answer rows (the
    same values, in the same order)."""
    heads = [_answer_head(event) for event in events]
    return _answer_columns(
        {name: [head[name] for head in heads] for name in ANSWER_HEAD_PATHS},
        [_answers(event) for event in events],
    )


def answer_columns_from(columns: dict[str, list[Any]]) -> AnswerColumns:
    """``answer_columns_of`` the events whose field columns (by path) are ``columns``
    (``ANSWER_INPUT_PATHS`` of them): the head of each answer row taken from its column in
    one C call, not read again from every event."""
    return _answer_columns(
        {name: columns[path] for name, path in ANSWER_HEAD_PATHS.items()},
        [answers or [] for answers in columns[ANSWERS_PATH]],
    )


def _answer_columns(heads: dict[str, list[Any]], answer_lists: list[Any]) -> AnswerColumns:
    rows: list[int] = []
    index: list[int] = []
    answers: list[Any] = []
    for position, its in enumerate(answer_lists):
        answers.extend(its)
        rows.extend([position] * len(its))
        index.extend(range(len(its)))
    columns = {name: _taken(values, rows) for name, values in heads.items()}
    columns["answer_index"] = index
    names = _answer_fields()
    # one call per answer reads all its fields (a pass over the answers per field would
    # fetch every answer again)
    read = _answer_reader(names)
    values = list(zip(*map(read, answers), strict=True)) if answers else [()] * len(names)
    columns.update({name: list(column) for name, column in zip(names, values, strict=True)})
    return rows, columns


@cache
def _answer_reader(names: tuple[str, ...]) -> Any:
    """A function of one answer: the tuple of its ``names`` fields (None for each, if the
    answer is not an object), as ``flatten_answers`` reads them."""
    got = ", ".join(f"a.get({name!r})" for name in names)
    nothing = ", ".join("None" for _ in names)
    namespace: dict[str, Any] = {}
    exec(
        f"def read(a, isinstance=isinstance, dict=dict):\n"
        f"    return ({got},) if isinstance(a, dict) else ({nothing},)",
        namespace,
    )
    return namespace["read"]


def _taken(values: list[Any], positions: list[int]) -> list[Any]:
    """``values`` at ``positions``, in one C call for many (``operator.itemgetter``)."""
    if len(positions) < 2:
        return [values[p] for p in positions]
    return list(itemgetter(*positions)(values))


def flatten_columns(columns: dict[str, list[Any]], contract: EventContract) -> dict[str, list[Any]]:
    """The contract columns of a landed table from a batch's field columns (by path, as
    ``contracts.batch_checks.TypeBatch`` gathers them): ``flatten_event`` for many events
    at once, the same values."""
    return {name: columns[".".join(path)] for name, path in _column_paths(contract.event_type)}
