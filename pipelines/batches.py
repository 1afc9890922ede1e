"""What flows between the ingest transforms: one batch of Kafka records and its verdicts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, overload

import orjson
import pyarrow as pa

from contracts.batch_checks import Arrays, TypeBatch
from contracts.checks import Reason
from contracts.flatten import ANSWER_INPUT_PATHS, AnswerColumns, answer_columns_from
from handoff.records import KafkaRecord


class RecordBatch(list[KafkaRecord]):
    """Records read together, in offset order: the element the read steps output (a list
    of its own type so that it has a coder of its own, ``pipelines.coders``)."""


class ValidEvents(MutableMapping[int, dict[str, Any]]):
    """A batch's valid events by the index of their record. The batch check passes most
    events without making a dict of them (``contracts.typed_decoding``), and the steps
    after it read their columns (``CheckedBatch.columns``): such an event is kept as its
    type alone (``undecoded``) and decoded from its record's bytes when first read, as the
    check's other path would have decoded it (``orjson``)."""

    def __init__(
        self, records: Sequence[KafkaRecord], events: Mapping[int, dict[str, Any]] | None = None
    ) -> None:
        self._records = records
        self._events: dict[int, dict[str, Any] | str] = dict(events or {})

    def undecoded(self, index: int, event_type: str) -> None:
        """Record ``index`` holds a valid event of ``event_type``, not decoded yet."""
        self._events[index] = event_type

    def event_type(self, index: int) -> str:
        """The type of the event at ``index``, without decoding it."""
        event = self._events[index]
        return event if type(event) is str else event["event_type"]  # type: ignore[index,return-value]

    def __getitem__(self, index: int) -> dict[str, Any]:
        event = self._events[index]
        if type(event) is str:
            event = self._events[index] = orjson.loads(self._records[index].value or b"")
        return event  # type: ignore[return-value]

    def __setitem__(self, index: int, event: dict[str, Any]) -> None:
        self._events[index] = event

    def __delitem__(self, index: int) -> None:
        del self._events[index]

    def __contains__(self, index: object) -> bool:
        return index in self._events

    def __iter__(self) -> Iterator[int]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def __repr__(self) -> str:
        return f"ValidEvents({self._events!r})"


