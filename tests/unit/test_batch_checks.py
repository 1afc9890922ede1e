"""The batch check gives the per-message checker's verdict for every message: the seed
corpus, the synthetic stream's bad classes, the poison strategies' mutations (each also on
a wrong topic), and what the fast decoder would read differently from the strict one."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import batch_checks
from contracts.batch_checks import check_values
from contracts.checks import check_value
from contracts.corpus import seed_corpus
from contracts.decoding import MAX_DEPTH, MAX_SAFE_INTEGER
from contracts.spec import contracts
from contracts.survey_catalog import survey_catalog
from contracts.synthetic import SyntheticStream
from tests.poison.strategies import NOW, messages

TOPICS = sorted(c.topic for c in contracts().values())
PROFILE = settings(
    derandomize=True,
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _same_as_per_message(values: list[bytes | None], topics: list[str]) -> None:
    batch = check_values(values, topics, NOW)
    for value, topic, verdict in zip(values, topics, batch, strict=True):
        assert verdict == check_value(value, topic=topic, now=NOW), value


def _clean(values: list[bytes | None], topics: list[str]) -> list[bytes | None]:
    """The values the batch screen passes as clean (the others go to the checker)."""
    screened = batch_checks.screen_batch(values, topics, NOW)
    clean = {i for b in screened.values() for i, c in zip(b.positions, b.clean, strict=True) if c}
    return [v for i, v in enumerate(values) if i in clean]


def test_seed_corpus_gets_the_same_verdicts_and_is_screened_clean() -> None:
    events = seed_corpus()
    values = [json.dumps(e, ensure_ascii=False).encode() for e in events]
    topics = [contracts()[e["event_type"]].topic for e in events]
    _same_as_per_message(values, topics)
    # the fast path is taken: a check that fell back for every message would pass the above
    assert len(_clean(values, topics)) == len(values)
    assert all(not reasons for _, reasons in check_values(values, topics, NOW))


def test_the_synthetic_streams_bad_classes_get_the_same_verdicts() -> None:
    stream = list(SyntheticStream(6000, 0.4, 11))
    values: list[bytes | None] = [m.value for m in stream]
    topics = [m.topic for m in stream]
    rng = random.Random(3)
    for i in rng.sample(range(len(topics)), 300):  # some on another contract's topic
        topics[i] = rng.choice(TOPICS)
    _same_as_per_message(values, topics)
    good = [(m.value, t) for m, t in zip(stream, topics, strict=True) if m.bad_class is None]
    clean = _clean([v for v, _ in good], [t for _, t in good])
    assert len(clean) > 0.9 * len(good)


@PROFILE
@given(batch=messages(max_size=30), data=st.data())
def test_poison_mutations_get_the_same_verdicts(batch, data) -> None:  # type: ignore[no-untyped-def]
    topics = [
        data.draw(st.sampled_from(TOPICS)) if data.draw(st.booleans()) and i % 3 == 0 else topic
        for i, topic in enumerate(contracts()[m.event_type].topic for m in batch)
    ]
    _same_as_per_message([m.value for m in batch], topics)


def test_what_the_fast_decoder_reads_differently_is_left_to_the_strict_one() -> None:
    event = seed_corpus()[0]
    topic = contracts()[event["event_type"]].topic
    text = json.dumps(event, ensure_ascii=False)
    head = text[1:]  # the event's keys after the opening brace
    variants = [
        '{"event_id":"dup",' + head,  # a duplicate key
        '{"event_id": "dup", "producer" :"x",' + head,  # a duplicate and a spaced colon
        '{"event_id"\t\r\n :"dup",' + head,  # a duplicate after JSON's other white space
        text[:-1] + ',"extra":9007199254740993}',  # an integer past 2^53 - 1
        text[:-1] + ',"extra":12345678901234567890}',  # past 2^64
        text[:-1] + ',"extra":"\\ud800"}',  # a lone surrogate
        text[:-1] + ',"extra":' + "[" * 40 + "]" * 40 + "}",  # nested past the limit
        text[:-1] + ',"extra":1e999}',  # a double overflow
        text[:-1] + ',"extra":"a\\":"}',  # a key token inside a string: only slower
        text[:-1] + ',"extra":1}',  # a field the contract does not declare
        text.replace('"amount": ', '"amount": 9007199254740993000', 1),  # past 2^53, declared
        text + "\n",
        "\ufeff" + text,
    ]
    values: list[bytes | None] = [v.encode() for v in variants]
    _same_as_per_message(values, [topic] * len(values))
    assert _clean(values, [topic] * len(values)) == [
        values[9],  # an undeclared field both decoders read alike
        values[-2],  # a trailing newline decodes the same in both
    ]


def _with_undeclared(event: dict[str, Any], place: str, value: Any) -> dict[str, Any]:
    """``event`` with a key the contract does not declare, holding ``value``, at ``place``:
    the top, an object of the envelope, or the first item of a payload array of objects."""
    event = copy.deepcopy(event)
    where = {"top": event, "source": event["source"], "payload": event["payload"]}
    if place in ("kpis", "answers"):
        where[place] = event["payload"][place][0]
    where[place]["x_producer_note"] = value
    return event


def _nested(levels: int, inner: Any = 1) -> Any:
    """``inner`` inside ``levels`` arrays and objects, alternately."""
    for n in range(levels):
        inner = [inner] if n % 2 else {"k": inner}
    return inner


# the objects and arrays around an undeclared field's value at each place
AROUND = {"top": 1, "source": 1 + 1, "payload": 1 + 1, "kpis": 1 + 3, "answers": 1 + 3}


def test_undeclared_fields_are_screened_and_get_the_same_verdicts() -> None:
    """A producer may add fields of its own (the contract ignores them): the screen passes
    an event with such a field as clean when both decoders read it alike, whatever the field
    holds and wherever it is; a duplicate key, an integer or double past 2^53 or nesting
    past the limit inside it goes to the per-message checker, which decides."""
    corpus = seed_corpus()
    events = {
        "top": corpus[0],
        "source": corpus[0],
        "payload": corpus[0],
        "kpis": next(e for e in corpus if e["payload"].get("kpis")),
        "answers": next(e for e in corpus if e["event_type"] == "survey_response"),
    }
    alike = [
        1,
        "text with a colon: and {braces}",
        None,
        [1.5, -2, True, {"a": {"b": [None]}}],
        {"trace": {"id": "7", "spans": [{"n": 1}, {"n": 2}]}},
        MAX_SAFE_INTEGER,
        -float(MAX_SAFE_INTEGER),
    ]
    values: list[bytes | None] = []
    topics, clean_expected = [], []
    for place, event in events.items():
        topic = contracts()[event["event_type"]].topic
        deepest = MAX_DEPTH - AROUND[place]  # the levels the field may still add
        for value in [*alike, _nested(deepest)]:
            values.append(json.dumps(_with_undeclared(event, place, value)).encode())
            topics.append(topic)
            clean_expected.append(values[-1])
        text = json.dumps(_with_undeclared(event, place, "@@"))
        for other in [
            '{"a": 1, "a": 2}',  # a duplicate key inside it
            '{"a": 1, "b": {"c": 1, "c": 1}}',
            f"[{MAX_SAFE_INTEGER + 1}]",  # integers and doubles orjson reads otherwise
            f'{{"big": -{2**64 + 1}}}',
            "1e300",  # a double both read: the checker tells it from a long integer
            json.dumps(_nested(deepest + 1)),  # one level past the limit
        ]:
            values.append(text.replace('"@@"', other).encode())
            topics.append(topic)
    _same_as_per_message(values, topics)
    assert _clean(values, topics) == clean_expected
    codes = [[r.code for r in reasons] for _, reasons in check_values(values, topics, NOW)]
    refused = ["duplicate_key"] * 2 + ["number_out_of_range"] * 2
    assert codes == len(events) * (
        [[]] * (len(alike) + 1) + [[c] for c in refused] + [[], ["nesting_too_deep"]]
    )


# UTF-16 surrogate escapes: a pair is one character to both decoders; anything else is a
# lone surrogate, which both refuse (orjson itself: the screen needs no search of its own)
SURROGATE_PAIRS = ["\\ud83d\\ude00", "\\uD83D\\uDE00", "a\\ud834\\udd1eb"]
LONE_SURROGATES = [
    "\\ud800", "\\udc00", "x\\ud83d", "\\ude00\\ud83d", "\\ud800\\ud800",
    "\\ud800\\u0041", "\\ud83d\\ude00\\ud800",
]  # fmt: skip


def test_surrogate_escapes_get_the_same_verdicts_and_pairs_are_screened() -> None:
    event = copy.deepcopy(seed_corpus()[0])
    topic = contracts()[event["event_type"]].topic
    event["source"]["document"] = "@"  # a declared text field without a rule on its text
    text = json.dumps(event, ensure_ascii=False)
    values: list[bytes | None] = [
        text.replace('"document": "@"', f'"document": "{escape}"').encode()
        for escape in SURROGATE_PAIRS + LONE_SURROGATES
    ]
    assert all(b"\\u" in v for v in values if v is not None)
    topics = [topic] * len(values)
    _same_as_per_message(values, topics)
    assert _clean(values, topics) == values[: len(SURROGATE_PAIRS)]
    verdicts = check_values(values, topics, NOW)
    assert [v[0]["source"]["document"] for v in verdicts[:3]] == ["😀", "😀", "a𝄞b"]
    assert all(reasons for _, reasons in verdicts[len(SURROGATE_PAIRS) :])


# a quote, a colon, every byte ``\s`` matches and two it does not (NUL, NBSP's lead byte)
TOKEN_BYTES = st.binary(max_size=64).map(
    lambda b: bytes(b'"": \t\n\r\f\v\x00\xc2a'[x % 12] for x in b)
)


@PROFILE
@given(value=st.one_of(TOKEN_BYTES, st.binary(max_size=64)))
def test_key_tokens_are_what_the_key_token_pattern_finds(value: bytes) -> None:
    assert batch_checks.key_tokens(value) == len(batch_checks._KEY_TOKEN.findall(value))


def test_key_tokens_count_a_quote_and_a_colon_with_any_byte_between() -> None:
    for between in (bytes([b]) for b in range(256)):
        for value in (b'"' + between + b":", b'{"a"' + between * 2 + b':1,"a":2}'):
            assert batch_checks.key_tokens(value) == len(batch_checks._KEY_TOKEN.findall(value))


# what a number field may be sent instead of a plain number: a bool (Arrow would read it
# as one), floats where integers go, the edges of 2^53, overflows and other types
ODD_NUMBERS: list[object] = [
    True, False, 0, -0.0, 1.5, 2.0, 1e-300, 1e300, -1e300,
    2**53 - 1, 2**53, 2**53 + 1, -(2**53 - 1), -(2**53), 2**63, "1", None, [], {},
]  # fmt: skip


def test_number_fields_sent_any_value_get_the_same_verdicts() -> None:
    """Every number field of every contract, at the envelope, in the payload and in its
    arrays' objects, given each odd value: alone with clean events (so the rest of its
    column is numbers) and all together."""
    richest: dict[str, tuple[dict[str, Any], list[tuple[Any, ...]]]] = {}
    for event in seed_corpus():  # of each type, the event with the most number fields
        paths = _number_paths(contracts()[event["event_type"]].root, event)
        if len(paths) > len(richest.get(event["event_type"], ({}, []))[1]):
            richest[event["event_type"]] = event, paths
    values: list[bytes | None] = []
    topics: list[str] = []
    for event_type, (event, paths) in sorted(richest.items()):
        contract = contracts()[event_type]
        clean = json.dumps(event).encode()
        for path in paths:
            together: list[bytes | None] = []
            for odd in ODD_NUMBERS:
                changed = _with(event, path, odd)
                alone = [clean, changed, clean]
                _same_as_per_message(alone, [contract.topic] * 3)
                together.append(changed)
            _same_as_per_message(together, [contract.topic] * len(together))
            values += together
            topics += [contract.topic] * len(together)
    assert {len(paths) > 1 for _, paths in richest.values()} == {True}  # more than the version
    _same_as_per_message(values, topics)


def _number_paths(f: Any, value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The paths of the number fields in ``value`` (an instance of field ``f``)."""
    if f.kind in ("integer", "number"):
        return [path]
    if f.kind == "object" and isinstance(value, dict):
        return [
            p
            for c in f.fields
            if c.name in value
            for p in _number_paths(c, value[c.name], (*path, c.name))
        ]
    if f.kind == "array" and f.items is not None and isinstance(value, list) and value:
        return _number_paths(f.items, value[0], (*path, 0))
    return []


