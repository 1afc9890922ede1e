"""Every model and check on small hand-made inputs in a temporary DuckLake: expected rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from finradar.settings import Settings
from tests.unit.warehouse_inputs import insert, insert_responses, milestone, query, response, spend
from warehouse.refresh import refresh


def findings(settings: Settings, rule: str) -> list[tuple]:
    return query(
        settings,
        f"select entity_id, fiscal_period, list_sort(event_ids) from dq.findings "
        f"where rule_id = '{rule}' order by all",
    )


# ---------------------------------------------------------------------------- spend series


def test_spend_series_growth_vintages_and_bounds(tmp_settings: Settings) -> None:
    insert(
        tmp_settings,
        "spend_disclosures",
        [
            spend("a22", "seg", "2022", "100"),
            spend("a23", "seg", "2023", "110", reported_yoy="0.1"),
            # a forecast grows from the last actual; an actual never from a forecast
            spend("f24", "seg", "2024", "121", status="forecast", reported_yoy="0.1"),
            spend("f23", "seg", "2023", "999", status="forecast"),
            # restated: the later vintage wins
            spend("a21-old", "seg", "2021", "80", vintage=date(2022, 3, 1)),
            spend("a21-new", "seg", "2021", "90", vintage=date(2023, 3, 1)),
            # a lower bound has no growth
            spend("g25", "seg", "2025", "130", status="forecast", bound="gt"),
            # 10,000 万 = 1 亿
            spend("w23", "inst", "2023", "10000", unit="wan", level="institution"),
        ],
    )
    refresh(tmp_settings)
    rows = query(
        tmp_settings,
        """select fiscal_period, status, amount_yi, round(yoy, 6), previous_period,
                  previous_status, is_restated
           from marts.spend_series where entity_id = 'seg' order by fiscal_period, status""",
    )
    assert rows == [
        ("2021", "actual", 90.0, None, None, None, True),
        ("2022", "actual", 100.0, round(100 / 90 - 1, 6), "2021", "actual", False),
        ("2023", "actual", 110.0, 0.1, "2022", "actual", False),
        ("2023", "forecast", 999.0, round(999 / 100 - 1, 6), "2022", "actual", False),
        ("2024", "forecast", 121.0, 0.1, "2023", "actual", False),
        ("2025", "forecast", 130.0, None, "2024", "forecast", False),
    ]
    assert query(
        tmp_settings, "select amount_yi from marts.spend_series where entity_id='inst'"
    ) == [(1.0,)]


def test_yoy_mismatch_follows_printed_precision(tmp_settings: Settings) -> None:
    insert(
        tmp_settings,
        "spend_disclosures",
        [
            # R003 insurance: 319 / 268 - 1 = 19.03 %, printed 19.1 %: inside the rounding
            spend("i18", "ins", "2018", "268"),
            spend("i19", "ins", "2019", "319", reported_yoy="0.191"),
            # R002-style shifted label: the printed growth belongs to the next year
            spend("b23", "bank", "2023", "3000"),
            spend("b24", "bank", "2024", "3240", status="forecast", reported_yoy="0.08"),
            spend("b25", "bank", "2025", "3499.2", status="forecast", reported_yoy="0.104"),
        ],
    )
    refresh(tmp_settings)
    assert findings(tmp_settings, "yoy_mismatch") == [("bank", "2025", ["b24", "b25"])]
    (gap,) = query(
        tmp_settings, "select round(yoy_gap, 4) from marts.spend_series where event_id = 'b25'"
    )[0]
    assert gap == round(0.104 - (3499.2 / 3240 - 1), 4)


def test_frontier_share_and_frontier_exceeds_total(tmp_settings: Settings) -> None:
    insert(
        tmp_settings,
        "spend_disclosures",
        [
            spend("t18", "all", "2018", "2297.3"),
            spend("f18", "all", "2018", "675.2", spend_class="frontier"),
            # no stated total: frontier plus the rest
            spend("sf", "sec", "2018", "3.5", spend_class="frontier"),
            spend("sn", "sec", "2018", "177.8", spend_class="non_frontier"),
            spend("t19", "bad", "2019", "100.0"),
            spend("f19", "bad", "2019", "100.2", spend_class="frontier"),
            spend("t20", "edge", "2020", "100"),
            spend("f20", "edge", "2020", "100.4", spend_class="frontier"),  # rounding of 100
        ],
    )
    refresh(tmp_settings)
    rows = query(
        tmp_settings,
        """select entity_id, total_yi, total_basis, round(frontier_share, 4)
           from marts.spend_frontier_share order by entity_id""",
    )
    assert rows == [
        ("all", 2297.3, "stated", 0.2939),
        ("bad", 100.0, "stated", 1.002),
        ("edge", 100.0, "stated", 1.004),
        ("sec", 181.3, "frontier_plus_non_frontier", round(3.5 / 181.3, 4)),
    ]
    assert findings(tmp_settings, "frontier_exceeds_total") == [("bad", "2019", ["f19", "t19"])]


def test_parts_exceed_whole_counts_genai_inside_ai(tmp_settings: Settings) -> None:
    frontier = {"spend_class": "frontier"}
    insert(
        tmp_settings,
        "spend_disclosures",
        [
            spend("w", "ok", "2024", "100", **frontier),
            spend("ai", "ok", "2024", "60", technology="ai", **frontier),
            spend("gen", "ok", "2024", "50", technology="genai", **frontier),
            spend("cl", "ok", "2024", "40", technology="cloud", **frontier),
            spend("w2", "over", "2024", "100", **frontier),
            spend("ai2", "over", "2024", "70", technology="ai", **frontier),
            spend("bd2", "over", "2024", "40", technology="big_data", **frontier),
            spend("ai3", "genai", "2024", "10", technology="ai", **frontier),
            spend("gen3", "genai", "2024", "12", technology="genai", **frontier),
        ],
    )
    refresh(tmp_settings)
    assert findings(tmp_settings, "parts_exceed_whole") == [
        ("genai", "2024", ["ai3", "gen3"]),
        ("over", "2024", ["ai2", "bd2", "w2"]),
    ]


def test_group_rollup_scopes_and_members(tmp_settings: Settings) -> None:
    from contracts.registry import entities

    group = "cn.group.six_state_owned_banks"
    members = entities()[group]["members"]
    amounts = ["163.74", "176.33", "127.9", "116.54", "100", "32.25"]
    scopes = ["fintech", "fintech", "it", "it", "it", "it"]
    rows = [
        spend(f"m{i}", m, "2019", a, scope=s, level="institution")
        for i, (m, a, s) in enumerate(zip(members, amounts, scopes, strict=True))
    ]
    rows.append(spend("g19", group, "2019", "716.76", scope="it", level="group"))
    # 2020: every member in one scope, the group's own figure off by more than rounding
    rows += [
        spend(f"n{i}", m, "2020", "100", scope="it", level="institution")
        for i, m in enumerate(members)
    ]
    rows.append(spend("g20", group, "2020", "610", scope="it", level="group"))
    # 2021: two members only, no group figure
    rows += [
        spend(f"p{i}", m, "2021", "50", level="institution") for i, m in enumerate(members[:2])
    ]
    insert(tmp_settings, "spend_disclosures", rows)
    refresh(tmp_settings)
    got = query(
        tmp_settings,
        """select fiscal_period, scope, members_expected, members_reported,
                  round(members_total_yi, 2), group_reported_yi, scopes_mixed
           from marts.spend_group_rollup where group_id = ? order by fiscal_period""".replace(
            "?", f"'{group}'"
        ),
    )
    assert got == [
        ("2019", "it", 6, 6, 716.76, 716.76, True),
        ("2020", "it", 6, 6, 600.0, 610.0, False),
        ("2021", "tech", 6, 2, 100.0, None, False),
    ]
    assert [f[:2] for f in findings(tmp_settings, "scope_mixed_rollup")] == [(group, "2019")]
    assert [f[:2] for f in findings(tmp_settings, "group_members_mismatch")] == [(group, "2020")]


def test_spend_growth_is_cagr_between_first_and_last_year(tmp_settings: Settings) -> None:
    insert(
        tmp_settings,
        "spend_disclosures",
        [
            spend("f24", "s", "2024", "100", status="forecast"),
            spend("f26", "s", "2026", "121", status="forecast"),
            spend("f25", "s", "2025", "105", status="forecast"),
            spend("a23", "s", "2023", "90"),
        ],
    )
    refresh(tmp_settings)
    rows = query(
        tmp_settings,
        """select status, start_period, end_period, periods, points, round(cagr, 6)
           from marts.spend_growth order by status""",
    )
    assert rows == [("actual", "2023", "2023", 0, 1, None), ("forecast", "2024", "2026", 2, 3, 0.1)]


def test_scale_outlier_and_restated(tmp_settings: Settings) -> None:
    inst = {"level": "institution"}
    insert(
        tmp_settings,
        "spend_disclosures",
        [
            # a series of three: compared with its median
            spend("x1", "inst", "2021", "10.5", **inst),
            spend("x2", "inst", "2022", "11.2", **inst),
            spend("x3", "inst", "2023", "120000", **inst),  # 万 written as 亿
            # a lone figure: compared with the entity's other figures
            spend("z1", "many", "2021", "2.1", **inst),
            spend("z2", "many", "2022", "2.3", **inst),
            spend("z3", "many", "2022", "0.4", spend_class="frontier", **inst),
            spend("z4", "many", "2022", "5300", spend_class="frontier", technology="ai", **inst),
            # a total and its small frontier part differ, but not by a unit
            spend("v1", "fine", "2022", "300", **inst),
            spend("v2", "fine", "2022", "0.5", spend_class="frontier", technology="rpa", **inst),
            # a pair and nothing else: the pair is named
            spend("y1", "pair", "2022", "3", **inst),
            spend("y2", "pair", "2023", "31000", **inst),
            spend("r1", "rest", "2020", "50.1", vintage=date(2021, 3, 1)),
            spend("r2", "rest", "2020", "52.3", vintage=date(2022, 3, 1)),
            spend("r3", "same", "2020", "50.1", vintage=date(2021, 3, 1)),
            spend("r4", "same", "2020", "50.10", vintage=date(2022, 3, 1)),
        ],
    )
    refresh(tmp_settings)
    assert findings(tmp_settings, "scale_outlier") == [
        ("inst", "2023", ["x3"]),
        ("many", "2022", ["z4"]),
        ("pair", "2023", ["y1", "y2"]),
    ]
    assert findings(tmp_settings, "restated") == [("rest", "2020", ["r1", "r2"])]


# ---------------------------------------------------------------------------- maturity


def _stage_answer(question: str, stage: str) -> dict:
    return {"question_id": question, "kind": "stage", "stage": stage}


PANEL = "capability-maturity-2025/2025"


def test_stage_ratings_maturity_marts(tmp_settings: Settings) -> None:
    q = "stage_bank_risk_control"
    stages = ["mature"] * 5 + ["iteration"] * 2 + ["scaled_deployment"] * 2 + ["exploration"]
    responses = [
        response(
            f"r{i}",
            f"p{i}",
            [_stage_answer(q, s)],
            entity_id=f"bank{i}",
            survey_id="capability-maturity-2025",
        )
        for i, s in enumerate(stages)
    ]
    insert_responses(tmp_settings, responses)
    # milestones are a panel of their own: they never outrank a survey answer, nor it them
    insert(
        tmp_settings,
        "deployment_milestones",
        [
            milestone("m1", "bank9", "risk_control", "planning", date(2020, 1, 1)),
            milestone("m2", "bank9", "risk_control", "mature", date(2024, 1, 1)),
            milestone("m3", "bank8", "risk_control", "retired", date(2024, 1, 1)),
        ],
    )
    refresh(tmp_settings)
    ratings = query(
        tmp_settings,
        "select panel, entity_id, stage from staging.stage_ratings where entity_id in "
        "('bank8', 'bank9') order by all",
    )
    assert ratings == [
        (PANEL, "bank8", "scaled_deployment"),
        (PANEL, "bank9", "exploration"),
        ("milestones", "bank9", "mature"),
    ]
    ordinals = sorted([4] * 5 + [5] * 2 + [3] * 2 + [2])
    n = len(ordinals)
    mean = sum(ordinals) / n
    m2 = sum((x - mean) ** 2 for x in ordinals) / n
    m3 = sum((x - mean) ** 3 for x in ordinals) / n
    row = query(
        tmp_settings,
        """select panel, institutions, median_stage, round(share_at_or_beyond_scaled, 6),
                  round(skewness, 6), cluster
           from marts.capability_maturity where capability = 'risk_control' order by panel""",
    )
    skew = m3 / m2**1.5
    cluster = "leaders" if skew < -0.3 else "explorers" if skew > 0.3 else "tackling"
    assert row == [
        (PANEL, 10, 4, 0.9, round(skew, 6), cluster),
        # one institution: no cluster
        ("milestones", 1, 4, 1.0, None, None),
    ]
    dist = query(
        tmp_settings,
        f"""select stage, institutions, round(share, 4) from marts.maturity_distribution
           where capability = 'risk_control' and panel = '{PANEL}' order by stage_ordinal""",
    )
    assert dist == [
        ("planning", 0, 0.0),
        ("exploration", 1, 0.1),
        ("scaled_deployment", 2, 0.2),
        ("mature", 5, 0.5),
        ("iteration", 2, 0.2),
    ]
    assert query(
        tmp_settings,
        "select panel, capabilities_rated, maturity_index, as_of from marts.institution_maturity "
        "where entity_id = 'bank9' order by panel",
    ) == [(PANEL, 1, 25.0, date(2025, 4, 1)), ("milestones", 1, 75.0, date(2024, 1, 1))]


def test_a_new_technology_does_not_undo_a_capabilitys_maturity(tmp_settings: Settings) -> None:
    """ICBC's channels: mature with AI, then a 5G pilot in the same capability. The pilot is
    5G's latest milestone, not the capability's stage; a technology retired drops out."""
    insert(
        tmp_settings,
        "deployment_milestones",
        [
            milestone("ai", "icbc", "channel_linkage", "mature", date(2019, 1, 1)),
            milestone(
                "5g", "icbc", "channel_linkage", "exploration", date(2021, 6, 1), technology="5g"
            ),
            milestone(
                "bc1", "icbc", "risk_control", "mature", date(2018, 1, 1), technology="blockchain"
            ),
            milestone(
                "bc2", "icbc", "risk_control", "retired", date(2020, 1, 1), technology="blockchain"
            ),
            milestone("ai2", "icbc", "risk_control", "exploration", date(2016, 1, 1)),
        ],
    )
    refresh(tmp_settings)
    assert query(
        tmp_settings,
        "select capability, stage, technology, event_id from staging.stage_ratings order by 1",
    ) == [("channel_linkage", "mature", "ai", "ai"), ("risk_control", "exploration", "ai", "ai2")]


def test_no_cluster_for_the_catch_all_type(tmp_settings: Settings) -> None:
    stages = ["mature"] * 8 + ["planning"] * 4
    for institution_type in ("other", "bank"):
        insert(
            tmp_settings,
            "deployment_milestones",
            [
                milestone(
                    f"{institution_type}{i}",
                    f"{institution_type}{i}",
                    "risk_control",
                    s,
                    date(2020, 1, 1),
                    institution_type=institution_type,
                )
                for i, s in enumerate(stages)
            ],
        )
    refresh(tmp_settings)
    assert query(
        tmp_settings,
        "select institution_type, institutions, cluster from marts.capability_maturity order by 1",
    ) == [("bank", 12, "leaders"), ("other", 12, None)]


def test_a_survey_answer_is_dated_in_its_producers_time_zone(tmp_settings: Settings) -> None:
    """A response written at 2025-04-01T00:00:00+08:00 (2025-03-31 16:00 UTC) rates on
    1 April, the day its producer meant, whatever the session's time zone."""
    beijing = timezone(timedelta(hours=8))
    insert_responses(
        tmp_settings,
        [
            response(
                "r1",
                "p1",
                [_stage_answer("stage_bank_risk_control", "mature")],
                entity_id="bank1",
                survey_id="capability-maturity-2025",
                occurred_at=datetime(2025, 4, 1, tzinfo=beijing),
            )
        ],
    )
    refresh(tmp_settings)
    assert query(tmp_settings, "select rated_on from staging.stage_ratings") == [
        (date(2025, 4, 1),)
    ]
    assert query(tmp_settings, "select as_of from marts.institution_maturity") == [
        (date(2025, 4, 1),)
    ]


