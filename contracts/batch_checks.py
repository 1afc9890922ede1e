"""The contract check of a whole batch at once, column by column, with the verdicts of
``contracts.checks.check_value`` for every message.

The per-message checker decodes with a strict hook-driven parser and walks the field tree
for every event: about 28 µs a message. Here a batch is read in two ways:

* the typed path, first: each message is decoded by its type's ``msgspec`` Struct
  (``contracts.typed_decoding``), which checks the type, enum, length, pattern and bounds
  of every declared leaf field as it decodes, in C, and makes no dict of the event (the
  steps after the check read its columns). Calendar dates and times (each distinct text
  once), the items of arrays of objects, the rules a schema cannot express and the key
  count (below) are checked here over the columns;
* ``orjson`` (C) for the messages a Struct refuses: each field of the contract is checked
  once per batch over the column of its values, gathered from the decoded objects, then
  type, enum, length, pattern and bounds as Arrow compute kernels over the column (a number
  column that holds anything but numbers, value by value).

Only what neither path passes as clean goes to ``check_value`` for its precise reasons:
the verdicts are the per-message checker's by construction, which
``tests/unit/test_batch_checks.py`` checks message by message on every class of bad input.

What ``orjson`` or a Struct decodes differently from the strict decoder is never screened
clean:

* duplicate keys (both keep the last): the number of ``"…":`` key tokens in the bytes must
  equal the number of keys decoded (a duplicate makes the bytes hold more; a Struct
  counts a field sent as null as absent, so such a message goes the ``orjson`` way);
* integers beyond ±(2^53 − 1) (``orjson`` keeps them up to 64 bits, and longer ones as a
  double) fail their field's check, as does nesting past ``MAX_DEPTH`` (``orjson`` allows
  1024; a declared field nests five deep at most);
* a field the contract does not declare (the per-message checker lets it through, and so
  does this screen) is walked for the same: its keys are counted with the others, and an
  integer beyond ±(2^53 − 1), a double as large (it may have been a longer integer), or
  nesting past ``MAX_DEPTH`` in it leaves the event to the per-message checker;
* lone surrogates, NaN, a byte-order mark, control characters and overflowing numbers
  ``orjson`` refuses itself (an escaped surrogate pair is one character to both decoders,
  and is screened like any other text).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from itertools import chain, repeat
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from contracts.checks import Reason, check_value, observation_rules, parse_timestamp, survey_rules
from contracts.decoding import MAX_DEPTH, MAX_SAFE_INTEGER
from contracts.personal_data import may_hold_personal_data_each
from contracts.spec import (
    FUTURE_TOLERANCE_HOURS,
    MAX_MESSAGE_BYTES,
    SCHEMA_VERSION,
    EventContract,
    Field,
    contract_for_topic,
    contracts,
)
from contracts.survey_catalog import SurveyCatalog, survey_catalog
from contracts.taxonomy import codes
from contracts.typed_decoding import left_to_columns, struct_reader, typed_decoder

Verdict = tuple[dict[str, Any] | None, list[Reason]]

_KEY_TOKEN = re.compile(rb'"\s*:')  # a key token (``key_tokens`` counts them without it)
_REGEX_SPACE = b" \t\n\r\f\v"  # what ``\s`` matches in a bytes pattern
_EMPTY: dict[str, Any] = {}
IS_DICT, ABSENT, NOT_DICT = 0, 1, 2  # what an object field holds (``TypeBatch.objects``)
_NONE = type(None)
_NUMBER_KINDS = {int, float, _NONE}
Instants = dict[str, datetime | None]  # timestamp texts, parsed (``parse_timestamp``)
# Arrow arrays of columns by their list's identity and type, with the list (so that its
# identity stays its own)
Arrays = dict[tuple[int, pa.DataType], tuple[list[Any], pa.Array]]


@dataclass
class TypeBatch:
    """The screened events of one type in a batch, and their fields as columns.

    ``columns`` maps each field's path (``"payload.amount"``; an envelope field by its name)
    to its values in event order, None where absent; ``objects`` maps each object field to
    ``IS_DICT``, ``ABSENT`` or ``NOT_DICT`` per event. ``clean[j]``: event ``j`` breaks no
    rule of the contract (the per-message checker finds nothing). ``events[j]`` is None for
    an event the typed path read (``contracts.typed_decoding``: no dict is made of it)."""

    contract: EventContract
    positions: list[int] = field(default_factory=list)  # of the events in the batch
    events: list[dict[str, Any] | None] = field(default_factory=list)
    columns: dict[str, list[Any]] = field(default_factory=dict)
    objects: dict[str, list[int]] = field(default_factory=dict)
    clean: list[bool] = field(default_factory=list)
    # per event: ``"…":`` tokens in its bytes, keys of its envelope and objects, and how many
    # of those the contract does not declare
    key_tokens: list[int] = field(default_factory=list)
    # per event: whether its bytes may hold personal data (``may_hold_personal_data``),
    # read once here for the steps after the check
    suspect: list[bool] = field(default_factory=list)
    keys: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)
    # the timestamp texts the check read, parsed (``parse_timestamp``)
    instants: Instants = field(default_factory=dict)
    # the Arrow arrays the check made of whole columns, by the list and type (the steps
    # after it convert the same lists: ``pipelines.batches.CheckedBatch.arrow``)
    arrays: Arrays = field(default_factory=dict)
    _where: dict[int, int] | None = field(default=None, init=False, repr=False, compare=False)

    def where(self) -> dict[int, int]:
        """Each event's index in this batch by its position in the whole batch."""
        if self._where is None or len(self._where) != len(self.positions):
            self._where = {position: j for j, position in enumerate(self.positions)}
        return self._where