REMOVED = object()  # what ``_with`` gives a field to remove it


def _with(event: dict[str, Any], path: tuple[Any, ...], value: object) -> bytes:
    changed = copy.deepcopy(event)
    node: Any = changed
    for step in path[:-1]:
        node = node[step]
    if value is REMOVED:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return json.dumps(changed, ensure_ascii=False).encode()


def test_the_shapes_of_arrays_get_the_same_verdicts_and_good_ones_are_screened() -> None:
    """Arrays of objects and of text, wherever the contract has them (a response's answers
    and an answer's options, a deployment's KPIs, a subject's members), in every shape: too
    few items, a null or foreign item, an object item missing or mistyping a field, no array
    at all. The screen gives the checker's verdict on each, alone among clean events and all
    together, and passes as clean every one the checker finds valid (its fast path is
    taken, not only its fallback)."""
    corpus = seed_corpus()
    survey = next(e for e in corpus if e["event_type"] == "survey_response")
    chosen = next(i for i, a in enumerate(survey["payload"]["answers"]) if a.get("options"))
    deployment = next(e for e in corpus if e["payload"].get("kpis"))
    answer, kpi = survey["payload"]["answers"][0], deployment["payload"]["kpis"][0]
    shapes: dict[tuple[str, tuple[Any, ...]], list[Any]] = {
        ("survey", ("payload", "answers")): [
            [], [None], [answer, None], [answer, 1], [answer, "x"], [[answer]], "x", {},
            None, REMOVED, [answer], [{k: v for k, v in answer.items() if k != "kind"}],
        ],
        ("survey", ("payload", "answers", chosen, "options")): [
            [], [None], ["x", None], [1], "x", None, REMOVED, [{"o": 1}],
        ],
        ("deployment", ("payload", "kpis")): [
            [], [None], [kpi, None], [kpi, kpi], [{"name": "x"}], [{"value": 1.5}],
            [{"name": 5}], [{**kpi, "value": "1"}], "x", None, REMOVED, [[kpi]],
        ],
        ("deployment", ("subject", "members")): [
            [], ["a"], ["a", None], ["a", 1], [["a"]], "a", None, REMOVED,
        ],
        ("survey", ("subject", "members")): [["a", "b"], [None], [{}]],
    }  # fmt: skip
    events = {"survey": survey, "deployment": deployment}
    values: list[bytes | None] = []
    topics = []
    for (name, path), variants in shapes.items():
        topic = contracts()[events[name]["event_type"]].topic
        clean = json.dumps(events[name], ensure_ascii=False).encode()
        for variant in variants:
            changed = _with(events[name], path, variant)
            # alone with clean events (the rest of its column well formed), then together
            _same_as_per_message([clean, changed, clean], [topic] * 3)
            values.append(changed)
            topics.append(topic)
    _same_as_per_message(values, topics)
    valid = [v for v, t in zip(values, topics, strict=True) if not check_value(v, t, NOW)[1]]
    assert 10 <= len(valid) < len(values) - 20  # both kinds, many of each
    assert _clean(values, topics) == valid


