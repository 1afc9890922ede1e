"""Contract v1 checks: the spec's example, the corpus, and one invalid fixture per rule."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from contracts.checks import REASON_CODES, check_event, check_value
from contracts.corpus import seed_corpus
from contracts.spec import contracts
from tests.fixtures.contract import invalid_fixtures, spec_example

FIXTURES = invalid_fixtures()
NOW = datetime(2026, 11, 26, tzinfo=UTC)


def test_spec_example_is_valid():
    assert check_event(spec_example(), topic="fi.spend.disclosures.v1", now=NOW) == []


def test_every_corpus_event_is_valid_on_its_topic():
    for event in seed_corpus():
        topic = contracts()[event["event_type"]].topic
        value = json.dumps(event, ensure_ascii=False).encode("utf-8")
        decoded, reasons = check_value(value, topic=topic, now=NOW)
        assert reasons == [], (event["event_id"], reasons)
        assert decoded == event


@pytest.mark.parametrize(("name", "code", "topic", "value"), FIXTURES, ids=[f[0] for f in FIXTURES])
def test_invalid_fixture_gets_its_reason(name, code, topic, value):
    _, reasons = check_value(value, topic=topic, now=NOW)
    assert [r.code for r in reasons] == [code], reasons
    assert reasons[0].detail


def test_every_reason_code_has_a_fixture_or_is_decided_at_ingest():
    covered = {f[1] for f in FIXTURES}
    # a conflict needs an earlier event with the same id: see the validate CLI test; an
    # internal error is a stage's defect: see the isolation tests of the pipeline
    assert set(REASON_CODES) - covered == {"event_id_conflict", "internal_error"}


def test_unknown_fields_are_kept_and_ignored():
    event = spec_example()
    event["payload"]["analyst_comment"] = "新增字段"
    event["extra"] = {"anything": [1, 2]}
    assert check_event(event, now=NOW) == []


def test_optional_null_is_absent():
    event = spec_example()
    event["subject"]["tier"] = None
    assert check_event(event, now=NOW) == []


def test_timestamp_within_a_day_ahead_is_accepted():
    event = spec_example()
    event["occurred_at"] = "2026-11-26T20:00:00+00:00"
    assert check_event(event, now=NOW) == []
    event["occurred_at"] = "2026-11-27T01:00:00+00:00"
    assert [r.code for r in check_event(event, now=NOW)] == ["future_timestamp"]


def test_an_observations_range_runs_upwards_and_its_span_ends_after_it_starts() -> None:
    base = next(
        e
        for e in seed_corpus()
        if e["event_type"] == "observation" and e["payload"].get("value_high")
    )
    topic = contracts()["observation"].topic
    assert check_event(base, topic) == []
    upside_down = copy.deepcopy(base)
    upside_down["payload"]["value_high"] = base["payload"]["value"] - 1
    backwards = copy.deepcopy(base)
    backwards["payload"].update(fiscal_period="2017", span_from="2021", metric="cagr")
    same = copy.deepcopy(base)
    same["payload"].update(fiscal_period="2020H1", span_from="2020H1", metric="growth")
    later_half = copy.deepcopy(base)
    later_half["payload"].update(fiscal_period="2020H2", span_from="2020H1", metric="growth")
    assert [r.code for r in check_event(upside_down, topic)] == ["out_of_range"]
    assert "is below payload.value" in check_event(upside_down, topic)[0].detail
    assert [r.code for r in check_event(backwards, topic)] == ["out_of_range"]
    assert [r.code for r in check_event(same, topic)] == ["out_of_range"]
    assert check_event(later_half, topic) == []