def suspects(
    screened: TypeBatch | None, positions: Sequence[int], values: Sequence[bytes | None]
) -> list[bool]:
    """Whether the message at each position of a batch (its bytes in ``values``) may hold
    personal data: as the batch check noted it for the events it screened, else read now."""
    where = screened.where() if screened is not None else {}
    if len(positions) != len(values):
        raise ValueError("a value for each position")
    rows = list(map(where.get, positions))
    if screened is not None and None not in rows:  # the usual case: all screened, in C loops
        return list(map(screened.suspect.__getitem__, rows))  # type: ignore[arg-type]
    unread = [j for j, i in enumerate(positions) if i not in where]
    read_now = iter(may_hold_personal_data_each([values[j] for j in unread]))
    return [
        screened.suspect[where[i]] if screened is not None and i in where else next(read_now)
        for i, _ in zip(positions, values, strict=True)
    ]


def value_at(event: dict[str, Any], path: str) -> Any:
    """The value of an event's field at a column's path (``"payload.amount"``, an envelope
    field by its name), as the columns of ``TypeBatch`` hold it: None where absent."""
    name, _, child = path.partition(".")
    value = event.get(name)
    if not child:
        return value
    return value.get(child) if type(value) is dict else None


def check_values(
    values: Sequence[bytes | None], topics: Sequence[str], now: datetime
) -> list[Verdict]:
    """The verdict of each value (``check_value``'s): the event and no reasons, or the
    event if decodable and every reason it is not valid."""
    return checked(values, topics, now)[0]


def checked(
    values: Sequence[bytes | None], topics: Sequence[str], now: datetime, decoded: bool = True
) -> tuple[list[Verdict], dict[str, TypeBatch]]:
    """``check_values``, and the screened events' columns by event type. Should the batch
    screen itself fail, every value is checked on its own: one message's oddity may cost
    the batch its speed, never its verdicts. Without ``decoded``, a valid event the typed
    path screened (``TypeBatch.events`` holds None for it) has None for its event: the
    caller decodes it if ever it needs it (``orjson``, as the other path would have)."""
    try:
        screened = screen_batch(values, topics, now)
    except Exception:  # a defect of the screen must not stop the pass: the checker decides
        screened = {}
    verdicts: list[Verdict | None] = [None] * len(values)
    for batch in screened.values():
        for i, event, clean in zip(batch.positions, batch.events, batch.clean, strict=True):
            if clean:
                if event is None and decoded:
                    event = orjson.loads(values[i])  # type: ignore[arg-type]
                verdicts[i] = (event, [])
    return [
        verdict if verdict is not None else check_value(value, topic=topic, now=now)
        for verdict, value, topic in zip(verdicts, values, topics, strict=True)
    ], screened