def _typed(values: list[bytes | None], topics: list[str]) -> list[bytes | None]:
    """The values the batch screen read with their type's Struct (no dict made of them)."""
    screened = batch_checks.screen_batch(values, topics, NOW)
    typed = {
        i
        for b in screened.values()
        for i, e in zip(b.positions, b.events, strict=True)
        if e is None
    }
    return [v for i, v in enumerate(values) if i in typed]


def test_clean_events_are_read_by_their_struct() -> None:
    """The typed path is the one taken: every clean event of the seed corpus and of the
    synthetic stream is read by its type's Struct, of every type (a check that sent them
    all to ``orjson`` would pass the differential tests above)."""
    events = seed_corpus()
    values = [json.dumps(e, ensure_ascii=False).encode() for e in events]
    topics = [contracts()[e["event_type"]].topic for e in events]
    assert _typed(values, topics) == values
    stream = [m for m in SyntheticStream(3000, 0.0, 7)]
    values, topics = [m.value for m in stream], [m.topic for m in stream]
    assert _typed(values, topics) == values
    assert {m.topic for m in stream} == {c.topic for c in contracts().values()}


def test_what_a_struct_refuses_or_miscounts_goes_the_other_way_with_the_same_verdicts() -> None:
    """What a Struct refuses (an integer written as a double, a field sent as null, a key
    an array item does not declare, any rule of a declared field broken) or reads with
    fewer keys than the message holds (a duplicate key, at the top or in an item) is read
    by ``orjson``, and every verdict is the checker's; what the Struct does not check
    itself (calendar dates, instants, the future, cross-field rules) it still screens."""
    corpus = seed_corpus()
    spend = next(e for e in corpus if e["event_type"] == "spend_disclosure")
    deployment = next(e for e in corpus if e["payload"].get("kpis"))
    observation = next(e for e in corpus if e["event_type"] == "observation")
    survey = next(e for e in corpus if e["event_type"] == "survey_response")
    kpi = deployment["payload"]["kpis"][0]
    spend_text = json.dumps(spend, ensure_ascii=False)
    # (event, path, value, read by its Struct)
    variants: list[tuple[dict[str, Any], tuple[Any, ...], Any, bool]] = [
        (spend, ("payload", "amount"), 12, True),  # an integer for a number
        (spend, ("payload", "tech_headcount"), 5.0, False),  # a double for an integer
        (spend, ("payload", "tech_headcount"), 5, True),
        (spend, ("subject", "tier"), None, False),  # an optional field sent as null
        (spend, ("payload", "amount"), "12", False),
        (spend, ("payload", "amount"), True, False),
        (spend, ("payload", "currency"), "EUR", False),
        (spend, ("payload", "fiscal_period"), "2024\n", False),
        (spend, ("event_id",), "a b", False),
        (spend, ("schema_version",), 1.0, False),
        (spend, ("payload", "vintage"), "2023-02-30", True),  # not a calendar date
        (spend, ("occurred_at",), "2024-01-01T25:00:00Z", True),  # not an instant
        (spend, ("occurred_at",), "2999-01-01T00:00:00Z", True),  # in the future
        (spend, ("payload", "technology"), "ai", True),  # without spend_class frontier
        (spend, ("undeclared",), 1, False),
        (deployment, ("payload", "kpis"), [{**kpi, "note": 1}], False),  # an item's own key
        (deployment, ("payload", "kpis"), [{**kpi, "value": "1"}], True),
        (deployment, ("payload", "kpis"), [kpi, None], False),
        (observation, ("payload", "value_high"), -1, True),  # below the value
        (survey, ("payload", "answers", 0, "question_id"), "nope", True),
        (survey, ("payload", "answers"), [], False),
    ]
    values: list[bytes | None] = [_with(e, p, v) for e, p, v, _ in variants]
    topics = [contracts()[e["event_type"]].topic for e, _, _, _ in variants]
    expected_typed = [v for v, (*_, typed) in zip(values, variants, strict=True) if typed]
    # duplicate keys: the Struct keeps the last, as orjson does; the key count finds them
    duplicates = [
        '{"event_id":"dup",' + spend_text[1:],
        json.dumps(deployment).replace('"name": ', '"name": "x", "name": ', 1),
    ]
    assert '"name": "x", "name"' in duplicates[1]
    values += [d.encode() for d in duplicates]
    topics += [contracts()[e["event_type"]].topic for e in (spend, deployment)]
    for value, topic in zip(values, topics, strict=True):
        _same_as_per_message([value], [topic])
    _same_as_per_message(values, topics)
    assert _typed(values, topics) == expected_typed
    valid = [v for v, t in zip(values, topics, strict=True) if not check_value(v, t, NOW)[1]]
    assert len(valid) == 7  # the integers, the null, the undeclared fields; the rest break rules
    assert _clean(values, topics) == valid


