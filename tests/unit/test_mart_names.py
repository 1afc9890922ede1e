"""Marts carry names beside codes: entities (registry and generated synthetic names),
capabilities, stages, technologies and survey options, in Chinese and English."""

from __future__ import annotations

from datetime import date

from contracts.synthetic import population
from contracts.synthetic_entities import synthetic_entities, synthetic_name
from finradar.settings import Settings
from tests.unit.warehouse_inputs import insert, insert_responses, milestone, query, response, spend
from warehouse.refresh import refresh

SYN = "syn.bank.city_commercial_042"


def test_every_synthetic_institution_has_a_distinct_marked_name() -> None:
    entities = synthetic_entities()
    assert [e["entity_id"] for e in entities] == [i.entity_id for i in population(3)]
    assert len(entities) == 652
    assert len({e["name_en"] for e in entities}) == len({e["name_zh"] for e in entities}) == 652
    assert all(e["name_en"].startswith("Synthetic ") for e in entities)
    assert all(e["name_zh"].startswith("合成") for e in entities)
    assert synthetic_name("bank", "city_commercial", 42) == (
        "合成城市商业银行042",
        "Synthetic city commercial bank 042",
    )
    assert synthetic_name("insurance", "head", 3) == (
        "合成头部保险公司003",
        "Synthetic head insurer 003",
    )


def test_marts_name_entities_technologies_capabilities_and_stages(tmp_settings: Settings) -> None:
    insert(
        tmp_settings,
        "spend_disclosures",
        [
            spend("a", SYN, "2023", "1", level="institution", technology="genai"),
            spend("b", SYN, "2024", "2", level="institution", technology="genai"),
            spend("c", "cn.segment.banking", "2024", "3000"),
        ],
    )
    answer = {"question_id": "genai_attitude", "kind": "single", "options": ["positive"]}
    insert_responses(tmp_settings, [response("r", "p1", [answer])])
    insert(
        tmp_settings,
        "deployment_milestones",
        [milestone("m", SYN, "risk_control", "mature", date(2024, 5, 1))],
    )
    refresh(tmp_settings)
    assert query(
        tmp_settings,
        f"select name_zh, name_en, is_synthetic, origin from marts.dim_entity "
        f"where entity_id = '{SYN}'",
    ) == [("合成城市商业银行042", "Synthetic city commercial bank 042", True, "synthetic")]
    assert query(
        tmp_settings,
        "select count(*) from marts.dim_entity where is_synthetic and name_en is null",
    ) == [(0,)]
    assert query(
        tmp_settings,
        "select distinct entity_name_en, technology_label_zh, technology_label_en "
        "from marts.spend_series order by 1",
    ) == [
        ("Banking", None, None),
        ("Synthetic city commercial bank 042", "生成式人工智能", "Generative AI"),
    ]
    assert query(
        tmp_settings,
        "select entity_name_en, technology_label_en from marts.spend_growth "
        "where technology is not null",
    ) == [("Synthetic city commercial bank 042", "Generative AI")]
    assert query(
        tmp_settings,
        "select capability_label_zh, capability_label_en from marts.capability_maturity",
    ) == [("智能风控", "Risk control")]
    assert query(
        tmp_settings,
        "select stage_label_en, institutions from marts.maturity_distribution "
        "where stage = 'mature'",
    ) == [("Mature practice", 1)]
    assert query(tmp_settings, "select entity_name_zh from marts.institution_maturity") == [
        ("合成城市商业银行042",)
    ]
    named = query(
        tmp_settings,
        "select count(*), count(entity_name_en) from marts.reported_figures "
        "where entity_id is not null",
    )
    assert named[0][0] > 0 and named[0][0] == named[0][1]
    assert query(
        tmp_settings,
        "select option_label_en, question_text_en is not null, selected "
        "from marts.survey_option_shares where question_id = 'genai_attitude' "
        "order by option_position",
    ) == [("Positive", True, 1), ("Reserved", True, 0), ("Negative", True, 0)]