def screen_batch(
    values: Sequence[bytes | None], topics: Sequence[str], now: datetime
) -> dict[str, TypeBatch]:
    """The batch's events that claim their topic's type and decode the same with a fast
    decoder as with the strict one, by event type, checked column by column (``clean``).
    Each message is first decoded by its type's Struct (``contracts.typed_decoding``), which
    checks most declared fields as it decodes, and then by ``orjson`` if refused there."""
    catalog = survey_catalog()
    typed, rest = _typed_batches(values, topics, now, catalog)
    batches: dict[str, TypeBatch] = {}
    for i in rest:
        value, topic = values[i], topics[i]
        event = _screen_decode(value)
        contract = contract_for_topic(topic) if event is not None else None
        if event is None or contract is None or event.get("event_type") != contract.event_type:
            continue
        batch = batches.get(contract.event_type)
        if batch is None:
            batch = batches[contract.event_type] = TypeBatch(contract)
        batch.positions.append(i)
        batch.events.append(event)
        batch.key_tokens.append(key_tokens(value))  # type: ignore[arg-type]
    for batch in batches.values():
        batch.suspect = may_hold_personal_data_each([values[i] for i in batch.positions])
        _gather(batch)
        batch.clean = _clean(batch, now, catalog)
    for event_type, part in typed.items():
        batches[event_type] = _joined(part, batches[event_type]) if event_type in batches else part
    return batches


def _typed_batches(
    values: Sequence[bytes | None], topics: Sequence[str], now: datetime, catalog: SurveyCatalog
) -> tuple[dict[str, TypeBatch], list[int]]:
    """The events their type's Struct decodes (``contracts.typed_decoding``) with as many
    keys as key tokens, by type, checked for what the Struct does not check (``clean``);
    and the positions of the other values, in order, for ``orjson`` to read."""
    by_topic: dict[str, list[int]] = {}
    if len(set(topics)) == 1:  # the usual case: a batch is read from one topic
        by_topic[topics[0]] = list(range(len(topics)))
    else:
        for i, topic in enumerate(topics):
            by_topic.setdefault(topic, []).append(i)
    batches: dict[str, TypeBatch] = {}
    rest: list[int] = []
    for topic, positions in by_topic.items():
        contract = contract_for_topic(topic)
        if contract is None:
            rest += positions
            continue
        decode = typed_decoder(contract.event_type)
        structs = [_typed(decode, values[i]) for i in positions]
        decoded = [j for j, struct in enumerate(structs) if struct is not None]
        if len(decoded) < len(positions):
            rest += [positions[j] for j, struct in enumerate(structs) if struct is None]
            positions = [positions[j] for j in decoded]
            structs = [structs[j] for j in decoded]
        if not positions:
            continue
        rows = list(map(struct_reader(contract.event_type), structs))
        tokens = [key_tokens(values[i]) for i in positions]  # type: ignore[arg-type]
        agree = list(map(operator.eq, _keys_with_items(contract.event_type, rows), tokens))
        if False in agree:  # a duplicate key, a null sent, an undeclared key in an item
            rest += [i for i, same in zip(positions, agree, strict=True) if not same]
            kept = [j for j, same in enumerate(agree) if same]
            positions = [positions[j] for j in kept]
            rows, tokens = [rows[j] for j in kept], [tokens[j] for j in kept]
        if not positions:
            continue
        batch = batches[contract.event_type] = TypeBatch(contract, positions=positions)
        batch.events = [None] * len(positions)
        batch.key_tokens = tokens
        batch.suspect = may_hold_personal_data_each([values[i] for i in positions])
        _columns_of(batch, rows)
        batch.clean = _typed_clean(batch, now, catalog)
    rest.sort()
    return batches, rest


def _typed(decode: Callable[[bytes], Any], value: bytes | None) -> Any:
    """The Struct ``decode`` makes of ``value``, None if it refuses it (or anything else
    goes wrong: the other path then reads the value)."""
    if value is None or len(value) > MAX_MESSAGE_BYTES:
        return None
    try:
        return decode(value)
    except Exception:
        return None


def _keys_with_items(event_type: str, rows: list[tuple[Any, ...]]) -> list[int | None]:
    """The keys of each event (``rows``: ``struct_reader``'s), with those of the objects in
    its arrays of objects; None for an event with a key its array items do not declare
    (``orjson`` may have read its value otherwise: the other path reads the event)."""
    counts: list[int | None] = [row[0] for row in rows]
    objects, leaves, _ = _layout(event_type)
    for name, declared in _declared(event_type)[1]:
        at = 2 + len(objects) + leaves.index(f"payload.{name}")
        for j, row in enumerate(rows):
            items = row[at]
            if not items:
                continue
            count = counts[j]
            for item in items:  # a Struct's array of objects holds objects only
                if count is None or not item.keys() <= declared:
                    count = None
                    break
                count += len(item)
            counts[j] = count
    return counts