def test_cluster_thresholds(tmp_settings: Settings) -> None:
    q = "stage_bank_risk_control"
    shapes = {
        "lead": ["mature"] * 8 + ["iteration"] * 2 + ["exploration"] * 2 + ["planning"],
        "expl": ["exploration"] * 8 + ["planning"] * 2 + ["mature"] * 2 + ["iteration"],
        "flat": ["planning", "exploration", "scaled_deployment", "mature", "iteration"] * 2,
    }
    responses = []
    for capability_type, stages in zip(
        ("bank", "insurance", "securities"), shapes.values(), strict=True
    ):
        question = {
            "bank": q,
            "insurance": "stage_insurance_claims",
            "securities": "stage_securities_customer_service",
        }[capability_type]
        responses += [
            response(
                f"{capability_type}{i}",
                f"{capability_type}{i}",
                [_stage_answer(question, s)],
                institution_type=capability_type,
                survey_id="capability-maturity-2025",
            )
            for i, s in enumerate(stages)
        ]
    insert_responses(tmp_settings, responses)
    refresh(tmp_settings)
    assert query(
        tmp_settings, "select institution_type, cluster from marts.capability_maturity order by 1"
    ) == [("bank", "leaders"), ("insurance", "explorers"), ("securities", "tackling")]


def test_deployment_cases_and_sourcing(tmp_settings: Settings) -> None:
    segment = {"level": "segment", "institution_type": "securities"}
    insert(
        tmp_settings,
        "deployment_milestones",
        [
            milestone(
                "c1",
                "sec",
                "brokerage",
                "exploration",
                date(2019, 1, 1),
                sourcing="purchased",
                case_count=29,
                **segment,
            ),
            milestone(
                "c2",
                "sec",
                "brokerage",
                "exploration",
                date(2019, 1, 1),
                sourcing="co_developed",
                case_count=53,
                **segment,
            ),
            milestone(
                "c3",
                "sec",
                "compliance",
                "exploration",
                date(2019, 1, 1),
                sourcing="purchased",
                case_count=4,
                **segment,
            ),
            # one deployment seen twice counts once, at its latest stage; planning is no case
            milestone("i1", "bankA", "risk_control", "exploration", date(2019, 1, 1)),
            milestone("i2", "bankA", "risk_control", "scaled_deployment", date(2020, 1, 1)),
            milestone("i3", "bankB", "risk_control", "planning", date(2020, 1, 1)),
        ],
    )
    refresh(tmp_settings)
    assert query(
        tmp_settings,
        "select institution_type, capability, sourcing, cases from marts.deployment_cases "
        "order by all",
    ) == [
        ("bank", "risk_control", None, 1),
        ("securities", "brokerage", "co_developed", 53),
        ("securities", "brokerage", "purchased", 29),
        ("securities", "compliance", "purchased", 4),
    ]
    assert query(
        tmp_settings,
        "select sourcing, cases, round(share, 4) from marts.deployment_sourcing order by 1",
    ) == [("co_developed", 53, round(53 / 86, 4)), ("purchased", 33, round(33 / 86, 4))]


