"""The reconciliation rules on observations (contract v1.2) and on headcounts, on hand-made
rows: each fires on the reports' kind of error and stays silent on the figures the fact sheets
call correct (their numbers are used here as cases, not read from the corpus)."""

from __future__ import annotations

from finradar.settings import Settings
from tests.unit.warehouse_inputs import insert, observation, query, spend
from warehouse.refresh import refresh


def found(settings: Settings, rule: str) -> list[tuple]:
    """``(sorted event ids, detail)`` of each finding of ``rule``."""
    return query(
        settings,
        f"select list_sort(event_ids), detail from dq.findings where rule_id = '{rule}' "
        "order by all",
    )


def ids(settings: Settings, rule: str) -> list[list[str]]:
    return [row[0] for row in found(settings, rule)]


def test_text_vs_chart_reads_each_figure_at_its_printed_precision(tmp_settings: Settings) -> None:
    share = {"metric": "share", "unit": "%", "entity_id": "fi"}
    rows = [
        # 约25 is [24.5, 25.5); the chart's 23.6 is not in it
        observation("cloud-chart", measure="cloud", value="23.6", presentation="chart", **share),
        observation(
            "cloud-text", measure="cloud", value="25", bound="approx", presentation="text", **share
        ),
        # 65.5 and 65.6 meet only at 65.55, which belongs to 65.6
        observation("bc-chart", measure="bc", value="65.6", presentation="chart", **share),
        observation(
            "bc-text", measure="bc", value="65.5", bound="approx", presentation="text", **share
        ),
        # silent: 约25 holds 24.6; ">90" holds 90.16; another document; another unit
        observation("ok-chart", measure="ok", value="24.6", presentation="chart", **share),
        observation(
            "ok-text", measure="ok", value="25", bound="approx", presentation="text", **share
        ),
        observation("gt-chart", measure="gt", value="90.16", presentation="chart", **share),
        observation("gt-text", measure="gt", value="90", bound="gt", presentation="text", **share),
        observation("doc-a", measure="doc", value="10", presentation="chart", **share),
        observation(
            "doc-b",
            measure="doc",
            value="20",
            presentation="text",
            source_document="other",
            **share,
        ),
        observation(
            "six-tenths",
            measure="unit",
            value="6",
            unit="成",
            presentation="text",
            metric="share",
            entity_id="fi",
        ),
        observation("pct", measure="unit", value="65.6", presentation="chart", **share),
    ]
    insert(tmp_settings, "observations", rows)
    refresh(tmp_settings)
    assert ids(tmp_settings, "text_vs_chart") == [
        ["bc-chart", "bc-text"],
        ["cloud-chart", "cloud-text"],
    ]
    detail = found(tmp_settings, "text_vs_chart")[1][1]
    assert "the chart prints 23.6 % and the text 约25 %" in detail
    # 成 and % are one kind of unit: no currency, no unit_conflict
    assert ids(tmp_settings, "unit_conflict") == []


def test_one_figure_in_two_currencies_and_two_cited_sources(tmp_settings: Settings) -> None:
    rows = [
        observation("cloud-usd", "cloud", "financial cloud", "33.4", unit="亿美元", currency="USD"),
        observation("cloud-cny", "cloud", "financial cloud", "33.4", unit="亿元", currency="CNY"),
        observation(
            "chips-idc", "chips", "AI chips", "75", cited_source="IDC", presentation="text"
        ),
        observation(
            "chips-gartner", "chips", "AI chips", "75", cited_source="Gartner", presentation="chart"
        ),
        observation("nlp-a", "nlp", "NLP", "102", cited_source="MarketsandMarkets"),
        observation("nlp-b", "nlp", "NLP", "102", cited_source="MarketsandMarkets"),
    ]
    insert(tmp_settings, "observations", rows)
    refresh(tmp_settings)
    conflicts = query(
        tmp_settings,
        "select severity, list_sort(event_ids) from dq.findings where rule_id = 'unit_conflict'",
    )
    assert conflicts == [("error", ["cloud-cny", "cloud-usd"])]
    assert ids(tmp_settings, "cited_source_conflict") == [["chips-gartner", "chips-idc"]]