def _columns_of(batch: TypeBatch, rows: list[tuple[Any, ...]]) -> None:
    """The batch's key counts, object statuses and columns, from its events' ``_layout``
    tuples (``rows``: ``_layout``'s reader of a dict, or ``struct_reader`` of a Struct)."""
    objects, leaves, _ = _layout(batch.contract.event_type)
    columns = list(zip(*rows, strict=True)) or [()] * (2 + len(objects) + len(leaves))
    batch.keys, batch.unknown = list(columns[0]), list(columns[1])
    batch.objects = {name: list(columns[2 + k]) for k, name in enumerate(objects)}
    batch.columns = {path: list(columns[2 + len(objects) + k]) for k, path in enumerate(leaves)}


def _typed_clean(batch: TypeBatch, now: datetime, catalog: SurveyCatalog) -> list[bool]:
    """``_clean`` of events a Struct decoded: what the Struct does not check, the dates, the
    timestamps, the items of arrays of objects and the rules a schema cannot express."""
    ok = [True] * len(batch.positions)
    everyone = list(range(len(ok)))
    for leaf, path in left_to_columns(batch.contract.event_type):
        if leaf.kind in ("date", "timestamp"):
            _calendar(leaf, batch.columns[path], everyone, ok, batch.instants)
        else:  # an array of objects, whose items the Struct read as plain objects
            _leaf(leaf, batch.columns[path], everyone, ok, None, batch.instants)
    _rules(batch, now, catalog, ok)
    return ok


def _joined(typed: TypeBatch, other: TypeBatch) -> TypeBatch:
    """One type's events a Struct decoded (``typed``), then the clean ones of those
    ``orjson`` read (``other``). An event the screen does not pass as clean is left out:
    the checker decides it, and what comes after reads the screened columns of clean
    events only."""
    kept = [j for j, clean in enumerate(other.clean) if clean]
    if not kept:
        return typed
    joined = TypeBatch(typed.contract)

    def both(first: list[Any], second: list[Any]) -> list[Any]:
        return first + [second[j] for j in kept]

    joined.positions = both(typed.positions, other.positions)
    joined.events = both(typed.events, other.events)
    joined.clean = both(typed.clean, other.clean)
    joined.key_tokens = both(typed.key_tokens, other.key_tokens)
    joined.suspect = both(typed.suspect, other.suspect)
    joined.keys = both(typed.keys, other.keys)
    joined.unknown = both(typed.unknown, other.unknown)
    joined.columns = {p: both(v, other.columns[p]) for p, v in typed.columns.items()}
    joined.objects = {p: both(v, other.objects[p]) for p, v in typed.objects.items()}
    joined.instants = {**typed.instants, **other.instants}
    return joined


def key_tokens(value: bytes) -> int:
    """How many key tokens (a quote, any white space, a colon) ``value`` holds: what the
    regex ``_KEY_TOKEN`` finds, in a third of its time. With the white space removed, each
    token is a quote right before a colon, and nothing else is."""
    return value.translate(None, _REGEX_SPACE).count(b'":')


def _screen_decode(value: bytes | None) -> dict[str, Any] | None:
    """The value decoded by ``orjson`` if it is a JSON object, else None (the strict
    decoder then says why)."""
    if value is None or len(value) > MAX_MESSAGE_BYTES:
        return None
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return event if type(event) is dict else None