# ---------------------------------------------------------------------------- surveys


def test_survey_shares_scores_latest_response_wins(tmp_settings: Settings) -> None:
    def answers(attitude: str, domains: list[str], score: float) -> list[dict]:
        return [
            {"question_id": "genai_attitude", "kind": "single", "options": [attitude]},
            {"question_id": "tech_domains_of_concern", "kind": "multi", "options": domains},
            {"question_id": "drivers_strategy", "kind": "score", "score": score},
        ]

    later = datetime(2025, 5, 1, tzinfo=UTC)
    insert_responses(
        tmp_settings,
        [
            response("s1", "p1", answers("positive", ["ai_aigc", "big_data"], 1.0)),
            response("s2", "p2", answers("positive", ["ai_aigc"], 0.5)),
            response("s3", "p3", answers("negative", [], 0.0)),
            # p3 answers again later: only this response counts
            response("s4", "p3", answers("reserved", ["big_data"], 0.75), occurred_at=later),
        ],
    )
    refresh(tmp_settings)
    shares = query(
        tmp_settings,
        """select question_id, option_id, respondents, selected, round(share, 4)
           from marts.survey_option_shares
           where question_id in ('genai_attitude', 'tech_domains_of_concern')
           order by question_id, option_position""",
    )
    assert shares == [
        ("genai_attitude", "positive", 3, 2, 0.6667),
        ("genai_attitude", "reserved", 3, 1, 0.3333),
        ("genai_attitude", "negative", 3, 0, 0.0),
        ("tech_domains_of_concern", "ai_aigc", 3, 2, 0.6667),
        ("tech_domains_of_concern", "big_data", 3, 2, 0.6667),
        ("tech_domains_of_concern", "cloud_edge", 3, 0, 0.0),
        ("tech_domains_of_concern", "blockchain_privacy_computing", 3, 0, 0.0),
        ("tech_domains_of_concern", "rtc_iot", 3, 0, 0.0),
        ("tech_domains_of_concern", "av_digital_twin", 3, 0, 0.0),
    ]
    assert query(
        tmp_settings,
        "select respondents, mean_score, published_mean from marts.survey_scores",
    ) == [(3, 0.75, 0.91)]


