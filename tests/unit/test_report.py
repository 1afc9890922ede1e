"""The report page and its charts, without a browser (the rendering test is integration)."""

from __future__ import annotations

import re
from datetime import date
from itertools import pairwise

from finradar.settings import Settings
from tests.unit.warehouse_inputs import insert, milestone, spend
from warehouse.lake import connect
from warehouse.refresh import refresh
from warehouse.report.build import ReportInputs, render
from warehouse.report.charts import Bar, grouped_columns, horizontal_bars, line_chart
from warehouse.report.heatmap import Cell, colour, heatmap
from warehouse.report.names import with_names


def _refreshed_page(settings: Settings, lag: list | None) -> str:
    """The report of ``settings``' warehouse right after a refresh."""
    refresh(settings)
    con = connect(settings, read_only=True)
    try:
        return render(con, ReportInputs(lag=lag))
    finally:
        con.close()


def test_forecast_bars_are_hatched_and_actuals_solid() -> None:
    svg = grouped_columns(
        "c", "t", [Bar("2023", 10, "bank"), Bar("2024", 12, "bank", hatched=True)]
    )
    marks = re.findall(r'<rect class="mark"[^>]*fill="([^"]+)"', svg)
    assert marks[0].startswith("#") and marks[1].startswith("url(#hatch")
    assert "forecast / estimate (hatched)" in svg


def test_bar_lengths_are_proportional() -> None:
    svg = horizontal_bars("c", "t", [Bar("a", 0.5), Bar("b", 0.25)], as_percent=True)
    widths = [float(w) for w in re.findall(r'class="mark"[^>]*width="([\d.]+)"', svg)]
    assert abs(widths[0] - 2 * widths[1]) < 0.2
    assert "50.0%" in svg and "25.0%" in svg


def test_a_trend_names_its_newest_point_and_its_labels_do_not_overlap() -> None:
    labels = [f"20261201T1200{i:02}-abcdef{i:02}" for i in range(20)]
    svg = line_chart("t", "t", [Bar(b, i / 100) for i, b in enumerate(labels)], as_percent=True)
    assert svg.count('class="mark"') == 20 and "<title>20261201T120019-abcdef19: 19.0%" in svg
    named = re.findall(r'<text class="axis" x="([\d.]+)" y="256" text-anchor="(\w+)">([^<]+)<', svg)
    assert named[-1][1:] == ("end", labels[-1]) and 2 <= len(named) < 20
    xs = [float(x) for x, _, _ in named]
    assert min(b - a for a, b in pairwise(xs)) >= 1.5 * 6.5 * len(labels[0])


def test_an_empty_warehouse_gives_a_page_that_says_so(tmp_settings: Settings) -> None:
    html = _refreshed_page(tmp_settings, lag=None)
    assert "No data yet." in html and "Kafka was not reachable" in html
    assert "no events yet" in html


def test_the_page_shows_the_six_bank_rollup(tmp_settings: Settings) -> None:
    from contracts.registry import entities

    group = "cn.group.six_state_owned_banks"
    members = entities()[group]["members"]
    insert(
        tmp_settings,
        "spend_disclosures",
        [
            spend(f"m{i}", m, "2019", "100", scope="it" if i else "fintech", level="institution")
            for i, m in enumerate(members)
        ],
    )
    html = _refreshed_page(tmp_settings, lag=[])
    six = re.search(r'data-chart="six-bank-rollup".*?</figure>', html, re.S).group(0)
    assert six.count('class="mark"') == 6
    assert "members add up to 600.00 亿" in six and "scopes mixed: flagged" in six


def test_follow_and_replay_artifacts_state_their_counts() -> None:
    from flows.artifacts import follow_markdown, replay_markdown
    from pipelines.follow import FollowStatus
    from warehouse.replay import ReplaySummary

    status = FollowStatus(passes=12, consumed=3000, landed=2990, quarantined=10)
    status.last_batch_id = "b-1"
    text = follow_markdown(status)
    assert "| 12 | 3,000 | 2,990 | 0 | 10 |" in text and "`b-1`" in text
    replay = ReplaySummary(
        "replay-1",
        ["unknown_survey"],
        rechecked=7,
        landed=5,
        still_quarantined=2,
        still_by_reason={"unknown_question": 2},
    )
    text = replay_markdown(replay)
    assert "`unknown_survey`" in text and "| 7 | 5 | 0 | 2 |" in text
    assert "still `unknown_question`: 2" in text