# ----------------------------------------------------------------------------- gathering
@cache
def _layout(event_type: str) -> tuple[list[str], list[str], Callable[..., tuple[Any, ...]]]:
    """The object fields, the leaf paths, and a function reading one event into a tuple:
    each object field's ``IS_DICT``/``ABSENT``/``NOT_DICT``, then each leaf's value. One
    call per event reads it while it is in the CPU's cache; gathering field by field over
    the batch would fetch every event again per field."""
    objects: list[str] = []
    leaves: list[str] = []
    contract = contracts()[event_type]
    lines = ["def read(e, E=_EMPTY, dict=dict):"]
    status, values = [], []
    sizes, known = ["len(e)"], [f"({f.name!r} in e)" for f in contract.root.fields]
    for f in contract.root.fields:
        if f.kind == "object":
            var = f"o{len(objects)}"
            objects.append(f.name)
            lines.append(f"    {var} = e.get({f.name!r})")
            lines.append(
                f"    s{var} = {IS_DICT} if {var}.__class__ is dict else "
                f"({ABSENT} if {var} is None else {NOT_DICT})"
            )
            lines.append(f"    {var} = {var} if s{var} == {IS_DICT} else E")
            status.append(f"s{var}")
            sizes.append(f"len({var})")
            known += [f"({c.name!r} in {var})" for c in f.fields]
            for c in f.fields:
                leaves.append(f"{f.name}.{c.name}")
                values.append(f"{var}.get({c.name!r})")
        else:
            leaves.append(f.name)
            values.append(f"e.get({f.name!r})")
    lines.append(f"    keys = {' + '.join(sizes)}")
    lines.append(f"    unknown = keys - ({' + '.join(known)})")
    lines.append(f"    return (keys, unknown, {', '.join(status + values)},)")
    namespace: dict[str, Any] = {"_EMPTY": _EMPTY}
    exec("\n".join(lines), namespace)
    return objects, leaves, namespace["read"]


def _gather(batch: TypeBatch) -> None:
    _columns_of(batch, list(map(_layout(batch.contract.event_type)[2], batch.events)))


# ----------------------------------------------------------------------------- checking
def _clean(batch: TypeBatch, now: datetime, catalog: SurveyCatalog) -> list[bool]:
    """Whether each event of the batch breaks no rule of its contract."""
    n = len(batch.events)
    ok = [True] * n
    everyone = list(range(n))
    for f in batch.contract.root.fields:
        if f.name == "event_type":  # the screen kept the topic's type only
            continue
        if f.kind != "object":
            values = batch.columns[f.name]
            if f.name == "schema_version":
                _bad_where(ok, everyone, values, _not_version)
            else:
                _leaf(f, values, everyone, ok, None, batch.instants, batch.arrays)
            continue
        status = batch.objects[f.name]
        refused = {NOT_DICT, ABSENT} if f.required else {NOT_DICT}
        _bad_where(ok, everyone, status, refused.__contains__)
        present = [s == IS_DICT for s in status]
        for c in f.fields:
            path = f"{f.name}.{c.name}"
            _leaf(c, batch.columns[path], everyone, ok, present, batch.instants, batch.arrays)
    _shape(batch, ok)
    _rules(batch, now, catalog, ok)
    return ok


def _shape(batch: TypeBatch, ok: list[bool]) -> None:
    """Marks an event whose bytes hold more keys than it decoded to (a duplicate key:
    ``orjson`` keeps the last, the strict decoder refuses it), or with a field the contract
    does not declare that ``orjson`` may have read otherwise (``_undeclared``). The objects
    inside arrays (a deployment's KPIs, a response's answers) are counted here, as are the
    keys inside undeclared fields."""
    keys, unknown = list(batch.keys), list(batch.unknown)
    for name, declared in _declared(batch.contract.event_type)[1]:
        for j, items in enumerate(batch.columns[f"payload.{name}"]):
            if type(items) is list:
                for item in items:
                    if type(item) is dict:
                        keys[j] += len(item)
                        if not item.keys() <= declared:  # a C loop, where the sum is not
                            unknown[j] += sum(k not in declared for k in item)
    for j, (counted, extra, tokens) in enumerate(zip(keys, unknown, batch.key_tokens, strict=True)):
        if extra:
            inside, alike = _undeclared(batch.events[j], batch.contract)
            counted += inside
            if not alike:
                ok[j] = False
        if counted != tokens:
            ok[j] = False


@cache
def _declared(
    event_type: str,
) -> tuple[dict[str, frozenset[str] | None], list[tuple[str, frozenset[str]]]]:
    """The names the contract declares where ``_shape`` counts keys: each envelope field
    (with its children's names if it is an object), and each array of objects in the
    payload with its items' field names."""
    contract = contracts()[event_type]
    envelope = {
        f.name: frozenset(c.name for c in f.fields) if f.kind == "object" else None
        for f in contract.root.fields
    }
    arrays = [
        (f.name, frozenset(c.name for c in f.items.fields))
        for f in contract.payload.fields
        if f.kind == "array" and f.items is not None and f.items.kind == "object"
    ]
    return envelope, arrays