# ---------------------------------------------------------------------------- refresh


def test_refresh_rebuilds_only_what_changed_and_keeps_first_detection(
    tmp_settings: Settings,
) -> None:
    insert(
        tmp_settings,
        "spend_disclosures",
        [spend("a", "e", "2022", "100"), spend("b", "e", "2023", "130", reported_yoy="0.1")],
    )
    first = refresh(tmp_settings)
    assert "marts.spend_series" in first.rebuilt and first.findings_by_rule == {"yoy_mismatch": 1}
    detected = query(tmp_settings, "select detected_at from dq.findings")

    again = refresh(tmp_settings)
    assert again.rebuilt == [] and again.new_findings == 0

    insert_responses(
        tmp_settings,
        [
            response(
                "s1", "p1", [{"question_id": "drivers_strategy", "kind": "score", "score": 1.0}]
            )
        ],
    )
    third = refresh(tmp_settings)
    assert "marts.survey_scores" in third.rebuilt
    assert "marts.spend_series" not in third.rebuilt
    assert query(tmp_settings, "select detected_at from dq.findings") == detected

    full = refresh(tmp_settings, full=True)
    assert "marts.spend_series" in full.rebuilt
    assert query(tmp_settings, "select detected_at from dq.findings") == detected


def test_marts_answer_for_a_snapshot(tmp_settings: Settings) -> None:
    """As-of: a refresh is one snapshot, so an earlier one can be read back."""
    insert(tmp_settings, "spend_disclosures", [spend("a", "e", "2022", "100")])
    refresh(tmp_settings)
    (before,) = query(tmp_settings, "select max(snapshot_id) from lake.snapshots()")[0]
    insert(tmp_settings, "spend_disclosures", [spend("b", "e", "2023", "110")])
    refresh(tmp_settings)
    assert query(tmp_settings, "select count(*) from marts.spend_series") == [(2,)]
    assert query(
        tmp_settings, f"select count(*) from marts.spend_series at (version => {before})"
    ) == [(1,)]