def test_survey_rules_read_from_columns_give_the_checkers_verdicts() -> None:
    """Every rule of ``checks.survey_rules`` broken alone in a survey response (and a few
    answers it lets through), each among clean responses and all together: the batch
    check, which gives the rules each response's payload made of its columns (the typed
    path makes no dict of the event), gives the checker's verdict, and passes as clean
    every variant the checker finds valid."""
    corpus = [e for e in seed_corpus() if e["event_type"] == "survey_response"]

    def having(kind: str) -> tuple[dict[str, Any], int]:
        """A response with an answer of ``kind``, and that answer's index."""
        for response in corpus:
            for i, a in enumerate(response["payload"]["answers"]):
                if a["kind"] == kind and (kind != "multi" or a.get("options")):
                    return response, i
        raise AssertionError(f"no {kind} answer in the seed corpus")

    (single, s), (multi, m), (score, c), (stage, g) = map(
        having, ("single", "multi", "score", "stage")
    )
    chosen = multi["payload"]["answers"][m]
    survey = survey_catalog().get(multi["payload"]["survey_id"])
    assert survey is not None
    unused = sorted(survey.questions[chosen["question_id"]].options - set(chosen["options"]))
    answers = ("payload", "answers")
    variants: list[tuple[dict[str, Any], tuple[Any, ...], Any]] = [
        (score, ("payload", "respondent_id"), "someone@example.cn"),
        (score, ("payload", "department"), "IT, it@example.cn"),
        (score, ("payload", "survey_id"), "no-such-survey"),
        (score, ("payload", "wave"), "1999"),
        (score, answers, [*score["payload"]["answers"], score["payload"]["answers"][0]]),
        (score, (*answers, 0, "question_id"), "no_such_question"),
        (score, (*answers, c, "kind"), "stage"),
        (score, (*answers, c, "score"), REMOVED),
        (score, (*answers, c, "options"), ["x"]),  # a score's options go unread: valid
        (stage, (*answers, g, "stage"), REMOVED),
        (single, (*answers, s, "options"), []),
        (single, (*answers, s, "options"), REMOVED),
        (single, (*answers, s, "options"), ["a", "b"]),
        (multi, (*answers, m, "options"), [*chosen["options"], *chosen["options"][:1]]),
        (multi, (*answers, m, "options"), [*chosen["options"], "no_such_option"]),
        (multi, (*answers, m, "options"), []),  # none chosen: valid
        (multi, (*answers, m, "options"), [*chosen["options"], *unused[:1]]),  # valid
    ]
    topic = contracts()["survey_response"].topic
    values: list[bytes | None] = []
    for response, path, value in variants:
        clean = json.dumps(response, ensure_ascii=False).encode()
        changed = _with(response, path, value)
        _same_as_per_message([clean, changed, clean], [topic] * 3)
        values.append(changed)
    topics = [topic] * len(values)
    _same_as_per_message(values, topics)
    valid = [v for v in values if not check_value(v, topic, NOW)[1]]
    assert len(valid) == 3
    assert _clean(values, topics) == valid
