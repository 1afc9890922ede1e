"""The seed corpus's spend and deployment figures, checked by aggregating the events."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from contracts.corpus import seed_corpus
from contracts.corpus.seed_events import report_files, spend_and_deployment_events
from contracts.registry import entities

SIX_BANKS = "cn.group.six_state_owned_banks"


@pytest.fixture(scope="module")
def events():
    return spend_and_deployment_events()


def test_every_report_contributes(events):
    reports = {e["event_id"].split("-")[1] for e in events}
    assert reports == {p.name[1:4] for p in report_files()} == {"000", "001", "002", "003", "004"}


def test_event_ids_unique_across_the_whole_corpus():
    ids = [e["event_id"] for e in seed_corpus()]
    assert len(ids) == len(set(ids))


def test_every_subject_is_a_registered_entity(events):
    registry = entities()
    for e in events:
        entity = registry[e["subject"]["entity_id"]]
        assert e["subject"]["institution_type"] == entity["institution_type"]
        assert e["subject"]["level"] == entity["level"]


def test_group_members_are_registered():
    registry = entities()
    for entity in registry.values():
        for member in entity.get("members") or []:
            assert member in registry, member


def test_six_bank_2019_total_is_716_76(events):
    members = entities()[SIX_BANKS]["members"]
    assert len(members) == 6
    rows = [
        e["payload"]
        for e in events
        if e["event_type"] == "spend_disclosure"
        and e["subject"]["entity_id"] in members
        and e["payload"]["fiscal_period"] == "2019"
        and e["payload"]["spend_class"] == "total"
        and e["payload"]["status"] == "actual"
    ]
    assert len(rows) == 6
    total = sum(Decimal(str(p["amount"])) for p in rows)
    assert total == Decimal("716.76")
    # two banks disclose 金融科技投入, four 信息科技投入: the roll-up mixes scopes
    assert Counter(p["scope"] for p in rows) == {"fintech": 2, "it": 4}
    group = [
        e["payload"]["amount"]
        for e in events
        if e["subject"]["entity_id"] == SIX_BANKS and e["payload"].get("fiscal_period") == "2019"
    ]
    assert group == [716.76]


def test_securities_cases_sourcing_shares(events):
    cases = Counter()
    for e in events:
        p = e["payload"]
        if e["event_type"] == "deployment_milestone" and e["subject"]["entity_id"] == (
            "cn.segment.securities"
        ):
            cases[p["sourcing"]] += p["case_count"]
    total = sum(cases.values())
    assert total == 292
    shares = {k: round(Decimal(100 * v) / total, 2) for k, v in cases.items()}
    assert shares == {
        "purchased": Decimal("34.93"),
        "co_developed": Decimal("42.12"),
        "in_house": Decimal("22.95"),
    }


def test_segment_series_keep_the_reports_shifted_growth_labels(events):
    bank = {
        e["payload"]["fiscal_period"]: e["payload"]
        for e in events
        if e["event_id"].startswith("seed-002-bank-tech-")
    }
    assert [bank[y]["amount"] for y in map(str, range(2023, 2029))] == [
        2658.5,
        2888.3,
        3118.5,
        3442.6,
        3904.7,
        4521.2,
    ]
    # printed label of 2024 (8.0%) is really 2025's growth (3118.5 / 2888.3 - 1 = 7.97%)
    assert bank["2024"]["reported_yoy"] == 0.080
    assert round(3118.5 / 2888.3 - 1, 3) == 0.080
    assert bank["2023"]["status"] == "actual"
    assert {bank[y]["status"] for y in map(str, range(2024, 2029))} == {"forecast"}


def test_forecasts_are_marked(events):
    statuses = Counter(e["payload"]["status"] for e in events if "status" in e["payload"])
    assert statuses["actual"] > 0 and statuses["forecast"] > 0


def test_locators_point_into_the_reports(events):
    for e in events:
        assert e["source"]["locator"], e["event_id"]
        assert e["source"]["published_on"] == e["occurred_at"][:10]


def test_printed_digits_reach_the_wire(events):
    """YAML reads 0.080 as 0.08: the corpus keeps the printed text, so the message says
    0.080 (±0.0005) and not 0.08 (±0.005); other numbers are written as before."""
    import json
    import re

    from contracts.corpus.printed import corpus_json

    texts = {e["event_id"]: corpus_json(e).decode() for e in events}
    assert '"reported_yoy":0.080' in texts["seed-002-bank-tech-2024"]
    assert '"amount":81.80' in texts["seed-003-chart16-psbc-2019"]
    for event in events:
        assert json.loads(texts[event["event_id"]]) == event
    # every number on the wire as the YAML printed it: no digit dropped or added
    for path in report_files():
        printed = set(
            re.findall(
                r"(?:amount|reported_yoy|revenue_share): (-?[0-9.]+)", path.read_text("utf-8")
            )
        )
        wire = set(
            re.findall(
                r'"(?:amount|reported_yoy|revenue_share)":(-?[0-9.]+)', "".join(texts.values())
            )
        )
        assert printed <= wire | {p for p in printed if "." not in p}, path.name
