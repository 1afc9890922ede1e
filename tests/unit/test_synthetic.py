"""The synthetic stream: deterministic, calibrated, and every bad record is what it claims."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from contracts.checks import check_value
from contracts.synthetic import BAD_CLASSES, CHUNK, POPULATION, SyntheticStream, population

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def test_same_seed_same_stream_other_seed_other_stream():
    a = [m.value for m in SyntheticStream(3000, bad_rate=0.05, seed=1)]
    b = [m.value for m in SyntheticStream(3000, bad_rate=0.05, seed=1)]
    c = [m.value for m in SyntheticStream(3000, bad_rate=0.05, seed=2)]
    assert a == b and a != c


def test_chunks_are_independent_of_who_generates_them():
    stream = SyntheticStream(CHUNK + 500, seed=3)
    whole = [m.value for m in stream]
    by_chunk = [m.value for i in reversed(stream.chunks()) for m in stream.chunk(i)]
    assert len(whole) == CHUNK + 500
    assert sorted(whole) == sorted(by_chunk)


def test_population_is_calibrated_on_the_seed_figures():
    people = population()
    assert len(people) == sum(count for *_, count, _ in POPULATION)
    large = [i.level_2019 for i in people if i.tier == "large_state_owned"]
    assert len(large) == 6 and 400 < sum(large) < 1100  # seed: 716.76 亿 in 2019


def test_every_message_gets_the_outcome_its_class_announces():
    outcomes = Counter()
    first_value: dict[str, bytes] = {}
    for m in SyntheticStream(20000, bad_rate=0.2, seed=11):
        _, reasons = check_value(m.value, topic=m.topic, now=NOW)
        codes = [r.code for r in reasons]
        if m.bad_class == "duplicate_id":
            assert codes == [] and first_value[m.event_id] == m.value
        elif m.bad_class == "conflicting_id":
            assert codes == [] and first_value[m.event_id] != m.value
        else:
            expected = [m.expected_reason] if m.expected_reason else []
            assert codes == expected, (m.bad_class, reasons)
            first_value.setdefault(m.event_id or "", m.value)
        outcomes[m.bad_class] += 1
    assert set(outcomes) == set(BAD_CLASSES) | {None}
    assert 0.17 < 1 - outcomes[None] / 20000 < 0.23


def test_good_stream_is_all_valid_and_mixes_event_types():
    types = Counter()
    for m in SyntheticStream(2000, seed=5):
        event, reasons = check_value(m.value, topic=m.topic, now=NOW)
        assert reasons == []
        assert m.key == event["subject"]["entity_id"].encode()
        types[event["event_type"]] += 1
    assert types["spend_disclosure"] > types["deployment_milestone"] > types["survey_response"] > 0