def test_parts_of_a_whole_are_added_within_their_rounding(tmp_settings: Settings) -> None:
    def whole_and_parts(prefix: str, whole: str, parts: list[str], unit: str = "亿元") -> list:
        rows = [observation(f"{prefix}-whole", prefix, f"{prefix} total", whole, unit=unit)]
        rows += [
            observation(
                f"{prefix}-part{i}",
                prefix,
                f"{prefix} part {i}",
                value,
                unit=unit,
                part_of=f"{prefix} total",
            )
            for i, value in enumerate(parts)
        ]
        return rows

    rows = [
        *whole_and_parts("stations", "50", ["25", "25", "25"], unit="万个"),  # counted twice
        *whole_and_parts("cloud", "1334.5", ["689.3", "645.2"]),  # exact
        *whole_and_parts("fincloud", "33.4", ["23.5", "9.8"]),  # short by rounding
        *whole_and_parts("assets", "318.69", ["290", "8.12", "20.56"], unit="万亿元"),
    ]
    insert(tmp_settings, "observations", rows)
    refresh(tmp_settings)
    assert ids(tmp_settings, "observation_parts_exceed_whole") == [
        ["stations-part0", "stations-part1", "stations-part2", "stations-whole"]
    ]


def test_a_whole_rate_outside_its_parts_range(tmp_settings: Settings) -> None:
    rate = {"metric": "rate", "unit": "%", "fiscal_period": "2022", "status": "forecast"}
    rows = [
        observation(
            "all",
            "fi",
            "replacement",
            "73",
            value_high="80",
            bound="approx",
            presentation="summary",
            **rate,
        ),
        observation("all-2021", "fi", "replacement", "62", **{**rate, "fiscal_period": "2021"}),
    ]
    for line, (y2022, y2021) in {
        "bank": ("71", "65"),
        "insurance": ("69", "63"),
        "securities": ("63", "59"),
        "fund": ("61", "55"),
    }.items():
        rows.append(
            observation(
                f"{line}-2022", "fi", f"replacement {line}", y2022, part_of="replacement", **rate
            )
        )
        rows.append(
            observation(
                f"{line}-2021",
                "fi",
                f"replacement {line}",
                y2021,
                part_of="replacement",
                **{**rate, "fiscal_period": "2021"},
            )
        )
    insert(tmp_settings, "observations", rows)
    refresh(tmp_settings)
    # 2021's 62 lies between 55 and 65: silent
    assert ids(tmp_settings, "rate_outside_its_parts") == [
        ["all", "bank-2022", "fund-2022", "insurance-2022", "securities-2022"]
    ]
    assert (
        "lies outside the range of its 4 sub-groups printed beside it, 61.0 to 71.0"
        in found(tmp_settings, "rate_outside_its_parts")[0][1]
    )


def test_shares_of_a_stated_base_must_be_whole_numbers_of_it(tmp_settings: Settings) -> None:
    def shares(prefix: str, base: int, values: list[str]) -> list:
        return [
            observation(
                f"{prefix}{i}",
                prefix,
                f"{prefix} option {i}",
                value,
                metric="share",
                unit="%",
                base_count=base,
                base_measure="events",
                fiscal_period=None,
            )
            for i, value in enumerate(values)
        ]

    rows = [
        # R001's company types: none is a whole number of 130; all fit 101
        *shares("types", 130, ["34.7", "25.7", "12.9", "11.9", "5.9", "5.9", "3.0"]),
        # R003's NIFA shares of 88 listed institutions: 64, 41, 36, 28
        *shares("nifa", 88, ["73", "47", "41", "32"]),
        # 38 of 122 is 31.1475 %: 31.2 % after rounding to 0.01 % first
        *shares("double", 122, ["31.2"]),
    ]
    insert(tmp_settings, "observations", rows)
    refresh(tmp_settings)
    ((event_ids, detail),) = found(tmp_settings, "share_base_mismatch")
    assert event_ids == [f"types{i}" for i in range(7)]
    assert "7 of 7 printed shares are no whole number of 130" in detail
    assert detail.endswith("every share fits a base of 101")