class EventsAt(Sequence[dict[str, Any]]):
    """The valid events of a batch at some of its indexes, each decoded only if read
    (``ValidEvents``), with some replaced (``replaced``) without reading the others."""

    def __init__(
        self,
        valid: Mapping[int, dict[str, Any]],
        indexes: Sequence[int],
        replaced: Mapping[int, dict[str, Any]] | None = None,
    ) -> None:
        self._valid = valid
        self._indexes = indexes
        self._replaced = dict(replaced or {})

    def replaced(self, changes: Mapping[int, dict[str, Any]]) -> EventsAt:
        """These events with the event at each position of ``changes`` replaced."""
        return EventsAt(self._valid, self._indexes, {**self._replaced, **changes})

    @overload
    def __getitem__(self, j: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, j: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, j: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(j, slice):
            return [self[k] for k in range(len(self))[j]]
        event = self._replaced.get(j if j >= 0 else j + len(self))
        return event if event is not None else self._valid[self._indexes[j]]

    def __len__(self) -> int:
        return len(self._indexes)


@dataclass
class CheckedBatch:
    """A batch of records: each is either valid (with its event) or rejected (with reasons).

    Every record of ``records`` is in exactly one of ``valid`` and ``rejected``, by index.
    """

    records: list[KafkaRecord]
    # a plain mapping given becomes ``ValidEvents`` (``__post_init__``)
    valid: MutableMapping[int, dict[str, Any]] = field(default_factory=dict)
    rejected: dict[int, list[Reason]] = field(default_factory=dict)
    # the event a rejected record decoded to (the strict decoder's), for its quarantine row
    decoded: dict[int, dict[str, Any]] = field(default_factory=dict)
    # the batch check's field columns of each event type (``contracts.batch_checks``)
    screened: dict[str, TypeBatch] = field(default_factory=dict)
    # ``columns`` as last gathered, by event type (GX's frames and the staging tables ask
    # for the same events' columns)
    gathered: dict[str, tuple[list[int], dict[str, list[Any]]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    # ``arrow``'s arrays (the batch check's first), by the list they hold and their type
    arrays: Arrays = field(default_factory=dict, repr=False, compare=False)
    # the lists ``columns`` took from the batch check's, by identity: (the list, the check's
    # list it was taken from, the rows taken), so that ``arrow`` takes the same rows of the
    # check's array instead of converting the Python values again
    taken: dict[int, tuple[list[Any], list[Any], pa.Array]] = field(
        default_factory=dict, repr=False, compare=False
    )
    # ``answer_columns``' answer rows, by the lists they were made of
    answers: dict[tuple[int, ...], tuple[list[list[Any]], AnswerColumns]] = field(
        default_factory=dict, repr=False, compare=False
    )
    # ``valid_by_type``, once worked out (``reject`` forgets it)
    _by_type: list[tuple[str, list[int]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not isinstance(self.valid, ValidEvents):
            self.valid = ValidEvents(self.records, self.valid)

    def __getstate__(self) -> dict[str, Any]:
        # a batch that crosses processes is pickled (``pipelines.coders``): without what
        # is found by the identity of its lists, which its lists there would not have
        return {**self.__dict__, "arrays": {}, "answers": {}, "taken": {}}

    def reject(self, index: int, reasons: list[Reason]) -> None:
        self.valid.pop(index, None)
        self.rejected.setdefault(index, []).extend(reasons)
        self._by_type = None

    def valid_by_type(self) -> list[tuple[str, list[int]]]:
        """The indexes of the valid events (ascending) by event type, in the types' order.
        Worked out once for the batch: its validation and its staging each ask for it, a
        loop over every event."""
        if self._by_type is None:
            indexes = sorted(self.valid)
            types = list(map(self.valid.event_type, indexes))  # type: ignore[attr-defined]
            if len(set(types)) == 1:  # the usual case: a batch is read from one topic
                self._by_type = [(types[0], indexes)]
            else:
                by_type: dict[str, list[int]] = {}
                for i, event_type in zip(indexes, types, strict=True):
                    by_type.setdefault(event_type, []).append(i)
                self._by_type = sorted(by_type.items())
        return self._by_type

    def columns(self, event_type: str, indexes: list[int]) -> dict[str, list[Any]] | None:
        """The field columns (by path) of the events at ``indexes`` (all of one type), or
        None if the batch check did not gather every one of them (the per-message checker
        passed it: the row path then reads the events themselves). The lists may be the
        batch's own: a caller that changes a value changes ``own_columns`` of them."""
        screened = self.screened.get(event_type)
        if screened is None:
            return None
        last = self.gathered.get(event_type)
        if last is not None and last[0] == indexes:
            return dict(last[1])
        where = screened.where()
        rows = [where.get(i, -1) for i in indexes]
        if any(j < 0 or not screened.clean[j] for j in rows):
            return None
        if rows == list(range(len(screened.positions))):  # the usual case: all of them
            columns = dict(screened.columns)
        elif len(rows) < 2:
            columns = {path: [values[j] for j in rows] for path, values in screened.columns.items()}
        else:
            gather = itemgetter(*rows)  # one C call per column, not a Python loop over rows
            columns = {path: list(gather(values)) for path, values in screened.columns.items()}
            indices = pa.array(rows, pa.int64())
            for path, values in columns.items():
                self.taken[id(values)] = (values, screened.columns[path], indices)
        self.gathered[event_type] = (list(indexes), columns)
        return dict(columns)

    def arrow(self, values: list[Any], type_: pa.DataType) -> pa.Array:
        """``values`` as an Arrow array of ``type_``, converted once for the batch: the
        staging tables and GX's frames convert the same lists of ``columns`` (which are
        never changed in place: ``own_columns``)."""
        key = (id(values), type_)
        if key not in self.arrays:
            taken = self._taken_array(values, type_)
            self.arrays[key] = (values, pa.array(values, type_) if taken is None else taken)
        return self.arrays[key][1]

    def _taken_array(self, values: list[Any], type_: pa.DataType) -> pa.Array | None:
        """``values`` as Arrow, if ``columns`` took them from a list the batch check had
        converted to ``type_``: the same rows of its array (Arrow converts value by value,
        so the rows of the whole are the conversion of the part)."""
        taken = self.taken.get(id(values))
        if taken is None or taken[0] is not values:
            return None
        _, source, indices = taken
        whole = self.arrays.get((id(source), type_))
        if whole is None or whole[0] is not source:
            return None
        return whole[1].take(indices)

    def answer_columns(self, columns: dict[str, list[Any]]) -> AnswerColumns:
        """The answer rows of the survey responses whose field columns are ``columns``
        (``contracts.flatten.answer_columns_from``), made once for the batch: the staging
        tables and GX's frames ask for the same, found by the identity of the lists they
        are made of (``columns``' lists are never changed in place: ``own_columns``)."""
        inputs = [columns[path] for path in ANSWER_INPUT_PATHS]
        key = tuple(map(id, inputs))
        if key not in self.answers:
            self.answers[key] = (inputs, answer_columns_from(columns))
        rows, built = self.answers[key][1]
        return rows, dict(built)


def own_columns(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Copies of the lists of ``columns`` (``CheckedBatch.columns``), for a caller to
    change: copied only when a value changes (an event's redaction), as most never do."""
    return {path: list(values) for path, values in columns.items()}