def _undeclared(event: dict[str, Any], contract: EventContract) -> tuple[int, bool]:
    """The keys inside the event's undeclared fields (wherever ``_shape`` counts keys:
    ``_declared``), and whether ``orjson`` read
    every value in them as the strict decoder would (``_read_alike``)."""
    inside = 0
    for value, depth in _undeclared_values(event, contract):
        keys, alike = _read_alike(value, depth)
        inside += keys
        if not alike:
            return inside, False
    return inside, True


def _undeclared_values(event: dict[str, Any], contract: EventContract) -> Iterator[tuple[Any, int]]:
    """Each value of a key the contract does not declare, with the objects and arrays
    around it (1 at the top of the event)."""
    envelope, arrays = _declared(contract.event_type)
    for name, value in event.items():
        if name not in envelope:
            yield value, 1
            continue
        children = envelope[name]
        if children is not None and type(value) is dict:
            yield from ((v, 2) for k, v in value.items() if k not in children)
    payload = event.get("payload")
    if type(payload) is not dict:
        return
    for name, children in arrays:
        items = payload.get(name)
        if type(items) is not list:
            continue
        for item in items:  # the event, the payload, the array, the item
            if type(item) is dict:
                yield from ((v, 4) for k, v in item.items() if k not in children)


def _read_alike(value: Any, depth: int) -> tuple[int, bool]:
    """The keys of the objects in ``value`` (inside ``depth`` objects and arrays), and
    whether the strict decoder reads it as ``orjson`` did: no object or array past
    ``MAX_DEPTH`` levels, no integer beyond ±(2^53 − 1), and no double that large
    (``orjson`` reads an integer past 64 bits as one; the strict decoder refuses it, though
    it accepts such a double written as one: the per-message checker tells them apart)."""
    keys = 0
    stack = [(value, depth)]
    while stack:
        v, level = stack.pop()
        kind = type(v)
        if kind is dict or kind is list:
            if level >= MAX_DEPTH:  # this object or array is at level + 1
                return keys, False
            if kind is dict:
                keys += len(v)
                stack.extend((x, level + 1) for x in v.values())
            else:
                stack.extend((x, level + 1) for x in v)
        elif (kind is int or kind is float) and not -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
            return keys, False
    return keys, True


def _rules(batch: TypeBatch, now: datetime, catalog: SurveyCatalog, ok: list[bool]) -> None:
    """The rules a schema cannot express, on the events still clean."""
    event_type = batch.contract.event_type
    limit = now + timedelta(hours=FUTURE_TOLERANCE_HOURS)
    occurred = batch.columns["occurred_at"]
    if event_type == "spend_disclosure":
        technology = batch.columns["payload.technology"]
        spend_class = batch.columns["payload.spend_class"]
    # the rules read an event's payload and subject as objects: made of their columns
    # (both paths gathered them; the typed path made no dict of the event)
    payload, subject = _objects(batch, "payload"), _objects(batch, "subject")
    for j in range(len(ok)):
        if not ok[j]:
            continue
        text = occurred[j]
        ts = batch.instants[text] if text in batch.instants else parse_timestamp(text)
        if ts is not None and ts > limit:
            ok[j] = False
        elif event_type == "spend_disclosure":
            ok[j] = technology[j] is None or spend_class[j] == "frontier"
        elif event_type == "survey_response":
            out: list[Reason] = []
            survey_rules(payload(j), subject(j), out, catalog)
            ok[j] = not out
        elif event_type == "observation":
            found: list[Reason] = []
            observation_rules(payload(j), found)
            ok[j] = not found


def _objects(batch: TypeBatch, name: str) -> Callable[[int], dict[str, Any]]:
    """A function of an event's index in the batch: its object field ``name`` as a dict
    of the fields the contract declares in it (None where absent), from their columns."""
    columns = [
        (c.name, batch.columns[f"{name}.{c.name}"]) for c in batch.contract.root.child(name).fields
    ]
    return lambda j: {field: column[j] for field, column in columns}


def _not_version(v: Any) -> bool:
    return not (_is_number(v) and v == SCHEMA_VERSION)


def _bad_where(ok: list[bool], rows: list[int], values: list[Any], bad: Any) -> None:
    for row, v in zip(rows, values, strict=True):
        if bad(v):
            ok[row] = False


def _mark(ok: list[bool], rows: list[int], bad: pa.Array) -> None:
    """Marks ``rows[j]`` for every true ``bad[j]`` (null counts as not bad)."""
    for j in pc.indices_nonzero(pc.fill_null(bad, False)).to_pylist():
        ok[rows[j]] = False