def test_an_empty_warehouse_refreshes_without_findings(tmp_settings: Settings) -> None:
    summary = refresh(tmp_settings)
    assert summary.findings == 0
    assert query(tmp_settings, "select count(*) from marts.spend_series") == [(0,)]


# ------------------------------------------------------- a figure's identity: measure, currency


def test_a_figure_in_another_currency_is_another_figure(tmp_settings: Settings) -> None:
    """ICBC's 2019 total in USD neither restates its CNY figure nor drops it from the CNY
    roll-up; both are kept and named by a finding, an error when the numbers are equal."""
    from contracts.registry import entities

    group = "cn.group.six_state_owned_banks"
    members = entities()[group]["members"]
    icbc = members[0]
    rows = [
        spend(f"m{i}", m, "2019", "100", level="institution", vintage=date(2020, 4, 1))
        for i, m in enumerate(members)
    ]
    rows.append(
        spend(
            "usd",
            icbc,
            "2019",
            "25.2",
            currency="USD",
            level="institution",
            vintage=date(2021, 4, 1),
        )
    )
    rows += [
        spend("same-cny", "seg", "2019", "33.4"),
        spend("same-usd", "seg", "2019", "33.4", currency="USD"),
    ]
    insert(tmp_settings, "spend_disclosures", rows)
    refresh(tmp_settings)
    assert query(
        tmp_settings,
        f"select currency, amount_yi, is_restated from marts.spend_series "
        f"where entity_id = '{icbc}' order by currency",
    ) == [("CNY", 100.0, False), ("USD", 25.2, False)]
    assert findings(tmp_settings, "restated") == []
    assert query(
        tmp_settings,
        f"select currency, members_reported, members_total_yi from marts.spend_group_rollup "
        f"where group_id = '{group}' order by currency",
    ) == [("CNY", 6, 600.0), ("USD", 1, 25.2)]
    conflicts = query(
        tmp_settings,
        "select entity_id, severity, list_sort(event_ids), detail from dq.findings "
        "where rule_id = 'currency_conflict' order by entity_id",
    )
    assert [c[:3] for c in conflicts] == [
        (icbc, "warning", ["m0", "usd"]),
        ("seg", "error", ["same-cny", "same-usd"]),
    ]
    assert "100.0 亿 CNY and 25.2 亿 USD" in conflicts[0][3]


