"""The finradar report: one static HTML page over the warehouse, fully usable offline.

For analysts: spend by segment and year (actuals solid, forecasts hatched), frontier share,
the six-bank roll-up, capability maturity as a capability × institution-type heatmap
(``warehouse/report/heatmap.py``), survey shares; entities, capabilities, stages, scopes and
options by name, never by id or code (``warehouse/report/names.py``). A filter bar (inline
script, ``warehouse/report/filters.py``) narrows the findings and the heatmap. For monitors:
the current state of every alert rule (``warehouse/report/alerts.py``), pass and quarantine
rates per batch counting every rejection, quarantine by reason, reconciliation findings (by
rule, by severity per refresh, and the findings most severe first:
``warehouse/report/quality.py``) and freshness (age of the newest event, consumer lag per
partition). Charts are inline SVG (``warehouse/report/charts.py``); the page fetches
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import duckdb

from handoff.records import PartitionRange
from warehouse.report.alerts import alerts_section
from warehouse.report.charts import Bar, grouped_columns, horizontal_bars
from warehouse.report.filters import SCRIPT as FILTER_SCRIPT
from warehouse.report.filters import STYLE as FILTER_STYLE
from warehouse.report.filters import filter_bar
from warehouse.report.heatmap import Cell, heatmap
from warehouse.report.names import panel_name
from warehouse.report.quality import (
    findings_table,
    findings_trend,
    pass_rate_charts,
    suite_outcomes,
)

SEGMENTS = ("cn.segment.banking", "cn.segment.insurance", "cn.segment.securities")
SIX_BANKS = "cn.group.six_state_owned_banks"
# the 2025 report's clusters (marts.capability_maturity.cluster), in words
CLUSTERS = {
    "leaders": "leaders 先行派",
    "explorers": "explorers 探索派",
    "tackling": "tackling 攻坚派",
}

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2733;
background:#f6f7f9}
header{background:#1d3557;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
header a{color:#fff}
main{max-width:1180px;margin:0 auto;padding:12px 32px 48px}
section{background:#fff;border:1px solid #dde2e8;border-radius:6px;margin:18px 0;padding:12px 20px}
h2{font-size:18px;margin:6px 0 10px}figure{margin:12px 0 18px}
figcaption{font-weight:600;margin-bottom:6px}.note{font-weight:400;color:#5b6775;margin-left:8px}
svg text{font-size:11px;fill:#334}svg .grid{stroke:#e3e7ec}
table{border-collapse:collapse;font-size:13px;margin:6px 0 12px}
th,td{border-bottom:1px solid #e3e7ec;padding:3px 10px;text-align:left}td.n{text-align:right}
.kpis{display:flex;gap:16px;flex-wrap:wrap}.kpi{background:#eef3f9;border-radius:6px;
padding:8px 14px}.kpi b{display:block;font-size:20px}
"""