def _leaf(
    f: Field,
    values: list[Any],
    rows: list[int],
    ok: list[bool],
    present: list[bool] | None,
    instants: Instants,
    arrays: Arrays | None = None,
) -> None:
    """Marks the rows whose value of field ``f`` breaks a rule. ``present``: whether the
    field's object is there (a field of an absent object is not missing on its own).
    ``instants``: each timestamp text read so far, parsed (``parse_timestamp``).
    ``arrays``: where to keep the Arrow array made of the whole column, if any."""
    if f.kind in ("string", "date", "timestamp"):
        # a text column's Arrow array counts its nulls: no pass over the values for them
        column = _string(f, values, rows, ok, instants, arrays)
        if f.required and (column is None or column.null_count):
            _missing(values, rows, ok, present)
        return
    kinds = set(map(type, values))  # one pass in C: most columns hold one kind of value
    if f.required and _NONE in kinds:
        _missing(values, rows, ok, present)
    if f.kind in ("object", "array"):
        _field(f, values, rows, ok, instants)
    else:
        _number(f, values, rows, ok, kinds, arrays)


def _missing(
    values: list[Any], rows: list[int], ok: list[bool], present: list[bool] | None
) -> None:
    """Marks the rows of a required field whose value is None (where its object is there)."""
    if present is None:
        _bad_where(ok, rows, values, lambda v: v is None)
    else:
        for row, v, there in zip(rows, values, present, strict=True):
            if v is None and there:
                ok[row] = False


def _field(
    f: Field, values: list[Any], rows: list[int], ok: list[bool], instants: Instants
) -> None:
    """``_leaf`` for a field inside an array, or an array or object itself. A column that is
    well formed (objects only; lists only, or nulls, with no null item) is read in C loops;
    any other goes value by value, to mark each value that breaks a rule."""
    if f.kind == "object":
        kinds = set(map(type, values))
        if kinds <= {dict}:  # the usual case, seen in one pass in C: every value an object
            dicts, dict_rows = values, rows
        else:
            _bad_where(ok, rows, values, lambda v: v is not None and type(v) is not dict)
            kept = [j for j, v in enumerate(values) if type(v) is dict]
            dicts, dict_rows = [values[j] for j in kept], [rows[j] for j in kept]
        for child in f.fields:
            name = child.name
            _leaf(child, [v.get(name) for v in dicts], dict_rows, ok, None, instants)
    elif f.kind == "array":
        least = f.min_items or 0
        kinds = set(map(type, values))
        lists = values if kinds <= {list} else [v for v in values if type(v) is list]
        if not kinds <= {list, _NONE} or (least and lists and min(map(len, lists)) < least):
            _bad_where(
                ok,
                rows,
                values,
                lambda v: v is not None and (type(v) is not list or len(v) < least),
            )
        if f.items is not None:
            list_rows = (
                rows
                if lists is values
                else [r for r, v in zip(rows, values, strict=True) if type(v) is list]
            )
            # each item with its event's row, in C loops
            item_values = list(chain.from_iterable(lists))
            item_rows = list(chain.from_iterable(map(repeat, list_rows, map(len, lists))))
            # a null item is a missing field (an optional field's null is not)
            if _NONE in set(map(type, item_values)):
                _bad_where(ok, item_rows, item_values, lambda v: v is None)
            _field(f.items, item_values, item_rows, ok, instants)
    elif f.kind in ("string", "date", "timestamp"):
        _string(f, values, rows, ok, instants)
    else:
        _number(f, values, rows, ok, set(map(type, values)))


def _string(
    f: Field,
    values: list[Any],
    rows: list[int],
    ok: list[bool],
    instants: Instants,
    arrays: Arrays | None = None,
) -> pa.Array | None:
    """Marks the rows whose value of the text field ``f`` is not a string or breaks its
    enum, length, pattern, date or timestamp rule. Returns the column as an Arrow array,
    None if it held other values than strings and nulls."""
    whole: pa.Array | None = None
    try:
        column = whole = pa.array(values, type=pa.string())
        if arrays is not None:
            arrays[(id(values), pa.string())] = (values, column)
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # not all strings: the others are wrong_type
        _bad_where(ok, rows, values, lambda v: v is not None and type(v) is not str)
        keep = [j for j, v in enumerate(values) if v is None or type(v) is str]
        rows, values = [rows[j] for j in keep], [values[j] for j in keep]
        column = pa.array(values, type=pa.string())
    if f.enum is not None:
        unknown = pc.invert(pc.is_in(column, value_set=_codes(f.enum)))  # true for a null
        _mark(ok, rows, pc.and_(pc.is_valid(column), unknown))
        return whole
    if f.min_length is not None:
        _mark(ok, rows, pc.less(pc.utf8_length(column), f.min_length))
    if f.max_length is not None:
        _mark(ok, rows, pc.greater(pc.utf8_length(column), f.max_length))
    if f.pattern is not None:
        # the contract's patterns are ECMA's ``^…$``: in RE2 as in JSON Schema, ``$`` ends the text
        _mark(ok, rows, pc.invert(pc.match_substring_regex(column, f.pattern)))
    _calendar(f, values, rows, ok, instants)
    return whole