AI_PRODUCTS = ["43.0", "55.8", "72.1", "93.8", "122.2", "161.9"]  # R002, 2024e-2029e
INSURANCE = ["586.7", "672.9", "771.3", "881.5", "1020.1"]  # R002, 2024e-2028e


def test_series_never_cross_measures_or_forecast_vintages(tmp_settings: Settings) -> None:
    """The seeds' two wrong CAGRs: R003's 金融场景AI投入 (2020e) joined R002's 人工智能类产品
    (2024e-2029e) into one series (-4.90%, printed 30.36%); insurance forecasts of a 2021 and a
    2025 report made one series 2020-2028 (13.06%, printed 14.83% over 2024-2028)."""
    r003, r002 = date(2021, 6, 1), date(2025, 4, 1)
    ai = {"scope": "tech", "spend_class": "frontier", "technology": "ai", "status": "forecast"}
    rows = [
        spend(
            "r003-ai-20",
            "fi",
            "2020",
            "254.4",
            **ai,
            measure="金融场景AI投入总规模",
            vintage=r003,
            source_document="R003",
        ),
    ]
    for year, amount in zip(range(2024, 2030), AI_PRODUCTS, strict=True):
        rows.append(
            spend(
                f"r002-ai-{year}",
                "fi",
                str(year),
                amount,
                **ai,
                measure="金融业人工智能类产品投入",
                vintage=r002,
                source_document="R002",
            )
        )
    for year, amount in (("2020", "382"), ("2022", "534")):
        rows.append(
            spend(
                f"r003-ins-{year}",
                "ins",
                year,
                amount,
                status="forecast",
                vintage=r003,
                source_document="R003",
            )
        )
    for year, amount in zip(range(2024, 2029), INSURANCE, strict=True):
        rows.append(
            spend(
                f"r002-ins-{year}",
                "ins",
                str(year),
                amount,
                status="forecast",
                vintage=r002,
                source_document="R002",
            )
        )
    # actuals of two documents that state no measure: a possible break, no CAGR given
    rows += [
        spend("r003-ins-18", "ins", "2018", "268", vintage=r003, source_document="R003"),
        spend("r002-ins-23", "ins", "2023", "517.6", vintage=r002, source_document="R002"),
    ]
    # the same stated measure in two documents is one series
    rows += [
        spend("d1", "bank", "2018", "100", measure="科技投入", source_document="D1"),
        spend("d2", "bank", "2020", "121", measure="科技投入", source_document="D2"),
    ]
    insert(tmp_settings, "spend_disclosures", rows)
    refresh(tmp_settings)
    growth = query(
        tmp_settings,
        """select entity_id, status, measure, forecast_vintage, start_period, end_period,
                  source_documents, series_break, round(cagr, 4)
           from marts.spend_growth order by all""",
    )
    assert growth == [
        ("bank", "actual", "科技投入", None, "2018", "2020", 2, False, 0.1),
        ("fi", "forecast", "金融业人工智能类产品投入", r002, "2024", "2029", 1, False, 0.3036),
        ("fi", "forecast", "金融场景AI投入总规模", r003, "2020", "2020", 1, False, None),
        ("ins", "actual", None, None, "2018", "2023", 2, True, None),
        ("ins", "forecast", None, r003, "2020", "2022", 1, False, round((534 / 382) ** 0.5 - 1, 4)),
        ("ins", "forecast", None, r002, "2024", "2028", 1, False, 0.1483),
    ]
    # a year-over-year growth never compares two measures
    assert query(
        tmp_settings,
        "select previous_event_id from marts.spend_series where event_id = 'r002-ai-2025'",
    ) == [("r002-ai-2024",)]