@dataclass(frozen=True)
class ReportInputs:
    """What the report needs beyond the warehouse: the broker's view, if reachable."""

    lag: Sequence[PartitionRange] | None = None  # None: Kafka not reachable when built
    generated_at: datetime | None = None
    data_docs: str | None = None  # link to the GX Data Docs, relative to the report


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{v:,}</td>' if isinstance(v, int) else f"<td>{escape(str(v))}</td>"
            for v in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def spend_section(con: duckdb.DuckDBPyConnection) -> str:
    segments = ", ".join(f"'{s}'" for s in SEGMENTS)
    series = _rows(
        con,
        f"""select fiscal_period, coalesce(entity_name_en, entity_id), amount_yi, status
            from marts.spend_series
            where entity_id in ({segments}) and spend_class = 'total' and technology is null
              and period_kind = 'year' and currency = 'CNY'
            order by fiscal_period, entity_id""",
    )
    spend = grouped_columns(
        "spend-by-segment",
        "Technology spend by segment and year (亿元)",
        [Bar(p, v, s, hatched=st != "actual") for p, s, v, st in series],
        unit="亿元",
        note="actuals solid, forecasts hatched",
    )
    shares = _rows(
        con,
        """select coalesce(s.entity_name_en, s.entity_id) || ' ' || s.fiscal_period
                  || case when s.status = 'actual' then '' else ' (' || lower(st.label_en) || ')'
                  end, s.frontier_share
           from marts.spend_frontier_share s
           join marts.dim_entity e using (entity_id)
           left join reference.taxonomy_terms st on st.taxonomy = 'status' and st.code = s.status
           where e.level <> 'institution'
           order by s.frontier_share desc limit 20""",
    )
    frontier = horizontal_bars(
        "frontier-share",
        "Frontier-technology share of total spend (industries, segments, groups)",
        [Bar(label, share) for label, share in shares],
        as_percent=True,
    )
    members = _rows(
        con,
        f"""select coalesce(e.name_en, s.entity_id), s.amount_yi, coalesce(sc.label_en, s.scope)
            from marts.spend_series s
            join reference.group_members m on m.member_id = s.entity_id
            left join marts.dim_entity e on e.entity_id = s.entity_id
            left join reference.taxonomy_terms sc on sc.taxonomy = 'scope' and sc.code = s.scope
            where m.group_id = '{SIX_BANKS}' and s.fiscal_period = '2019'
              and s.spend_class = 'total' and s.technology is null and s.currency = 'CNY'
            order by s.amount_yi desc""",
    )
    rollup = _rows(
        con,
        f"""select members_total_yi, group_reported_yi, scopes_mixed
            from marts.spend_group_rollup
            where group_id = '{SIX_BANKS}' and fiscal_period = '2019' and status = 'actual'
              and currency = 'CNY'""",
    )
    note = ""
    if rollup:
        total, stated, mixed = rollup[0]
        note = f"members add up to {total:,.2f} 亿 (group states {stated})"
        note += "; scopes mixed: flagged" if mixed else ""
    six = horizontal_bars(
        "six-bank-rollup",
        "Six large state-owned banks, 2019 (亿元, by disclosed scope)",
        [Bar(f"{name} ({scope})", amount, scope) for name, amount, scope in members],
        note=note,
    )
    return f"<section><h2>Spend</h2>{spend}{frontier}{six}</section>"


def maturity_section(con: duckdb.DuckDBPyConnection) -> tuple[str, list[tuple[str, str]]]:
    """The capability × institution-type heatmap of mean stages, one block per panel, and
    the institution types it shows as (code, name) for the page's filter."""
    rows = _rows(
        con,
        """select m.panel, coalesce(m.capability_label_en, m.capability), m.institution_type,
                  coalesce(t.label_en, m.institution_type), m.mean_stage, m.median_stage,
                  m.institutions, m.cluster
           from marts.capability_maturity m
           left join reference.taxonomy_terms t
             on t.taxonomy = 'institution_type' and t.code = m.institution_type
           left join reference.taxonomy_terms c
             on c.taxonomy = 'capability' and c.code = m.capability
           order by m.panel, t.position, c.position""",
    )
    stages = _rows(
        con,
        """select ordinal, label_en from reference.taxonomy_terms
           where taxonomy = 'stage' and ordinal is not null order by ordinal""",
    )
    cells = [
        Cell(
            panel_name(panel),
            capability,
            type_name,
            type_code,
            mean,
            f" (median {median}, {n:,} institutions"
            + (f", {CLUSTERS.get(cluster, cluster)}" if cluster else "")
            + ")",
        )
        for panel, capability, type_code, type_name, mean, median, n, cluster in rows
    ]
    chart = heatmap(
        "maturity-heatmap",
        "Capability maturity: mean lifecycle stage by capability and institution type",
        cells,
        [(float(o), label) for o, label in stages] or [(1.0, ""), (5.0, "")],
        note="one block per panel (panels are never pooled); hover a cell for its median, "
        "count and cluster",
    )
    types = list(dict.fromkeys((c.column_key, c.column) for c in cells))
    return f"<section><h2>Capability maturity</h2>{chart}</section>", types


def survey_section(con: duckdb.DuckDBPyConnection) -> str:
    rows = _rows(
        con,
        """select question_id, coalesce(question_text_en, question_id),
                  coalesce(option_label_en, option_id), share
           from marts.survey_option_shares
           where question_id in ('tech_domains_of_concern', 'genai_attitude')
           order by question_id, share desc""",
    )
    questions = dict((q, text) for q, text, _, _ in rows)
    charts = "".join(
        horizontal_bars(
            f"survey-{q}",
            f"Survey: {text} (share of respondents)",
            [Bar(o, s) for qq, _, o, s in rows if qq == q],
            as_percent=True,
        )
        for q, text in questions.items()
    )
    return f"<section><h2>Surveys</h2>{charts or '<p>No survey data yet.</p>'}</section>"