def _calendar(
    f: Field, values: list[Any], rows: list[int], ok: list[bool], instants: Instants
) -> None:
    """Marks the rows whose value of a date field is not a calendar date, or of a timestamp
    field not an instant (each distinct text read once)."""
    if f.kind == "date":  # few distinct dates in a batch: each is read once
        wrong = {v for v in set(values) if type(v) is str and not _is_date(v)}
        if wrong:
            _bad_where(ok, rows, values, lambda v: v in wrong)
    elif f.kind == "timestamp":  # each read once: ``_rules`` compares them with now
        texts = {v for v in set(values) if type(v) is str}
        for v in texts - instants.keys():
            instants[v] = parse_timestamp(v)
        wrong = {v for v in texts if instants[v] is None}
        if wrong:
            _bad_where(ok, rows, values, lambda v: v in wrong)


def _number(
    f: Field,
    values: list[Any],
    rows: list[int],
    ok: list[bool],
    kinds: set[type],
    arrays: Arrays | None = None,
) -> None:
    """Marks the rows whose value of the number field ``f`` is not a finite number (an
    integer for an integer field) within ±(2^53 − 1) and the field's bounds. ``kinds``: the
    types of ``values``; ``arrays``: as ``_leaf``'s."""
    column = _doubles(values, kinds)
    if column is None:
        column = _numbers_one_by_one(f, values, rows, ok)
    else:  # only ints, floats and nulls, every int within 2^53 (Arrow converted it exactly)
        if arrays is not None:
            arrays[(id(values), pa.float64())] = (values, column)
        bad = pc.invert(pc.is_finite(column))
        bad = pc.or_(bad, pc.greater(pc.abs(column), MAX_SAFE_INTEGER))
        if f.kind == "integer" and float in kinds:
            bad = pc.or_(bad, pc.not_equal(pc.floor(column), column))
        _mark(ok, rows, bad)
    if f.minimum is not None:
        _mark(ok, rows, pc.less(column, f.minimum))
    if f.exclusive_minimum is not None:
        _mark(ok, rows, pc.less_equal(column, f.exclusive_minimum))
    if f.maximum is not None:
        _mark(ok, rows, pc.greater(column, f.maximum))


def _doubles(values: list[Any], kinds: set[type]) -> pa.Array | None:
    """``values`` as doubles, if they are only ints, floats and nulls, and Arrow holds every
    int exactly (it refuses one beyond 2^53); else None. (Arrow would read a bool as a
    number: ``kinds`` rules them out first.)"""
    if not kinds <= _NUMBER_KINDS:
        return None
    try:
        return pa.array(values, type=pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return None


def _numbers_one_by_one(f: Field, values: list[Any], rows: list[int], ok: list[bool]) -> pa.Array:
    """``_number``'s type and range check value by value; the values that are numbers as
    doubles, the others null."""
    integer = f.kind == "integer"
    _bad_where(
        ok,
        rows,
        values,
        lambda v: (
            v is not None
            and (
                not _is_number(v)
                or (integer and type(v) is not int and not v.is_integer())
                # orjson keeps integers up to 64 bits and reads longer ones as doubles; the
                # strict decoder refuses both: a value this large is left to it
                or not -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER
            )
        ),
    )
    numbers = [v if _is_number(v) else None for v in values]
    return pa.array(numbers, type=pa.float64())


@cache
def _codes(taxonomy: str) -> pa.Array:
    return pa.array(sorted(codes(taxonomy)), type=pa.string())


def _is_number(v: Any) -> bool:
    return (type(v) is int or type(v) is float) and math.isfinite(v)


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True
