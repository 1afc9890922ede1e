"""The finradar report: one static HTML page over the warehouse, fully usable offline.

For analysts: spend by segment and year (actuals solid, forecasts hatched), frontier share,
the six-bank roll-up, capability maturity with its clusters, survey shares. For monitors:
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
from warehouse.report.charts import Bar, grouped_columns, horizontal_bars, stacked_shares
from warehouse.report.quality import findings_table, findings_trend, pass_rate_charts

SEGMENTS = ("cn.segment.banking", "cn.segment.insurance", "cn.segment.securities")
SIX_BANKS = "cn.group.six_state_owned_banks"
STAGES = ("planning", "exploration", "scaled_deployment", "mature", "iteration")

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
        f"""select fiscal_period, replace(entity_id, 'cn.segment.', ''), amount_yi, status
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
        """select s.entity_id || ' ' || s.fiscal_period || case when s.status = 'actual' then ''
                  else ' (' || s.status || ')' end, s.frontier_share
           from marts.spend_frontier_share s
           join marts.dim_entity e using (entity_id)
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
        f"""select coalesce(e.name_en, s.entity_id), s.amount_yi, s.scope
            from marts.spend_series s
            join reference.group_members m on m.member_id = s.entity_id
            left join marts.dim_entity e on e.entity_id = s.entity_id
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


def maturity_section(con: duckdb.DuckDBPyConnection) -> str:
    rows = _rows(
        con,
        """select m.panel, m.institution_type, m.capability, m.cluster, m.skewness,
                  list(d.share order by d.stage_ordinal)
           from marts.capability_maturity m
           join marts.maturity_distribution d using (panel, institution_type, capability)
           where m.cluster is not null
           group by all order by m.panel, m.institution_type, m.skewness""",
    )
    chart = stacked_shares(
        "maturity",
        "Capability maturity: institutions by lifecycle stage, per panel",
        [
            (f"{panel} · {t} · {c} · {cluster} (g1 {skew:+.2f})", shares)
            for panel, t, c, cluster, skew, shares in rows
        ],
        STAGES,
        note="leaders: g1 < −0.3; explorers: g1 > 0.3; tackling otherwise",
    )
    return f"<section><h2>Capability maturity</h2>{chart}</section>"


def survey_section(con: duckdb.DuckDBPyConnection) -> str:
    rows = _rows(
        con,
        """select question_id, option_id, share from marts.survey_option_shares
           where question_id in ('tech_domains_of_concern', 'genai_attitude')
           order by question_id, share desc""",
    )
    charts = "".join(
        horizontal_bars(
            f"survey-{q}",
            f"Survey: {q} (share of respondents)",
            [Bar(o, s) for qq, o, s in rows if qq == q],
            as_percent=True,
        )
        for q in dict.fromkeys(q for q, _, _ in rows)
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
        f"{quarantine}{findings_chart}{findings_trend(con)}{findings_table(con)}</section>"
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
    body = "".join(
        [
            spend_section(con),
            maturity_section(con),
            survey_section(con),
            alerts_section(con, now),
            monitor_section(con, inputs, now),
        ]
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>finradar report</title>"
        f"<style>{STYLE}</style></head><body><header><h1>finradar report</h1>"
        f"<div>generated {now:%Y-%m-%d %H:%M:%S} UTC{docs}</div></header>"
        f"<main>{body}</main></body></html>\n"
    )


def write_report(con: duckdb.DuckDBPyConnection, path: Path, inputs: ReportInputs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(con, inputs), encoding="utf-8")
    return path
