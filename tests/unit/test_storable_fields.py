"""What the checker accepts, every later stage can store: for every field of every contract,
its extreme values (bounds, lengths, every code of its taxonomy, the ends of the calendar,
text a store could trip on) pass the checker, GX, staging and landing, each event's JSON
reads back from its raw table byte for byte (typed columns keep what their type can: a
timestamp to the microsecond), and a refresh over them succeeds."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from contracts.checks import check_value
from contracts.corpus import seed_corpus
from contracts.decoding import MAX_SAFE_INTEGER
from contracts.personal_data import holds_personal_data, personal_fields
from contracts.spec import (
    DATE_PATTERN,
    EVENT_ID_PATTERN,
    FISCAL_PERIOD_PATTERN,
    TIMESTAMP_PATTERN,
    Field,
    contracts,
)
from contracts.taxonomy import codes
from finradar.settings import load_settings
from tests.poison.harness import InProcessIngest
from tests.poison.strategies import NOW, Message
from warehouse.refresh import refresh

# the extremes of each pattern of the contract (a new pattern fails the test until listed)
PATTERN_EXTREMES = {
    EVENT_ID_PATTERN: ["A" * 128, "a", "x.y:z-0_"],
    FISCAL_PERIOD_PATTERN: ["0000", "9999Q4", "2019H2"],
    DATE_PATTERN: ["0001-01-01", "9999-12-31", "2024-02-29"],
    # the latest instant a timestamp may name is a day after ingestion (future_timestamp)
    TIMESTAMP_PATTERN: [
        "0001-01-01T14:00:00+14:00",
        "2026-11-27T09:59:59.999999999+10:00",
        "2020-03-27T00:00:00Z",
        "2020-03-27T00:00:00.1+05:45",
    ],
}
TEXT_EXTREMES = [
    "中文" * 5_000,
    "it's } back\\",
    "nul\x00 and \u202e bidi",
    "😀\U0010fffd",
    " ",
]


def _extremes(f: Field) -> list[Any]:
    if f.const is not None:
        return [f.const]
    if f.enum is not None:
        return list(codes(f.enum))
    if f.pattern is not None:
        return PATTERN_EXTREMES[f.pattern]
    if f.kind == "string":
        texts = TEXT_EXTREMES
        if f.max_length is not None:  # the longest text allowed, and the extremes that fit
            texts = [*(t for t in texts if len(t) <= f.max_length), "中" * f.max_length]
        return [t for t in texts if len(t) >= (f.min_length or 0)]
    if f.kind == "integer":
        low = int(f.minimum) if f.minimum is not None else -MAX_SAFE_INTEGER
        high = int(f.maximum) if f.maximum is not None else MAX_SAFE_INTEGER
        return [low, high]
    if f.kind == "number":
        low = f.minimum if f.minimum is not None else -1.7976931348623157e308
        if f.exclusive_minimum is not None:
            low = 5e-324
        high = f.maximum if f.maximum is not None else 1.7976931348623157e308
        return [low, high, 0.1 if low <= 0.1 <= high else high]
    return []


def _leaves(f: Field, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Field]]:
    if f.kind == "object":
        for child in f.fields:
            yield from _leaves(child, (*path, child.name))
    elif (f.kind == "array" and f.items is not None and f.items.kind != "object") or f.kind not in (
        "array",
        "object",
    ):
        yield path, f


@cache
def _corpus_event(event_type: str) -> dict[str, Any]:
    return next(e for e in seed_corpus() if e["event_type"] == event_type)


def _base(event_type: str) -> dict[str, Any]:
    return copy.deepcopy(_corpus_event(event_type))


def _put(event: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = event
    for p in path[:-1]:
        node = node.setdefault(p, {})
    node[path[-1]] = value


def _messages() -> list[tuple[str, Any, Message]]:
    out = []
    serial = 0
    for contract in contracts().values():
        for path, field in _leaves(contract.root):
            # what a survey's definition dictates (contracts/surveys), not the field's type
            if path in (("event_type",), ("payload", "survey_id"), ("payload", "wave")):
                continue
            if "answers" in path:
                continue
            values = _extremes(field)
            if field.kind == "array":  # as many of the item's extremes as fit in a message
                assert field.items is not None
                items = _extremes(field.items)
                values = [[v] * min(1000, 400_000 // len(str(v).encode())) for v in items]
            if path == ("event_id",):  # an id stands for one event: one per contract
                values = [
                    (v[: -len(str(n))] if len(v) > len(str(n)) else "") + str(n)
                    for n, v in enumerate(values, start=len(out))
                ]
            for value in values:
                event = _base(contract.event_type)
                _put(event, path, value)
                if path == ("payload", "technology") and contract.event_type == "spend_disclosure":
                    event["payload"]["spend_class"] = "frontier"
                # an observation's range runs upwards and its span ends after it starts
                if path == ("payload", "value_high") and contract.event_type == "observation":
                    event["payload"]["value"] = value
                if path == ("payload", "span_from") and contract.event_type == "observation":
                    event["payload"].pop("fiscal_period", None)
                if path != ("event_id",):
                    serial += 1
                    event["event_id"] = f"extreme-{serial}"
                raw = json.dumps(event, ensure_ascii=False).encode()
                out.append((".".join(path), value, Message("valid", contract.event_type, raw)))
    return out


MESSAGES = _messages()


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessIngest]:
    settings = load_settings(var_dir=Path(tmp_path_factory.mktemp("var")))
    ingest = InProcessIngest(settings)
    yield ingest
    ingest.close()


def test_every_extreme_passes_the_checker():
    topics = {c.event_type: c.topic for c in contracts().values()}
    rejected = [
        (path, str(value)[:40], reasons)
        for path, value, m in MESSAGES
        for _, reasons in [check_value(m.value, topic=topics[m.event_type], now=NOW)]
        if reasons
    ]
    assert rejected == []


def assert_kept_but_personal_data(sent: Any, stored: Any, field: str | None = None) -> None:
    """``stored`` is ``sent`` but for strings that hold personal data, or are the value of a
    field the contract declares personal: those are their keyed hash."""
    if isinstance(sent, dict):
        assert isinstance(stored, dict) and stored.keys() == sent.keys()
        for name, value in sent.items():
            assert_kept_but_personal_data(value, stored[name], name)
    elif isinstance(sent, list):
        assert isinstance(stored, list) and len(stored) == len(sent)
        for a, b in zip(sent, stored, strict=True):
            assert_kept_but_personal_data(a, b, field)
    elif stored != sent:
        declared = {name for _, name in personal_fields()}
        assert isinstance(sent, str) and (field in declared or holds_personal_data(sent))
        assert isinstance(stored, str) and stored.startswith("hmac-sha256:")


def test_every_extreme_lands_and_reads_back_then_refreshes(landed: InProcessIngest):
    result = landed.run([m for _, _, m in MESSAGES])
    found = landed.outcome(result)
    not_landed = [
        (MESSAGES[i][0], verdict, codes)
        for i, (verdict, codes) in enumerate(found[(r.topic, r.offset)] for r in result.records)
        if verdict != "landed"
    ]
    assert not_landed == [], not_landed[:40]
    sent = {json.loads(m.value)["event_id"]: m.value.decode() for _, _, m in MESSAGES}
    stored = dict(
        landed.con.execute(
            " union all ".join(
                f"select event_id, raw_json from raw.{c.table}" for c in contracts().values()
            )
        ).fetchall()
    )
    assert stored.keys() == sent.keys()
    changed = [event_id for event_id in sent if stored[event_id] != sent[event_id]]
    for event_id in changed:  # only personal data (an extreme respondent_email) is replaced
        assert_kept_but_personal_data(json.loads(sent[event_id]), json.loads(stored[event_id]))
    assert len(changed) < len(sent) / 10, "nearly every extreme must be kept as sent"
    refresh(landed.settings)  # raises if a model cannot take what landed