def test_a_ratio_on_another_entitys_denominator(tmp_settings: Settings) -> None:
    def bank(name: str, amount: str, measure: str) -> dict:
        return spend(f"{name}-spend", name, "2019", amount, measure=measure, level="institution")

    rows_spend = [
        bank("icbc", "163.74", "金融科技投入"),
        bank("ccb", "176.33", "金融科技投入"),
        bank("boc", "116.54", "信息科技投入"),
    ]
    salary = {"metric": "level", "unit": "亿元", "level": "institution", "institution_type": "bank"}
    share = {
        "metric": "share",
        "unit": "%",
        "level": "institution",
        "institution_type": "bank",
        "numerator_measure": "工资支出",
    }
    rows = [
        observation("icbc-salary", "icbc", "工资支出", "104.4", **salary),
        observation(
            "icbc-share", "icbc", "工资占比", "59.21", base_measure="金融科技投入", **share
        ),
        # BOC: 7,016 × 30万 = 21.048亿, 18.06 % of 116.54: right
        observation("boc-salary", "boc", "工资支出", "21.048", **salary),
        observation("boc-share", "boc", "工资占比", "18.06", base_measure="信息科技投入", **share),
    ]
    insert(tmp_settings, "spend_disclosures", rows_spend)
    insert(tmp_settings, "observations", rows)
    refresh(tmp_settings)
    ((event_ids, detail),) = found(tmp_settings, "ratio_denominator")
    assert event_ids == ["ccb-spend", "icbc-salary", "icbc-share", "icbc-spend"]
    assert "104.4 / 163.74 = 63.76%" in detail and "104.4 / 176.33 = 59.21% (ccb's" in detail


def test_stated_cagrs_of_observations_over_their_span(tmp_settings: Settings) -> None:
    def series(prefix: str, start: tuple[str, str], end: tuple[str, str], cagr: str, **kw) -> list:
        return [
            observation(f"{prefix}-{start[0]}", prefix, prefix, start[1], fiscal_period=start[0]),
            observation(f"{prefix}-{end[0]}", prefix, prefix, end[1], fiscal_period=end[0]),
            observation(
                f"{prefix}-cagr",
                prefix,
                prefix,
                cagr,
                metric="cagr",
                unit="%",
                fiscal_period=end[0],
                **kw,
            ),
        ]

    rows = [
        *series("robo", ("2017", "2248.02"), ("2021", "5095.55"), "29.3", span_from="2017"),
        *series("jd", ("2017", "15.46"), ("2019", "62.17"), "100.51", span_from="2017"),
        *series("loans", ("2014", "4.9"), ("2019", "15.7"), "26", span_from="2014"),
        # "more than 55 %": holds from a 2019 base (67.4 %), not from a 2018 one (47.2 %)
        *series("chips19", ("2019", "75"), ("2022", "352"), "55", span_from="2019", bound="gt"),
        *series("chips18", ("2018", "75"), ("2022", "352"), "55", span_from="2018", bound="gt"),
    ]
    insert(tmp_settings, "observations", rows)
    refresh(tmp_settings)
    assert ids(tmp_settings, "cagr_mismatch") == [
        ["chips18-2018", "chips18-2022", "chips18-cagr"],
        ["robo-2017", "robo-2021", "robo-cagr"],
    ]


def test_a_group_total_that_covers_only_the_members_that_reported(tmp_settings: Settings) -> None:
    from contracts.registry import entities

    group = "cn.group.six_state_owned_banks"
    members = sorted(entities()[group]["members"])
    staff = [34800, 10178, 7351, 7016, 3460]
    rows = [
        spend(f"m{i}", m, "2019", "100", level="institution", tech_headcount=n)
        for i, (m, n) in enumerate(zip(members, staff, strict=False))
    ]
    rows.append(spend(f"m{len(staff)}", members[len(staff)], "2019", "100", level="institution"))
    rows.append(spend("group", group, "2019", "600", level="group", tech_headcount=sum(staff)))
    # another year: all six report, the group's total is theirs: silent
    rows += [
        spend(f"y{i}", m, "2020", "100", level="institution", tech_headcount=1000)
        for i, m in enumerate(members)
    ]
    rows.append(spend("group-2020", group, "2020", "600", level="group", tech_headcount=6000))
    insert(tmp_settings, "spend_disclosures", rows)
    refresh(tmp_settings)
    ((event_ids, detail),) = found(tmp_settings, "group_total_covers_fewer_members")
    assert event_ids == sorted(["group", "m0", "m1", "m2", "m3", "m4"])
    assert (
        f"the group's 62805 is the sum of 5 of its 6 members; {members[5]} has no figure" in detail
    )