def test_growth_labels_one_period_early_are_one_finding(tmp_settings: Settings) -> None:
    levels = ["100", "110", "121", "133.1", "146.41"]
    rows = [
        # each label is the growth of the year after; the last one matches nothing
        spend(f"s{y}", "seg", str(y), a, reported_yoy=g, status="forecast")
        for y, a, g in zip(
            range(2020, 2025), levels, ["0.1", "0.1", "0.1", "0.1", "0.3"], strict=True
        )
    ]
    # one label off in another series is a yoy_mismatch, not a shift
    rows += [
        spend("o1", "other", "2020", "100"),
        spend("o2", "other", "2021", "110", reported_yoy="0.2"),
    ]
    insert(tmp_settings, "spend_disclosures", rows)
    refresh(tmp_settings)
    # growth 10% a year: labels 2020-2023 fit their own year too, so nothing is shifted
    assert findings(tmp_settings, "yoy_shifted") == []
    assert [f[:2] for f in findings(tmp_settings, "yoy_mismatch")] == [
        ("other", "2021"),
        ("seg", "2024"),
    ]


def test_shifted_labels_and_copied_figures(tmp_settings: Settings) -> None:
    rows = [
        spend(f"s{y}", "seg", str(y), a, reported_yoy=g, status="forecast")
        for y, a, g in zip(
            range(2020, 2025),
            ["100", "110", "132", "171.6", "240.24"],
            ["0.1", "0.2", "0.3", "0.4", "0.9"],
            strict=True,
        )
    ]
    # one document, one period: the same 34.6 for two segments; 100 for two is round
    rows += [
        spend("c1", "a", "2018", "34.6", source_document="D"),
        spend("c2", "b", "2018", "34.6", source_document="D"),
        spend("c3", "c", "2018", "34.6", source_document="E"),
        spend("r1", "a", "2019", "100", source_document="D"),
        spend("r2", "b", "2019", "100", source_document="D"),
        # two institutions of one league table coincide by chance
        spend("i1", "bank1", "2018", "34.6", source_document="D", level="institution"),
        spend("i2", "bank2", "2018", "34.6", source_document="D", level="institution"),
    ]
    insert(tmp_settings, "spend_disclosures", rows)
    refresh(tmp_settings)
    # labels 2020-2023 are the growth of 2021-2024; 2024's label matches nothing
    assert findings(tmp_settings, "yoy_shifted") == [
        ("seg", "2020", ["s2020", "s2021", "s2022", "s2023", "s2024"])
    ]
    assert [f[:2] for f in findings(tmp_settings, "yoy_mismatch")] == [("seg", "2024")]
    assert findings(tmp_settings, "copied_figure") == [("a", "2018", ["c1", "c2"])]


def test_synthetic_and_constructed_data_are_marked_through_to_the_marts(
    tmp_settings: Settings,
) -> None:
    insert(
        tmp_settings,
        "spend_disclosures",
        [
            spend("r20", "seg", "2020", "100"),
            spend("s21", "seg", "2021", "110", provenance="synthetic"),
            spend("r19", "other", "2019", "50", provenance="reported"),
        ],
    )
    insert_responses(
        tmp_settings,
        [
            response(
                "q1",
                "p1",
                [{"question_id": "genai_attitude", "kind": "single", "options": ["positive"]}],
                provenance="constructed",
            ),
        ],
    )
    refresh(tmp_settings)
    assert query(
        tmp_settings,
        "select event_id, is_synthetic, is_constructed from marts.spend_series order by 1",
    ) == [("r19", False, False), ("r20", False, False), ("s21", True, False)]
    assert query(
        tmp_settings,
        "select entity_id, is_synthetic from marts.spend_growth order by 1",
    ) == [("other", False), ("seg", True)]
    assert query(
        tmp_settings,
        "select distinct is_synthetic, is_constructed from marts.survey_option_shares",
    ) == [(False, True)]
    # every mart but the entity dimension carries the two flags
    marts = query(
        tmp_settings,
        "select table_name from information_schema.tables where table_schema = 'marts' "
        "and table_name not in ('dim_entity') order by 1",
    )
    for (mart,) in marts:
        columns = {
            c
            for (c,) in query(
                tmp_settings,
                f"select column_name from information_schema."
                f"columns where table_schema = 'marts' and table_name = '{mart}'",
            )
        }
        assert {"is_synthetic", "is_constructed"} <= columns, mart


