"""Findings over time: ``dq.findings_history`` across refreshes, its trend, and the report's
findings table led by errors."""

from __future__ import annotations

import re
from datetime import date

import pytest

from finradar.settings import Settings
from tests.unit.warehouse_inputs import insert, open_lake, query, spend
from warehouse import findings_history
from warehouse.lake import connect
from warehouse.refresh import refresh
from warehouse.report.build import ReportInputs, render

RESTATED = 26  # informational findings: more than the report's table shows


# opened by one statement, or in parts of 4 findings (as a large warehouse's are, by hash)
@pytest.mark.parametrize("opened_per_statement", [findings_history.OPENED_PER_STATEMENT, 4])
def test_a_finding_opens_resolves_and_reopens_and_the_report_leads_with_errors(
    tmp_settings: Settings, monkeypatch: pytest.MonkeyPatch, opened_per_statement: int
) -> None:
    monkeypatch.setattr(findings_history, "OPENED_PER_STATEMENT", opened_per_statement)
    # the restated figures (info) share their latest value: one copied_figure (warning)
    restated = [
        row
        for i in range(RESTATED)
        for row in (
            spend(f"r{i}a", f"rest{i:02}", "2020", "50.1", vintage=date(2021, 3, 1)),
            spend(f"r{i}b", f"rest{i:02}", "2020", "52.3", vintage=date(2022, 3, 1)),
        )
    ]
    # 130 / 100 - 1 = 30 %, printed 10 %: a yoy_mismatch error
    growth = [spend("a", "e", "2022", "100"), spend("b", "e", "2023", "130", reported_yoy="0.1")]
    insert(tmp_settings, "spend_disclosures", restated + growth)
    first = refresh(tmp_settings).refresh_id
    # a later vintage of b that fits its printed growth: the error is resolved (b is restated)
    fixed = spend("b2", "e", "2023", "110", reported_yoy="0.1", vintage=date(2026, 1, 1))
    insert(tmp_settings, "spend_disclosures", [fixed])
    second = refresh(tmp_settings).refresh_id
    # raw.* only grows on the platform: removing b2 stands for what brings a resolved finding
    # back there (a check or the reference data changed)
    con = open_lake(tmp_settings)
    try:
        con.execute("delete from raw.spend_disclosures where event_id = 'b2'")
    finally:
        con.close()
    third = refresh(tmp_settings).refresh_id

    history = query(
        tmp_settings,
        """select rule_id, entity_id, episode, first_seen_refresh_id, last_seen_refresh_id,
                  resolved_refresh_id, resolved_at is null
           from dq.findings_history where entity_id = 'e' order by first_seen_at, rule_id""",
    )
    assert history == [
        ("yoy_mismatch", "e", 1, first, first, second, False),
        ("restated", "e", 1, second, second, third, False),
        ("yoy_mismatch", "e", 2, third, third, None, True),
    ]
    # the other restated figures stay open from the first refresh on, seen by each
    others = query(
        tmp_settings,
        f"""select count(*) from dq.findings_history where rule_id = 'restated'
            and entity_id <> 'e' and episode = 1 and first_seen_refresh_id = '{first}'
            and last_seen_refresh_id = '{third}' and resolved_at is null""",
    )
    assert others == [(RESTATED,)]
    trend = query(
        tmp_settings,
        """select refresh_id, severity, open_findings, new_findings from dq.findings_by_refresh
           order by refreshed_at, severity""",
    )
    assert trend == [
        (first, "error", 1, 1),
        (first, "info", RESTATED, RESTATED),
        (first, "warning", 1, 1),
        (second, "info", RESTATED + 1, 1),
        (second, "warning", 1, 0),
        (third, "error", 1, 1),
        (third, "info", RESTATED, 0),
        (third, "warning", 1, 0),
    ]

    con = connect(tmp_settings, read_only=True)
    try:
        html = render(con, ReportInputs(lag=[]))
    finally:
        con.close()
    assert f"Findings (1 error, 1 warning, {RESTATED} info; the first 25 of {RESTATED + 2}" in html
    table = re.search(r'<table class="findings">.*?</table>', html, re.S).group(0)
    rows = re.findall(r'<tr class="finding (\w+)"[^>]*>(.*?)</tr>', table, re.S)
    assert [severity for severity, _ in rows] == ["error", "warning"] + ["info"] * 23
    cells = re.findall(r"<td>(.*?)</td>", rows[0][1])
    assert cells[:4] == ["error", "yoy_mismatch", "e", "2023"]
    assert "reported growth 10.00% but 2022 → 2023 gives 30.00%" in cells[4]
    assert cells[5] == "a, b"
    trend_chart = re.search(r'data-chart="findings-by-severity".*?</figure>', html, re.S).group(0)
    assert trend_chart.count('class="mark"') == 3 * 3  # three refreshes × three severities
    assert ">error: 1 (max 1)<" in trend_chart
    assert f">info: {RESTATED} (max {RESTATED + 1})<" in trend_chart
