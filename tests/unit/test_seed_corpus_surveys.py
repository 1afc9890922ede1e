"""Seed survey events for report R002 reproduce the report, checked by direct aggregation.

The expected figures below are typed in from seed facts §4 and §3.1 (and the report text),
independently of the YAML the generator reads, so a wrong figure in either place fails.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pytest
import yaml

from contracts.corpus.seed_surveys import survey_events

ROOT = Path(__file__).resolve().parents[2]
SURVEYS = ROOT / "contracts" / "surveys"
PANEL = ROOT / "contracts" / "reference" / "entities" / "survey_panel_2025.yaml"
PRACTICE, MATURITY = "fintech-practice-2025", "capability-maturity-2025"
N = 122
DEPARTMENTS = {"数字化业务部", "科技管理部", "数据中心", "软件开发"}
STAGES = ["planning", "exploration", "scaled_deployment", "mature", "iteration"]
ORDINAL = {s: i + 1 for i, s in enumerate(STAGES)}
CONTRACT_CAPABILITIES = {
    "risk_control",
    "precision_marketing",
    "digital_operations",
    "product_digitalization",
    "channel_linkage",
    "digital_ecosystem",
    "underwriting",
    "claims",
    "channel_sales",
    "operations_management",
    "product_rnd",
    "customer_service",
    "investment_advisory",
    "quant_trading",
    "office_assistant",
    "investment_research",
    "risk_management",
    "brokerage",
    "asset_management",
    "proprietary_trading",
    "fixed_income",
    "investment_banking",
    "compliance",
    "operational_decisions",
    "it_operations",
    "identity_verification",
    "payments",
    "core_system",
    "other",
}

# ------------------------------------------------------------------ §4 published figures
# question -> (decimals printed, {option: (printed percentage, implied count out of 122)})
PUBLISHED_SHARES = {
    "tech_domains_of_concern": (
        2,
        {
            "ai_aigc": ("91.80", 112),
            "big_data": ("86.89", 106),
            "cloud_edge": ("62.30", 76),
            "blockchain_privacy_computing": ("40.98", 50),
            "rtc_iot": ("11.48", 14),
            "av_digital_twin": ("6.56", 8),
        },
    ),
    "ai_support_factors": (
        1,
        {
            "regulation": ("73.8", 90),
            "product_practice": ("59.0", 72),
            "ai_tech_iteration": ("49.2", 60),
            "industry_standards": ("44.3", 54),
            "ai_team_building": ("42.6", 52),
            "industry_ai_alliance": ("16.4", 20),
            "knowledge_training": ("14.8", 18),
        },
    ),
    "genai_attitude": (
        1,
        {
            "positive": ("80.3", 98),
            "reserved": ("14.8", 18),
            "negative": ("4.9", 6),
        },
    ),
    "bigdata_selection_factors": (
        1,
        {
            "tech_support": ("78.7", 96),
            "data_security": ("60.7", 74),
            "resource_richness": ("59.0", 72),
            "product_extensibility": ("41.0", 50),
            "reference_cases": ("21.3", 26),
        },
    ),
    "bigdata_fusion_expectation": (
        1,
        {
            "smarter": ("57.4", 70),
            "safer": ("23.0", 28),
            "more_agile": ("13.1", 16),
            "richer": ("6.6", 8),
        },
    ),
    "cloud_adoption_factors": (
        1,
        {
            "data_protection_compliance": ("86.9", 106),
            "top_level_strategy": ("70.5", 86),
            "business_cloud_fit": ("41.0", 50),
            "cost": ("41.0", 50),
            "cloud_tech_iteration": ("18.0", 22),
            "reference_cases": ("18.0", 22),
        },
    ),
    "group_cloud_scaling_factors": (
        2,
        {
            "data_privacy_sharing": ("90.16", 110),
            "norms_regulation": ("81.97", 100),
            "standards": ("60.66", 74),
            "ownership_cooperation": ("22.95", 28),
            "alliance": ("21.31", 26),
            "high_concurrency_assurance": ("19.67", 24),
        },
    ),
    "group_cloud_attitude": (
        1,
        {
            "positive": ("65.6", 80),
            "reserved": ("31.2", 38),
            "negative": ("3.3", 4),
        },
    ),
    "ecny_promotion_factors": (
        1,
        {
            "legal_regulatory": ("85.3", 104),
            "stability_security": ("78.7", 96),
            "public_acceptance": ("67.2", 82),
            "peer_interest_payment_linkage": ("44.3", 54),
            "user_training": ("14.8", 18),
            "merchant_incentive": ("9.8", 12),
        },
    ),
    "blockchain_privacy_fusion_attitude": (
        1,
        {
            "positive": ("65.6", 80),
            "reserved": ("27.9", 34),
            "negative": ("6.6", 8),
        },
    ),
}
# Printed figures that are n/122 only when rounded twice (to 2 decimals, then to 1).
DOUBLE_ROUNDED = {
    ("group_cloud_attitude", "reserved"),  # 38/122 = 31.1475% -> 31.15 -> 31.2
    ("ecny_promotion_factors", "legal_regulatory"),  # 104/122 = 85.2459% -> 85.25 -> 85.3
}

# score question -> printed mean (percent, integer)
PUBLISHED_MEANS = {
    "drivers_strategy": 91,
    "drivers_policy": 73,
    "drivers_business": 82,
    "drivers_market": 88,
    "drivers_technology": 72,
    "effect_digital_infrastructure": 51,
    "effect_product_design": 51,
    "effect_customisation_fit": 43,
    "effect_data_richness": 41,
    "effect_vertical_practice": 36,
    "effect_one_stop_service": 26,
    "effect_digital_culture": 23,
}

# Follow-ups: (question, option) -> (printed percentage of ALL 122 respondents, decimals, n)
PUBLISHED_OF_ALL = {
    ("genai_negative_reason", "immature_product"): ("3.3", 1, 4),  # 约3.3%的受访者
    ("group_cloud_adoption_mode", "core_cloud"): ("16", 0, 20),  # 约16%
    ("group_cloud_adoption_mode", "non_core_only"): ("49", 0, 60),  # 约49%
}
# Follow-ups the report gives approximately, as a share of those asked: (share, n selected)
PUBLISHED_APPROX = {
    ("genai_supporter_view", "ultimate_mode"): (0.25, 25),  # 约四分之一
    ("genai_supporter_view", "skill_patch"): (0.75, 73),  # 大多数（75%）
    ("blockchain_privacy_fusion_view", "core_modular_mode"): (0.5, 40),  # 约有一半
    ("blockchain_privacy_fusion_view", "scenario_specific"): (0.5, 40),  # 另一半
}
FOLLOW_UPS = {  # follow-up -> (parent question, parent option, respondents asked)
    "genai_supporter_view": ("genai_attitude", "positive", 98),
    "genai_negative_reason": ("genai_attitude", "negative", 6),
    "group_cloud_adoption_mode": ("group_cloud_attitude", "positive", 80),
    "blockchain_privacy_fusion_view": ("blockchain_privacy_fusion_attitude", "positive", 80),
}

# ------------------------------------------------------------------ §3.1 capability stages
SEGMENT_SIZE = {"bank": 50, "insurance": 36, "securities": 36}
REPORT_CLUSTERS = {
    "bank": {
        "risk_control": "leaders",
        "precision_marketing": "leaders",
        "digital_operations": "leaders",
        "product_digitalization": "tackling",
        "channel_linkage": "tackling",
        "digital_ecosystem": "explorers",
    },
    "insurance": {
        "underwriting": "leaders",
        "claims": "leaders",
        "channel_sales": "tackling",
        "operations_management": "tackling",
        "product_rnd": "tackling",
        "precision_marketing": "explorers",
        "risk_control": "explorers",
    },
    "securities": {
        "customer_service": "leaders",
        "investment_advisory": "tackling",
        "quant_trading": "tackling",
        "office_assistant": "tackling",
        "investment_research": "explorers",
        "precision_marketing": "explorers",
        "risk_management": "explorers",
    },
}
# g1 of the seed distributions (exact to 1e-4): a changed count moves these.
SKEWNESS = {
    ("bank", "risk_control"): -0.6430,
    ("bank", "precision_marketing"): -0.4488,
    ("bank", "digital_operations"): -0.5320,
    ("bank", "product_digitalization"): -0.0671,
    ("bank", "channel_linkage"): -0.1302,
    ("bank", "digital_ecosystem"): 0.6993,
    ("insurance", "underwriting"): -0.8471,
    ("insurance", "claims"): -0.8029,
    ("insurance", "channel_sales"): -0.0659,
    ("insurance", "operations_management"): -0.0682,
    ("insurance", "product_rnd"): 0.0,
    ("insurance", "precision_marketing"): 0.6139,
    ("insurance", "risk_control"): 0.6215,
    ("securities", "customer_service"): -0.7744,
    ("securities", "investment_advisory"): -0.0056,
    ("securities", "quant_trading"): 0.0555,
    ("securities", "office_assistant"): -0.1158,
    ("securities", "investment_research"): 0.4054,
    ("securities", "precision_marketing"): 0.3952,
    ("securities", "risk_management"): 0.3940,
}


# ------------------------------------------------------------------ helpers
def report_round(selected: int, base: int, decimals: int, twice: bool = True) -> str:
    """Percentage as the report prints it (half up; via two decimals first when ``twice``)."""
    pct = Decimal(selected) * 100 / Decimal(base)
    if twice:
        pct = pct.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return str(pct.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def g1(stages: list[int]) -> float:
    x = np.asarray(stages, dtype=float)
    d = x - x.mean()
    return float((d**3).mean() / (d**2).mean() ** 1.5)


def cluster_of(skew: float) -> str:
    return "leaders" if skew < -0.3 else "explorers" if skew > 0.3 else "tackling"


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return survey_events()


@pytest.fixture(scope="module")
def by_survey(events) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for ev in events:
        out[ev["payload"]["survey_id"]].append(ev)
    return out


@pytest.fixture(scope="module")
def definitions() -> dict[str, dict]:
    return {
        sid: yaml.safe_load((SURVEYS / f"{sid}.yaml").read_text(encoding="utf-8"))
        for sid in (PRACTICE, MATURITY)
    }


@pytest.fixture(scope="module")
def answers(by_survey) -> dict[str, dict[str, list[dict]]]:
    """survey -> question -> answers (one per respondent who answered it)."""
    out: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for sid, evs in by_survey.items():
        for ev in evs:
            for ans in ev["payload"]["answers"]:
                out[sid][ans["question_id"]].append(ans)
    return out


def option_tally(question_answers: list[dict]) -> tuple[int, Counter]:
    tally: Counter = Counter()
    for ans in question_answers:
        tally.update(ans["options"])
    return len(question_answers), tally


# ------------------------------------------------------------------ envelope and panel
def test_deterministic(events):
    assert survey_events() == events


def test_envelopes_follow_contract(events, definitions):
    assert len(events) == 2 * N
    assert len({ev["event_id"] for ev in events}) == len(events)
    for ev in events:
        sid = ev["payload"]["survey_id"]
        short = {PRACTICE: "practice", MATURITY: "maturity"}[sid]
        rid = ev["payload"]["respondent_id"]
        assert ev["event_id"] == f"seed-002-survey-{short}-{rid}"
        assert re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", ev["event_id"])
        assert ev["event_type"] == "survey_response"
        assert ev["schema_version"] == 1
        assert ev["producer"] == "survey-tool"
        published_on = str(definitions[sid]["published_on"])
        assert ev["occurred_at"] == f"{published_on}T00:00:00+08:00"
        assert ev["source"] == {
            "publisher": "艾瑞咨询",
            "document": definitions[sid]["document"],
            "locator": {PRACTICE: "§4", MATURITY: "§3.1"}[sid],
            "published_on": published_on,
            # rebuilt so that they aggregate to the printed figures
            "provenance": "constructed",
        }
        subject = ev["subject"]
        assert subject["level"] == "institution"
        assert subject["institution_type"] in SEGMENT_SIZE
        code = {"bank": "b", "insurance": "i", "securities": "s"}[subject["institution_type"]]
        assert re.fullmatch(
            rf"cn\.{subject['institution_type']}\.panel2025_{code}\d{{3}}", subject["entity_id"]
        )
        payload = ev["payload"]
        assert set(payload) == {"survey_id", "wave", "respondent_id", "department", "answers"}
        assert "respondent_email" not in payload
        assert payload["wave"] == "2025"
        assert payload["department"] in DEPARTMENTS
        assert payload["answers"], "answers must be non-empty"


def test_exactly_122_respondents_one_institution_each(by_survey):
    for sid in (PRACTICE, MATURITY):
        rids = [ev["payload"]["respondent_id"] for ev in by_survey[sid]]
        assert sorted(rids) == [f"r{k:03d}" for k in range(1, N + 1)]
        assert len({ev["subject"]["entity_id"] for ev in by_survey[sid]}) == N
    # the same respondent speaks for the same institution, from the same department
    who = {
        sid: {
            ev["payload"]["respondent_id"]: (ev["subject"], ev["payload"]["department"])
            for ev in by_survey[sid]
        }
        for sid in (PRACTICE, MATURITY)
    }
    assert who[PRACTICE] == who[MATURITY]
    split = Counter(ev["subject"]["institution_type"] for ev in by_survey[PRACTICE])
    assert split == SEGMENT_SIZE
    departments = Counter(ev["payload"]["department"] for ev in by_survey[PRACTICE])
    assert set(departments) == DEPARTMENTS and min(departments.values()) >= 30


def test_panel_reference_file_matches_events(by_survey):
    panel = yaml.safe_load(PANEL.read_text(encoding="utf-8"))["entities"]
    assert len(panel) == N
    subjects = {ev["subject"]["entity_id"]: ev["subject"] for ev in by_survey[PRACTICE]}
    assert {e["entity_id"] for e in panel} == set(subjects)
    for e in panel:
        assert set(e) == {"entity_id", "level", "institution_type", "name_en", "name_zh"}
        assert e["level"] == "institution"
        assert subjects[e["entity_id"]] == e
    assert panel[0]["name_en"] == "Survey panel bank 001"
    assert panel[0]["name_zh"] == "调研样本银行001"


# ------------------------------------------------------------------ answer shape
@pytest.mark.parametrize("sid", [PRACTICE, MATURITY])
def test_answers_match_definitions(sid, by_survey, definitions):
    questions = {q["question_id"]: q for q in definitions[sid]["questions"]}
    for ev in by_survey[sid]:
        qids = [a["question_id"] for a in ev["payload"]["answers"]]
        assert len(qids) == len(set(qids)), "a question answered twice in one response"
        for ans in ev["payload"]["answers"]:
            q = questions[ans["question_id"]]
            assert ans["kind"] == q["kind"]
            if q["kind"] in ("single", "multi"):
                assert set(ans) == {"question_id", "kind", "options"}
                valid = [o["option_id"] for o in q["options"]]
                assert set(ans["options"]) <= set(valid)
                assert len(ans["options"]) == len(set(ans["options"]))
                if q["kind"] == "single":
                    assert len(ans["options"]) == 1
            elif q["kind"] == "score":
                assert set(ans) == {"question_id", "kind", "score"}
                assert isinstance(ans["score"], float) and 0.0 <= ans["score"] <= 1.0
            else:
                assert set(ans) == {"question_id", "kind", "stage"}
                assert ans["stage"] in STAGES


def test_definition_ids_are_well_formed(definitions):
    for d in definitions.values():
        qids = [q["question_id"] for q in d["questions"]]
        assert len(qids) == len(set(qids))
        for q in d["questions"]:
            assert re.fullmatch(r"[a-z0-9_]+", q["question_id"])
            assert q["kind"] in {"single", "multi", "score", "stage"}
            assert q["locator"].startswith("§")
            if q["kind"] in ("single", "multi"):
                oids = [o["option_id"] for o in q["options"]]
                assert len(oids) == len(set(oids))
                assert all(re.fullmatch(r"[a-z0-9_]+", o) for o in oids)
            else:
                assert "options" not in q


def test_every_practice_question_answered_by_whom_it_should(by_survey, definitions):
    questions = definitions[PRACTICE]["questions"]
    assert {q["question_id"] for q in questions} == (
        set(PUBLISHED_SHARES) | set(PUBLISHED_MEANS) | set(FOLLOW_UPS)
    )
    for ev in by_survey[PRACTICE]:
        given = {a["question_id"]: a for a in ev["payload"]["answers"]}
        for q in questions:
            qid = q["question_id"]
            if qid in FOLLOW_UPS:
                parent, option, _ = FOLLOW_UPS[qid]
                assert (qid in given) == (option in given[parent]["options"])
                assert q["asked_if"] == {"question_id": parent, "option_id": option}
            else:
                assert qid in given


# ------------------------------------------------------------------ §4 figures
@pytest.mark.parametrize(
    ("qid", "oid"),
    [(q, o) for q, (_, opts) in PUBLISHED_SHARES.items() for o in opts],
)
def test_published_share_reproduced(qid, oid, answers):
    decimals, options = PUBLISHED_SHARES[qid]
    printed, implied = options[oid]
    base, tally = option_tally(answers[PRACTICE][qid])
    assert base == N
    assert tally[oid] == implied
    assert report_round(tally[oid], base, decimals) == printed
    plain = report_round(tally[oid], base, decimals, twice=False)
    if (qid, oid) in DOUBLE_ROUNDED:
        assert plain != printed  # no n/122 prints this under plain rounding
    else:
        assert plain == printed


@pytest.mark.parametrize("qid", sorted(PUBLISHED_MEANS))
def test_published_mean_reproduced(qid, answers):
    scores = [a["score"] for a in answers[PRACTICE][qid]]
    assert len(scores) == N
    mean = Decimal(sum(Decimal(str(s)) for s in scores)) / N
    p = Decimal(PUBLISHED_MEANS[qid]) / 100
    assert p - Decimal("0.005") <= mean < p + Decimal("0.005")


def test_single_choice_questions_partition_the_respondents(answers):
    singles = [
        "genai_attitude",
        "bigdata_fusion_expectation",
        "group_cloud_attitude",
        "blockchain_privacy_fusion_attitude",
    ]
    for qid in singles:
        base, tally = option_tally(answers[PRACTICE][qid])
        assert sum(tally.values()) == base == N
        printed_sum = sum(Decimal(p) for p, _ in PUBLISHED_SHARES[qid][1].values())
        assert abs(printed_sum - 100) <= Decimal("0.1")


@pytest.mark.parametrize("qid", sorted(FOLLOW_UPS))
def test_follow_up_figures(qid, answers):
    parent, option, asked = FOLLOW_UPS[qid]
    base, tally = option_tally(answers[PRACTICE][qid])
    assert base == asked
    assert sum(tally.values()) == asked  # all follow-ups are single choice
    _, parent_tally = option_tally(answers[PRACTICE][parent])
    assert parent_tally[option] == asked
    for (q, o), (printed, decimals, n) in PUBLISHED_OF_ALL.items():
        if q == qid:
            assert tally[o] == n
            assert report_round(n, N, decimals) == printed
    for (q, o), (share, n) in PUBLISHED_APPROX.items():
        if q == qid:
            assert tally[o] == n
            assert abs(n / asked - share) <= 0.01


def test_yaml_published_figures_match_the_report(definitions):
    questions = {q["question_id"]: q for q in definitions[PRACTICE]["questions"]}
    for qid, (decimals, options) in PUBLISHED_SHARES.items():
        q = questions[qid]
        assert q["published_decimals"] == decimals
        yaml_shares = {o["option_id"]: o.get("published_share") for o in q["options"]}
        assert yaml_shares == {
            oid: float(Decimal(printed) / 100) for oid, (printed, _) in options.items()
        }
    for qid, pct in PUBLISHED_MEANS.items():
        assert questions[qid]["kind"] == "score"
        assert questions[qid]["published_mean"] == pct / 100
        assert questions[qid]["published_decimals"] == 0
    for (qid, oid), (printed, decimals, _) in PUBLISHED_OF_ALL.items():
        option = next(o for o in questions[qid]["options"] if o["option_id"] == oid)
        assert option["published_share_of_all"] == float(Decimal(printed) / 100)
        assert questions[qid]["published_decimals"] == decimals
    for (qid, oid), (share, _) in PUBLISHED_APPROX.items():
        option = next(o for o in questions[qid]["options"] if o["option_id"] == oid)
        assert option["published_share_approx"] == share
        assert "published_share" not in option


# ------------------------------------------------------------------ §3.1 capability stages
def stage_lists(by_survey) -> dict[tuple[str, str], list[int]]:
    out: dict[tuple[str, str], list[int]] = defaultdict(list)
    for ev in by_survey[MATURITY]:
        segment = ev["subject"]["institution_type"]
        for ans in ev["payload"]["answers"]:
            capability = ans["question_id"].removeprefix(f"stage_{segment}_")
            out[(segment, capability)].append(ORDINAL[ans["stage"]])
    return out


def shares(stages: list[int]) -> dict[int, float]:
    c = Counter(stages)
    return {k: c[k] / len(stages) for k in range(1, 6)}


def test_maturity_questions_cover_each_segment(definitions, by_survey):
    questions = definitions[MATURITY]["questions"]
    expected = {
        f"stage_{seg}_{cap}": (seg, cap, cluster)
        for seg, caps in REPORT_CLUSTERS.items()
        for cap, cluster in caps.items()
    }
    assert {q["question_id"] for q in questions} == set(expected)
    for q in questions:
        seg, cap, cluster = expected[q["question_id"]]
        assert q["kind"] == "stage"
        assert q["capability"] == cap and cap in CONTRACT_CAPABILITIES
        assert q["institution_types"] == [seg]
        assert q["published_cluster"] == cluster
    for ev in by_survey[MATURITY]:
        seg = ev["subject"]["institution_type"]
        qids = {a["question_id"] for a in ev["payload"]["answers"]}
        assert qids == {f"stage_{seg}_{cap}" for cap in REPORT_CLUSTERS[seg]}


def test_every_capability_cluster_matches_the_report(by_survey):
    lists = stage_lists(by_survey)
    assert set(lists) == set(SKEWNESS)
    for (seg, cap), stages in lists.items():
        assert len(stages) == SEGMENT_SIZE[seg]
        skew = g1(stages)
        assert skew == pytest.approx(SKEWNESS[(seg, cap)], abs=1e-4), (seg, cap)
        assert cluster_of(skew) == REPORT_CLUSTERS[seg][cap], (seg, cap, skew)


def test_stated_shares_hold(by_survey):
    lists = stage_lists(by_survey)
    for (seg, cap), stages in lists.items():
        s = shares(stages)
        cluster = REPORT_CLUSTERS[seg][cap]
        sd = float(np.std(stages))
        where = (seg, cap, s)
        if seg == "bank" and cluster == "leaders":
            assert 0.40 <= s[4] < 0.50, where  # 近半数 成熟化应用
            assert s[3] + s[4] + s[5] > 0.80, where  # 超80% 渡过或正在渡过规模化部署
            assert s[1] + s[2] < 0.20, where  # 不足20% 仍处于探索阶段
        if seg == "bank" and cluster == "explorers":
            assert 0.40 <= s[2] < 0.50, where  # 近半数 初步探索
        if seg == "insurance" and cluster == "leaders":
            assert 0.45 <= s[4] <= 0.55, where  # 约半数 成熟实践
            assert 0.15 <= s[5] <= 0.25, where  # 约两成 升级迭代期
            assert s[1] > 0 and s[2] > 0, where  # 长尾
        if seg == "insurance" and cluster == "explorers":
            assert 0.40 <= s[2] < 0.50, where  # 近半数 初步探索
        if seg in ("bank", "insurance") and cluster == "tackling":
            assert sd >= 1.1 and max(s.values()) <= 0.30 and min(s.values()) >= 0.08, where
        if seg == "securities" and cluster == "leaders":
            assert 0.45 <= s[4] <= 0.55, where  # 约半数 成熟应用
        if seg == "securities" and cluster == "tackling":
            assert 0.35 <= s[3] <= 0.45, where  # 约四成 规模化部署
            assert s[1] <= s[2] <= s[3] >= s[4] >= s[5] > 0, where  # 正态: one mode, both tails
            assert max(s, key=s.get) == 3, where
        if seg == "securities" and cluster == "explorers":
            assert 0.35 <= s[4] <= 0.45, where  # 约四成 成熟应用
            assert s[2] > s[3] < s[4], where  # 两极化
            assert s[2] + s[4] >= 0.85, where


def test_stage_figures_yaml_agrees_with_events(by_survey):
    figures = yaml.safe_load(
        (ROOT / "contracts/corpus/seed_figures/r002_capability_stages.yaml").read_text("utf-8")
    )
    assert figures["panel"] == SEGMENT_SIZE
    lists = stage_lists(by_survey)
    for seg, block in figures["segments"].items():
        for cap in block["capabilities"]:
            counts = Counter(lists[(seg, cap["capability"])])
            assert [counts[k] for k in range(1, 6)] == [cap["counts"][s] for s in STAGES]
            assert cap["cluster"] == REPORT_CLUSTERS[seg][cap["capability"]]