def test_spend_per_technology_staff_far_from_the_peers(tmp_settings: Settings) -> None:
    banks = {
        "icbc": ("163.74", 34800),
        "ccb": ("176.33", 10178),
        "abc": ("127.9", 7351),
        "boc": ("116.54", 7016),
        "bocom": ("50.45", 3460),
    }
    rows = [
        spend(name, name, "2019", amount, level="institution", tech_headcount=staff)
        for name, (amount, staff) in banks.items()
    ]
    insert(tmp_settings, "spend_disclosures", rows)
    refresh(tmp_settings)
    ((event_ids, detail),) = found(tmp_settings, "spend_per_staff_outlier")
    assert event_ids == sorted(banks)
    assert detail.startswith("icbc 2019: 47.1 万 CNY of technology spend per technology staff")


def test_printed_growth_of_observations_against_their_levels(tmp_settings: Settings) -> None:
    levels = {"2017": "397.5", "2018": "642.9", "2019": "1080.1", "2020": "1884.7"}
    rows = [
        observation(f"robo-{year}", "robo", "robo", value, fiscal_period=year)
        for year, value in levels.items()
    ]
    # the text's copy of a level: either printing may give the label
    rows.append(observation("robo-2018-text", "robo", "robo", "642.90", fiscal_period="2018"))
    growth = {"metric": "growth", "unit": "%"}
    rows += [
        # R001's labels: 61.7, 68.0 and 74.5 % are the plain YoY of the levels
        observation("robo-g2018", "robo", "robo", "61.7", fiscal_period="2018", **growth),
        observation("robo-g2019", "robo", "robo", "68.0", fiscal_period="2019", **growth),
        observation("robo-g2020", "robo", "robo", "74.5", fiscal_period="2020", **growth),
        # NPL balance +357 % from 2011Q4 (4,279) to 2018Q2 (19,571)
        observation("npl-2011Q4", "npl", "npl", "4279", fiscal_period="2011Q4"),
        observation("npl-2018Q2", "npl", "npl", "19571", fiscal_period="2018Q2"),
        observation(
            "npl-g", "npl", "npl", "357", fiscal_period="2018Q2", span_from="2011Q4", **growth
        ),
        # a label the levels cannot give
        observation("cloud-2018", "cloud", "cloud", "962.8", fiscal_period="2018"),
        observation("cloud-2019", "cloud", "cloud", "1334.5", fiscal_period="2019"),
        observation("cloud-g", "cloud", "cloud", "40.1", fiscal_period="2019", **growth),
    ]
    insert(tmp_settings, "observations", rows)
    refresh(tmp_settings)
    assert ids(tmp_settings, "yoy_mismatch") == [["cloud-2018", "cloud-2019", "cloud-g"]]


def test_a_figure_printed_twice_or_restated_counts_once(tmp_settings: Settings) -> None:
    """A part, a whole or a level printed in a chart and again in the text, or restated in a
    later vintage, is one figure to the rules that add, average or pair figures; a printed
    range is read to its upper end."""
    rows = [
        # parts 60 (chart and text) + 30 of a whole 100: not 150
        observation("w", "m", "whole", "100"),
        observation("a-chart", "m", "a", "60", part_of="whole", presentation="chart"),
        observation("a-text", "m", "a", "60", part_of="whole", presentation="text"),
        observation("b", "m", "b", "30", part_of="whole"),
        # parts 40 + 38 of a whole printed as 73～80: within it
        observation("range-w", "r", "whole", "73", value_high="80"),
        observation("range-a", "r", "a", "40", part_of="whole"),
        observation("range-b", "r", "b", "38", part_of="whole"),
        # a whole rate of 50 % beside one sub-group printed twice: no range of sub-groups
        observation("rate-w", "q", "rate", "50", metric="rate", unit="%"),
        observation(
            "rate-a1",
            "q",
            "rate a",
            "60",
            metric="rate",
            unit="%",
            part_of="rate",
            presentation="chart",
        ),
        observation(
            "rate-a2",
            "q",
            "rate a",
            "60",
            metric="rate",
            unit="%",
            part_of="rate",
            presentation="text",
        ),
        # a CAGR stated as a range, 10～20 %, over levels giving 14.8 %
        observation("c-2019", "c", "c", "100", fiscal_period="2019"),
        observation("c-2022", "c", "c", "151.3", fiscal_period="2022"),
        observation(
            "c-cagr",
            "c",
            "c",
            "10",
            value_high="20",
            metric="cagr",
            unit="%",
            fiscal_period="2022",
            span_from="2019",
        ),
        # a CAGR whose end level is printed twice, once wrongly: the right printing clears it
        observation("d-2019", "d", "d", "100", fiscal_period="2019"),
        observation("d-2023", "d", "d", "146.4", fiscal_period="2023", presentation="chart"),
        observation("d-2023t", "d", "d", "200", fiscal_period="2023", presentation="text"),
        observation(
            "d-cagr",
            "d",
            "d",
            "10",
            metric="cagr",
            unit="%",
            fiscal_period="2023",
            span_from="2019",
        ),
    ]
    insert(tmp_settings, "observations", rows)
    refresh(tmp_settings)
    assert ids(tmp_settings, "observation_parts_exceed_whole") == []
    assert ids(tmp_settings, "rate_outside_its_parts") == []
    assert ids(tmp_settings, "cagr_mismatch") == []
    # the end level's two printings disagree: that is text_vs_chart's finding
    assert ids(tmp_settings, "text_vs_chart") == [["d-2023", "d-2023t"]]