def monitor_section(con: duckdb.DuckDBPyConnection, inputs: ReportInputs, now: datetime) -> str:
    pass_rates = pass_rate_charts(con)
    reasons = _rows(
        con,
        "select reason_code, count(*) from quarantine.events group by 1 order by 2 desc",
    )
    quarantine = horizontal_bars(
        "quarantine-reasons",
        "Quarantined messages by reason",
        [Bar(r, n) for r, n in reasons],
    )
    findings = _rows(
        con,
        "select rule_id, severity, count(*) from dq.findings group by 1, 2 order by 3 desc",
    )
    findings_chart = horizontal_bars(
        "findings", "Reconciliation findings by rule", [Bar(r, n) for r, _, n in findings]
    )
    newest = _rows(
        con,
        """select max(t) from (
             select max(kafka_timestamp) as t from raw.spend_disclosures
             union all select max(kafka_timestamp) from raw.deployment_milestones
             union all select max(kafka_timestamp) from raw.survey_responses)""",
    )[0][0]
    age = f"{(now - newest).total_seconds():,.0f} s" if newest else "no events yet"
    if inputs.lag is None:
        lag_html = "<p>Consumer lag: Kafka was not reachable when the report was built.</p>"
        backlog = "n/a"
    else:
        backlog = f"{sum(r.size for r in inputs.lag):,}"
        lag_html = (
            _table(
                ["topic", "partition", "messages behind"],
                [(r.topic, r.partition, r.size) for r in inputs.lag],
            )
            if inputs.lag
            else "<p>Consumer lag: every partition is caught up.</p>"
        )
    kpis = (
        '<div class="kpis">'
        f'<div class="kpi">age of newest event<b>{escape(age)}</b></div>'
        f'<div class="kpi">consumer lag<b>{backlog}</b></div>'
        f'<div class="kpi">quarantined<b>{sum(n for _, n in reasons):,}</b></div>'
        f'<div class="kpi">findings<b>{sum(n for *_, n in findings):,}</b></div></div>'
    )
    return (
        f"<section><h2>Data quality and freshness</h2>{kpis}{lag_html}{pass_rates}"
        f"{quarantine}{suite_outcomes(con)}{findings_chart}{findings_trend(con)}"
        f"{findings_table(con)}</section>"
    )


def render(con: duckdb.DuckDBPyConnection, inputs: ReportInputs | None = None) -> str:
    """The whole page for the warehouse ``con`` is attached to."""
    inputs = inputs or ReportInputs()
    now = inputs.generated_at or datetime.now(UTC)
    docs = (
        f' · <a href="{escape(inputs.data_docs)}">Great Expectations Data Docs</a>'
        if inputs.data_docs
        else ""
    )
    maturity, heatmap_types = maturity_section(con)
    body = "".join(
        [
            filter_bar(_filter_types(con, heatmap_types)),
            spend_section(con),
            maturity,
            survey_section(con),
            alerts_section(con, now),
            monitor_section(con, inputs, now),
        ]
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>finradar report</title>"
        f"<style>{STYLE}{FILTER_STYLE}</style></head><body><header><h1>finradar report</h1>"
        f"<div>generated {now:%Y-%m-%d %H:%M:%S} UTC{docs}</div></header>"
        f"<main>{body}</main>{FILTER_SCRIPT}</body></html>\n"
    )


def _filter_types(
    con: duckdb.DuckDBPyConnection, shown: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The institution types the filter offers as (code, name): those of the heatmap, then
    those of the findings' entities, in the taxonomy's order."""
    found = _rows(
        con,
        """select distinct e.institution_type, t.label_en, t.position
           from dq.findings f
           join marts.dim_entity e on e.entity_id = f.entity_id
           join reference.taxonomy_terms t
             on t.taxonomy = 'institution_type' and t.code = e.institution_type
           order by t.position""",
    )
    return list(dict.fromkeys([*shown, *((code, name) for code, name, _ in found)]))


def write_report(con: duckdb.DuckDBPyConnection, path: Path, inputs: ReportInputs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(con, inputs), encoding="utf-8")
    return path