def test_the_heatmap_colours_cells_by_value_and_has_a_legend() -> None:
    cells = [
        Cell("panel", "Risk control", "Bank", "bank", 1.0),
        Cell("panel", "Risk control", "Insurance", "insurance", 5.0),
        Cell("panel", "Claims", "Insurance", "insurance", 3.0, " (median 3)"),
    ]
    svg = heatmap("h", "t", cells, [(1.0, "Planning"), (3.0, "Scaled"), (5.0, "Iteration")])
    fills = re.findall(r'<rect class="mark"[^>]*fill="([^"]+)"', svg)
    assert fills == [colour(1, 1, 5), colour(5, 1, 5), colour(3, 1, 5)]
    assert len(set(fills)) == 3
    assert re.findall(r'<g data-column="(\w+)"><rect class="mark"', svg) == [
        "bank",
        "insurance",
        "insurance",
    ]
    legend = re.search(r'<g class="legend">.*?</g>', svg).group(0)
    assert "1 Planning" in legend and "5 Iteration" in legend and legend.count("<rect") == 3
    assert "<title>Claims · Insurance: 3.00 (median 3)</title>" in svg


def test_ids_in_text_become_names() -> None:
    names = {"cn.segment.banking": "Banking", "syn.bank.rural_001": "Synthetic rural bank 001"}
    text = "cn.segment.banking tech total; syn.bank.rural_001 and cn.segment.unknown"
    assert with_names(text, names) == (
        "Banking tech total; Synthetic rural bank 001 and cn.segment.unknown"
    )


def test_the_page_names_entities_and_codes_and_offers_filters(tmp_settings: Settings) -> None:
    syn = "syn.bank.city_commercial_042"
    insert(
        tmp_settings,
        "spend_disclosures",
        [
            # doubled, but labelled +10 %: a finding naming the synthetic bank
            spend("a", syn, "2022", "100", level="institution"),
            spend("b", syn, "2023", "200", level="institution", reported_yoy="0.10"),
            spend("seg", "cn.segment.banking", "2023", "2000"),
        ],
    )
    insert(
        tmp_settings,
        "deployment_milestones",
        [milestone("m", syn, "digital_operations", "mature", date(2024, 5, 1))],
    )
    html = _refreshed_page(tmp_settings, lag=[])
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    assert not re.search(r"\b(cn|syn)\.[a-z]", text), re.findall(r"\S*(?:cn|syn)\.\S*", text)
    assert "digital_operations" not in text and "Digital operations" in text
    assert "Synthetic city commercial bank 042" in text and "Banking" in text
    heat = re.search(r'data-chart="maturity-heatmap".*?</figure>', html, re.S).group(0)
    assert heat.count('class="mark"') == 1 and '<g class="legend">' in heat
    assert 'data-type="bank"' in html  # the finding's row, for the institution-type filter
    assert '<select id="filter-type">' in html and '<option value="bank">Bank</option>' in html
    assert 'id="filter-text"' in html and "addEventListener('input'" in html
    assert "<script src" not in html


def test_the_page_shows_every_workers_gx_outcomes_from_the_warehouse(
    tmp_settings: Settings,
) -> None:
    # two batches validated by two workers (on two hosts, each with Data Docs of its own)
    insert(tmp_settings, "spend_disclosures", [spend("a1", "cn.segment.banking", "2020", "10")])
    con = connect(tmp_settings)
    try:
        con.execute(
            "insert into dq.validation_runs (batch_id, contract, rows_checked, rows_failed, "
            "expectations, expectations_failed, success) values "
            "('b-host1', 'spend_disclosure', 100, 2, 10, 1, false), "
            "('b-host2', 'spend_disclosure', 50, 0, 10, 0, true)"
        )
        con.execute(
            "insert into dq.expectation_results values ('b-host1', 'spend_disclosure', "
            "'expect_column_values_to_be_between', 'amount', 'out_of_range', false, 2)"
        )
    finally:
        con.close()
    html = _refreshed_page(tmp_settings, lag=[])
    suites = html.split("Great Expectations suites", 1)[1].split("<h3>", 1)[0]
    assert "<td>spend_disclosure</td><td>2</td><td>150</td><td>2</td>" in suites
    assert "<td>expect_column_values_to_be_between</td><td>amount</td>" in suites
    assert "<td>out_of_range</td><td>2</td><td>1</td>" in suites