def test_survey_integrity_rules_are_silent_on_the_shipped_surveys(tmp_settings: Settings) -> None:
    """Every printed share of the shipped surveys is a whole number of their printed sample
    (R002's 31.2% and 85.3% of 122 under its own double rounding), and every single-choice
    question adds up: the rules read the definitions, so an empty warehouse checks them."""
    refresh(tmp_settings)
    assert query(
        tmp_settings, "select count(*) from dq.findings where rule_id like 'survey_%'"
    ) == [(0,)]


def _run_check(rule_id: str, questions: str, options: str) -> list[str]:
    """``rule_id``'s SQL over hand-made reference tables (``values`` lists)."""
    import duckdb

    from warehouse.model_files import checks

    (check,) = [c for c in checks() if c.rule_id == rule_id]
    con = duckdb.connect()
    con.execute("create schema reference")
    con.execute(f"create table reference.survey_questions as {questions}")
    con.execute(f"create table reference.survey_options as {options}")
    return [r[0] for r in con.execute(f"select entity_id from ({check.sql}) order by 1").fetchall()]


def test_a_share_no_whole_number_of_the_sample_gives_is_a_finding() -> None:
    """Of 122: 31.2% is 38 (31.1475% → 31.15% → 31.2%, the report's rounding), 31.1% is 38
    plainly, 31.3% is no count; of 10, 30% is 3 and 33% none. A follow-up (no printed base)
    is not checked."""
    fired = _run_check(
        "survey_share_not_integral",
        "select * from (values ('s', 'q', 1, 122::bigint), ('s', 'r', 0, 10::bigint), "
        "('s', 'f', 0, null::bigint)) t(survey_id, question_id, published_decimals, "
        "published_base)",
        "select * from (values ('s', 'q', 'a', 0.312), ('s', 'q', 'b', 0.311), "
        "('s', 'q', 'c', 0.313), ('s', 'r', 'x', 0.3), ('s', 'r', 'y', 0.33), "
        "('s', 'f', 'z', 0.33)) t(survey_id, question_id, option_id, published_share)",
    )
    assert fired == ["s/q/c", "s/r/y"]


def test_survey_shares_that_do_not_add_up_are_a_finding() -> None:
    """On a hand-made definition (the shipped ones add up): 60.0% + 30.0% + 5.0% of a
    single-choice question miss 100% by more than three half-digits; 33.3% × 3 do not."""
    fired = _run_check(
        "survey_shares_sum",
        "select * from (values ('s', 'bad', 'single', 1), ('s', 'thirds', 'single', 1), "
        "('s', 'many', 'multi', 1)) t(survey_id, question_id, kind, published_decimals)",
        "select * from (values ('s', 'bad', 0.6), ('s', 'bad', 0.3), ('s', 'bad', 0.05), "
        "('s', 'thirds', 0.333), ('s', 'thirds', 0.333), ('s', 'thirds', 0.333), "
        "('s', 'many', 0.9), ('s', 'many', 0.8)) t(survey_id, question_id, published_share)",
    )
    assert fired == ["s/bad"]


def test_a_stated_cagr_is_checked_over_its_stated_span(tmp_settings: Settings) -> None:
    """A CAGR stated for 2020→2023 is compared with the levels of 2020 and 2023 at their
    printed precision; the detail names the span whose levels do give it."""
    rows = [
        spend("a20", "seg", "2020", "100.0"),
        spend("a21", "seg", "2021", "110.0"),
        spend("a22", "seg", "2022", "121.0"),
        # 10% a year throughout: no span gives the 12.0% stated for 2020→2023
        spend("a23", "seg", "2023", "133.1", stated_cagr="0.120", stated_cagr_from="2020"),
        spend("b22", "other", "2022", "100.0"),
        spend("b23", "other", "2023", "120.0", stated_cagr="0.200", stated_cagr_from="2022"),
        # a span whose start the series does not have cannot be checked
        spend("c23", "third", "2023", "120", stated_cagr="0.5", stated_cagr_from="2019"),
    ]
    insert(tmp_settings, "spend_disclosures", rows)
    refresh(tmp_settings)
    fired = query(
        tmp_settings,
        "select entity_id, fiscal_period, list_sort(event_ids), detail from dq.findings "
        "where rule_id = 'cagr_mismatch'",
    )
    assert [f[:3] for f in fired] == [("seg", "2023", ["a20", "a23"])]
    assert "stated CAGR 12.00% for 2020→2023 but its levels give 10.00%" in fired[0][3]
    assert "it is the CAGR of" not in fired[0][3]
