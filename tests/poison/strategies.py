"""Hypothesis strategies for messages, derived from the contract (``contracts/spec.py``).

``valid_events`` walks each contract's field declarations (kinds, enums, patterns, bounds,
required fields) and the rules a schema cannot express (a technology only with frontier
spend; answers that fit their survey's questions; an observation's range running upwards and
its span ending after it starts), so its events pass the checker.
``messages`` then breaks some of them, one class of mutation each (``MUTATIONS``): types,
bounds, enums, missing fields, unicode, nesting, numbers, timestamps, keys, sizes, raw
bytes, repeated and conflicting ids. Each message carries its class.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from hypothesis import strategies as st

from contracts.decoding import MAX_DEPTH
from contracts.spec import MAX_MESSAGE_BYTES, EventContract, Field, anchored, contracts
from contracts.survey_catalog import survey_catalog
from contracts.taxonomy import codes

# the ingest's start: events are never after it (that is the future_timestamp rule's own test)
NOW = datetime(2026, 11, 26, tzinfo=UTC)
MAX_INTEGER = 2**53 - 1
_SERIAL = itertools.count()
SENTINEL = 0.7071067811865476  # a number no generated event holds: replaced by a literal
# printable text without '@' (an e-mail address outside respondent_email is a violation of its
# own) but with everything else a store must keep: CJK, emoji, NUL, controls, bidi marks
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="@"), min_size=1, max_size=24)


@dataclass(frozen=True)
class Message:
    mutation: str  # "valid" or one of MUTATIONS
    event_type: str  # the event's own type (the topic it goes to)
    value: bytes | None


def _timestamp(draw: st.DrawFn) -> str:
    """RFC 3339 in the contract's form; within a day of either end of the calendar an offset
    could push the instant out of it, so those days are left out."""
    m = draw(st.datetimes(datetime(1, 1, 2), NOW.replace(tzinfo=None) - timedelta(days=1)))
    text = f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
    digits = draw(st.integers(0, 9))
    if digits:
        text += "." + f"{m.microsecond:06d}{draw(st.integers(0, 999)):03d}"[:digits]
    offset = draw(st.integers(-14 * 60, 14 * 60))
    if offset == 0 and draw(st.booleans()):
        return text + "Z"
    sign = "-" if offset < 0 else "+"
    return text + f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"


@cache
def value_of(f: Field) -> st.SearchStrategy[Any]:
    """Values the checker accepts for one field, from its declaration (built once a field:
    hypothesis validates a strategy when it is first drawn from)."""
    if f.const is not None:
        return st.just(f.const)
    if f.enum is not None:
        return st.sampled_from(codes(f.enum))
    if f.kind == "object":
        required = {c.name: value_of(c) for c in f.fields if c.required}
        optional = {c.name: value_of(c) for c in f.fields if not c.required}
        return st.fixed_dictionaries(required, optional=optional)
    if f.kind == "array":
        assert f.items is not None
        return st.lists(value_of(f.items), min_size=f.min_items or 0, max_size=3)
    if f.kind == "date":
        return st.dates().map(lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}")
    if f.kind == "timestamp":
        return st.composite(lambda draw: _timestamp(draw))()
    if f.kind == "string":
        if f.pattern is not None:
            return st.from_regex(anchored(f.pattern), fullmatch=True)
        return TEXT
    if f.kind == "integer":
        low = int(f.minimum) if f.minimum is not None else -MAX_INTEGER
        high = int(f.maximum) if f.maximum is not None else MAX_INTEGER
        return st.integers(low, high)
    low = f.minimum if f.minimum is not None else f.exclusive_minimum
    return st.floats(
        min_value=low,
        max_value=f.maximum,
        exclude_min=f.exclusive_minimum is not None,
        allow_nan=False,
        allow_infinity=False,
    )


@st.composite
def _answers(draw: st.DrawFn) -> dict[str, Any]:
    survey = draw(st.sampled_from(sorted(survey_catalog(), key=lambda s: s.survey_id)))
    questions = draw(
        st.lists(st.sampled_from(sorted(survey.questions)), min_size=1, max_size=6, unique=True)
    )
    answers = []
    for qid in questions:
        q = survey.questions[qid]
        answer: dict[str, Any] = {"question_id": qid, "kind": q.kind}
        if q.kind == "single":
            answer["options"] = [draw(st.sampled_from(sorted(q.options)))]
        elif q.kind == "multi":
            answer["options"] = draw(st.lists(st.sampled_from(sorted(q.options)), unique=True))
        elif q.kind == "score":
            answer["score"] = draw(st.floats(0, 1))
        else:
            answer["stage"] = draw(st.sampled_from(codes("stage")))
        answers.append(answer)
    return {
        "survey_id": survey.survey_id,
        "wave": draw(st.sampled_from(survey.waves)),
        "answers": answers,
    }


@st.composite
def valid_event(draw: st.DrawFn, contract: EventContract) -> dict[str, Any]:
    event = draw(value_of(contract.root))
    # ids drawn from the pattern repeat ("0"), and so do drawn uuids: a counter keeps the
    # events apart (duplicates and conflicts are made on purpose, by ``messages``)
    event["event_id"] = f"{event['event_id'][:90]}:{draw(st.builds(lambda: next(_SERIAL)))}"
    event["occurred_at"] = draw(value_of(contract.root.child("occurred_at")))
    payload = event["payload"]
    if contract.event_type == "spend_disclosure" and payload.get("spend_class") != "frontier":
        payload.pop("technology", None)
    if contract.event_type == "observation":
        if payload.get("value_high") is not None and payload["value_high"] < payload["value"]:
            payload["value"], payload["value_high"] = payload["value_high"], payload["value"]
        if payload.get("span_from") is not None and payload.get("fiscal_period") is not None:
            # a span starts in the year before the figure's own period (none before year 0)
            year = int(payload["fiscal_period"][:4])
            if year:
                payload["span_from"] = f"{year - 1:04d}"
            else:
                del payload["span_from"]
    if contract.event_type == "survey_response":
        payload.update(draw(_answers()))
        payload.pop("respondent_email", None)
        if draw(st.booleans()):
            payload["respondent_email"] = f"r{draw(st.integers(0, 999))}@bank.example.cn"
    return event


def valid_events() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(*(valid_event(c) for c in contracts().values()))


def dumps(event: Any, ascii_only: bool = False) -> bytes:
    return json.dumps(event, ensure_ascii=ascii_only, separators=(",", ":")).encode("utf-8")


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leaves(v, (*path, k))] or [path]
    if isinstance(node, list) and node:
        return [p for i, v in enumerate(node) for p in _leaves(v, (*path, i))]
    return [path]


def _put(event: Any, path: tuple[Any, ...], value: Any) -> None:
    node = event
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value


def _pick_leaf(draw: st.DrawFn, event: dict[str, Any]) -> tuple[Any, ...]:
    return draw(st.sampled_from([p for p in _leaves(event) if p]))


def _wrong_type(draw: st.DrawFn, e: dict[str, Any]) -> bytes:
    path = _pick_leaf(draw, e)
    _put(e, path, draw(st.sampled_from([[], {}, True, "x", 1.5, -7, [1, "a"]])))
    return dumps(e)


def _missing(draw: st.DrawFn, e: dict[str, Any]) -> bytes:
    path = draw(st.sampled_from([(k,) for k in e] + [("payload", k) for k in e["payload"]]))
    node = e
    for p in path[:-1]:
        node = node[p]
    del node[path[-1]]
    return dumps(e)


def _bounds(draw: st.DrawFn, e: dict[str, Any]) -> bytes:
    value = draw(st.sampled_from([-1, 0, 1.0000001, 1e15, -1e-300, "", "x" * 200]))
    _put(e, _pick_leaf(draw, e), value)
    return dumps(e)


def _enum(draw: st.DrawFn, e: dict[str, Any]) -> bytes:
    field = draw(st.sampled_from(["event_type", ("subject", "level"), ("payload", "stage")]))
    path = field if isinstance(field, tuple) else (field,)
    _put(e, path, draw(TEXT))
    return dumps(e)


def _unicode(draw: st.DrawFn, e: dict[str, Any]) -> bytes:
    strings = [p for p in _leaves(e) if p and isinstance(_get(e, p), str)]
    path = draw(st.sampled_from(strings))
    glyph = draw(st.sampled_from(["\ud800", "\udfff", "\ud83d", "\x00", "\u202e", "\U0001f600"]))
    _put(e, path, _get(e, path)[:3] + glyph + _get(e, path)[3:])
    return dumps(e, ascii_only=True)  # a lone surrogate can only travel as an escape


def _get(event: Any, path: tuple[Any, ...]) -> Any:
    node = event
    for p in path:
        node = node[p]
    return node


def _nesting(draw: st.DrawFn, e: dict[str, Any]) -> bytes:
    depth = draw(st.sampled_from([MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, 200, 5000, 100_000]))
    text = dumps(e)
    return text[:-1] + b',"deep":' + b"[" * depth + b"]" * depth + b"}"


def _numbers(draw: st.DrawFn, e: dict[str, Any]) -> bytes:
    numbers = [p for p in _leaves(e) if p and isinstance(_get(e, p), int | float)]
    if not numbers:
        numbers = [("payload", "extra_number")]
    path = draw(st.sampled_from(numbers))
    _put(e, path, SENTINEL)
    literal = draw(
        st.sampled_from(
            [
                b"9" * 17,
                b"9" * 600,
                b"9007199254740993",
                b"-9007199254740992",
                b"1e400",
                b"-1e309",
                b"5e-324",
                b"-0.0",
                b"1e308",
                b"9223372036854775808",
                b"0.1e-5000",
            ]
        )
    )
    return dumps(e).replace(json.dumps(SENTINEL).encode(), literal, 1)


def _timestamps(draw: st.DrawFn, e: dict[str, Any]) -> bytes:
    e["occurred_at"] = draw(
        st.sampled_from(
            [
                "2020-03-27t00:00:00z",
                "2020-03-27 00:00:00+08:00",
                "2020-03-27T00:00:00",
                "2020-03-27T24:00:00Z",
                "2020-03-27T23:59:60Z",
                "0001-01-01T00:00:00+14:00",
                "9999-12-31T23:59:59-14:00",
                "2020-03-27T00:00:00.1234567890Z",
                "2020-03-27T00:00:00+24:00",
                "2020-03-27T00:00:00+08:00\n",
                "２０２０-03-27T00:00:00Z",
                "2020-3-27T00:00:00Z",
                "",
            ]
        )
    )
    return dumps(e)


def _keys(draw: st.DrawFn, e: dict[str, Any]) -> bytes:
    text = dumps(e)
    how = draw(st.sampled_from(["duplicate", "duplicate_nested", "unknown", "surrogate_key"]))
    if how == "duplicate":
        return text[:-1] + b',"event_id":"dup-' + str(draw(st.integers(0, 9))).encode() + b'"}'
    if how == "duplicate_nested":
        return text.replace(b'"payload":{', b'"payload":{"x":1,"x":1,', 1)
    if how == "unknown":
        return text[:-1] + b',"analyst_note":{"any":[1,"thing"]}}'
    return text[:-1] + b',"\\udc80key":1}'


def _trailing_newline(draw: st.DrawFn, e: dict[str, Any]) -> bytes:
    path = draw(st.sampled_from([("event_id",), ("producer",), ("subject", "entity_id")]))
    _put(e, path, _get(e, path) + "\n")
    return dumps(e)


def _sizes(draw: st.DrawFn, e: dict[str, Any]) -> bytes:
    text = dumps(e)
    room = MAX_MESSAGE_BYTES - len(text) - len(b',"padding":""')
    extra = draw(st.sampled_from([room, room + 1, room + 1000]))
    return text[:-1] + b',"padding":"' + b"x" * extra + b'"}'


def _raw_bytes(draw: st.DrawFn, e: dict[str, Any]) -> bytes | None:
    text = dumps(e)
    how = draw(st.sampled_from(["utf8", "truncated", "trailing", "bom", "tombstone", "array"]))
    cut = draw(st.integers(1, len(text) - 1))
    return {
        "utf8": text[:cut] + b"\xff\xfe" + text[cut:],
        "truncated": text[:cut],
        "trailing": text + b" {}",
        "bom": b"\xef\xbb\xbf" + text,
        "tombstone": None,
        "array": b"[" + text + b"]",
    }[how]


MUTATIONS = {
    "wrong_type": _wrong_type,
    "missing_field": _missing,
    "bounds": _bounds,
    "unknown_enum": _enum,
    "unicode": _unicode,
    "nesting": _nesting,
    "numbers": _numbers,
    "timestamps": _timestamps,
    "keys": _keys,
    "trailing_newline": _trailing_newline,
    "sizes": _sizes,
    "raw_bytes": _raw_bytes,
}


@st.composite
def message(draw: st.DrawFn, mutations: tuple[str, ...] = tuple(MUTATIONS)) -> Message:
    event = draw(valid_events())
    mutation = draw(st.sampled_from(("valid", *mutations)))
    if mutation == "valid":
        return Message("valid", event["event_type"], dumps(event))
    return Message(mutation, event["event_type"], MUTATIONS[mutation](draw, event))


@st.composite
def messages(
    draw: st.DrawFn, max_size: int = 40, mutations: tuple[str, ...] = tuple(MUTATIONS)
) -> list[Message]:
    """A batch of messages; some repeat an earlier one exactly (a duplicate) or reuse its
    event_id with other content (a conflict)."""
    global _SERIAL
    # ids count from 0 in every example, so that replaying an example draws the same data
    # whatever ran before in the process (Hypothesis refuses a strategy that does not)
    _SERIAL = itertools.count()
    batch = draw(st.lists(message(mutations), min_size=1, max_size=max_size))
    for _ in range(draw(st.integers(0, 2))):
        earlier = draw(st.sampled_from(batch))
        if earlier.mutation == "valid" and earlier.value is not None:
            batch.append(Message("duplicate", earlier.event_type, earlier.value))
            event = json.loads(earlier.value)
            event["producer"] = str(event["producer"]) + "-changed"
            batch.append(Message("conflict", earlier.event_type, dumps(event)))
    return batch