def test_restated_spend_and_headcounts_count_at_their_latest_vintage(
    tmp_settings: Settings,
) -> None:
    from datetime import date

    from contracts.registry import entities

    group = "cn.group.six_state_owned_banks"
    members = sorted(entities()[group]["members"])
    institution = {"level": "institution"}
    rows = [
        # a ratio on a denominator restated from 150 to 163.74: 104.4 / 163.74 = 63.76 %
        spend(
            "old", "icbc", "2019", "150", measure="投入", vintage=date(2020, 3, 1), **institution
        ),
        spend(
            "new", "icbc", "2019", "163.74", measure="投入", vintage=date(2020, 9, 1), **institution
        ),
        # a group headcount 300 whose members 100 (restated, same) and 200 leave four silent
        spend("g", group, "2019", "600", level="group", tech_headcount=300),
        spend(
            "m0",
            members[0],
            "2019",
            "100",
            vintage=date(2020, 3, 1),
            tech_headcount=100,
            **institution,
        ),
        spend(
            "m0b",
            members[0],
            "2019",
            "100",
            vintage=date(2020, 9, 1),
            tech_headcount=100,
            **institution,
        ),
        spend("m1", members[1], "2019", "100", tech_headcount=200, **institution),
    ]
    insert(tmp_settings, "spend_disclosures", rows)
    ratio = {"metric": "share", "unit": "%", "level": "institution", "institution_type": "bank"}
    insert(
        tmp_settings,
        "observations",
        [
            observation(
                "num", "icbc", "工资", "104.4", level="institution", institution_type="bank"
            ),
            observation(
                "share",
                "icbc",
                "工资占比",
                "63.76",
                numerator_measure="工资",
                base_measure="投入",
                **ratio,
            ),
        ],
    )
    refresh(tmp_settings)
    assert ids(tmp_settings, "ratio_denominator") == []
    ((event_ids, detail),) = found(tmp_settings, "group_total_covers_fewer_members")
    assert event_ids == sorted(["g", "m0b", "m1"])
    assert "the sum of 2 of its 6 members" in detail


def test_spend_per_staff_counts_an_institution_once(tmp_settings: Settings) -> None:
    def bank(event_id: str, name: str, amount: str, staff: int, scope: str = "it") -> dict:
        return spend(
            event_id, name, "2019", amount, scope=scope, level="institution", tech_headcount=staff
        )

    rows = [
        bank("a", "a", "100", 1000),
        bank("b", "b", "100", 1000),
        bank("c-it", "c", "100", 1000),
        bank("c-tech", "c", "100", 1000, scope="tech"),
        bank("d", "d", "20", 1000),  # a fifth of its three peers' spend per staff
    ]
    insert(tmp_settings, "spend_disclosures", rows)
    refresh(tmp_settings)
    # d has three peers (c's two scopes are one institution, not a fourth peer); a, b and c
    # sit at the median of theirs
    ((event_ids, detail),) = found(tmp_settings, "spend_per_staff_outlier")
    assert event_ids == ["a", "b", "c-it", "d"]
    assert "for its 3 peers" in detail
