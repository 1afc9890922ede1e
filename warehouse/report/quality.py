"""The report's data-quality trends: pass and quarantine rates per batch, findings per refresh,
and the findings themselves, most severe first.

A batch's pass rate counts every rejection (``dq.batch_pass_rate``): the contract check's,
made before Great Expectations, as well as GX's, staging's and the landing's. A duplicate
(a byte-identical repeat of a landed event) passed every check: it counts as passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import duckdb

from warehouse.report.charts import Bar, horizontal_bars, line_chart, small_multiples
from warehouse.report.names import entity_names, with_names

BATCHES = 20  # the newest batches the per-batch charts show
REFRESHES = 30  # the newest refreshes the findings trend shows
FINDINGS_SHOWN = 25
SUITE_FAILURES_SHOWN = 12  # failing expectations listed in the report
SEVERITIES = ("error", "warning", "info")
SEVERITY_COLOURS = ("#b5473a", "#e08a2c", "#2f6db5")


def severity_rank(column: str = "severity") -> str:
    """SQL ranking a severity: error 0, warning 1, info 2 (most severe first)."""
    return f"case {column} when 'error' then 0 when 'warning' then 1 when 'info' then 2 end"


def batch_pass_rates(con: duckdb.DuckDBPyConnection, batches: int = BATCHES) -> list[tuple]:
    """The newest ``batches`` ingest batches that consumed messages, oldest first: batch id,
    consumed, landed, duplicates, quarantined, pass rate, quarantine rate (one row per
    batch, from ``dq.batch_pass_rate``)."""
    return con.execute(
        """
        select * from (
            select batch_id, consumed, landed, duplicates, quarantined, pass_rate,
                   quarantine_rate, finished_at
            from dq.batch_pass_rate
            order by finished_at desc, batch_id desc
            limit ?
        )
        order by finished_at, batch_id
        """,
        [batches],
    ).fetchall()


def pass_rate_charts(con: duckdb.DuckDBPyConnection) -> str:
    """The pass rate of each of the newest batches (bars) and their quarantine rate (trend)."""
    rows = batch_pass_rates(con)
    consumed = sum(r[1] for r in rows)
    landed = sum(r[2] for r in rows)
    duplicates = sum(r[3] for r in rows)
    overall = (
        f"; over these batches {landed:,} of {consumed:,} landed ({duplicates:,} duplicates)"
        if consumed
        else ""
    )
    bars = horizontal_bars(
        "batch-pass-rate",
        "Pass rate per batch (every rejection counted: contract, GX, staging, landing)",
        [Bar(r[0], r[5]) for r in reversed(rows)],
        as_percent=True,
        note="landed ÷ consumed; the rest were quarantined or were duplicates (byte-identical "
        "repeats of landed events)" + overall,
    )
    trend = line_chart(
        "quarantine-rate-trend",
        "Quarantine rate per batch (oldest to newest)",
        [Bar(r[0], r[6]) for r in rows],
        as_percent=True,
        note="quarantined ÷ consumed",
    )
    return bars + trend


def findings_trend(con: duckdb.DuckDBPyConnection, refreshes: int = REFRESHES) -> str:
    """Findings open after each of the newest refreshes, one line per severity
    (``dq.findings_by_refresh``; refresh × severity)."""
    rows = con.execute(
        f"""
        with recent as (
            select refresh_id, started_at from ops.refresh_runs
            order by started_at desc limit ?
        ),
        severities as (select unnest(?::varchar[]) as severity)
        select strftime(r.started_at, '%m-%d %H:%M:%S'), s.severity, coalesce(f.open_findings, 0)
        from recent as r
        cross join severities as s
        left join dq.findings_by_refresh as f using (refresh_id, severity)
        order by r.started_at, r.refresh_id, {severity_rank("s.severity")}
        """,
        [refreshes, list(SEVERITIES)],
    ).fetchall()
    return small_multiples(
        "findings-by-severity",
        "Open findings by severity per refresh (oldest to newest)",
        [Bar(label, n, severity) for label, severity, n in rows],
        palette=SEVERITY_COLOURS,
        note="from dq.findings_history; each severity on its own scale",
    )


def findings_table(con: duckdb.DuckDBPyConnection, shown: int = FINDINGS_SHOWN) -> str:
    """The latest refresh's findings, errors first, then warnings, then information, each
    with its entity's name, its explanation (entity ids replaced by names) and the events it
    names (one row per finding, first ``shown``); each row carries its entity's institution
    type in ``data-type`` for the page's filter."""
    counts = dict(
        con.execute("select severity, count(*) from dq.findings group by severity").fetchall()
    )
    names = entity_names(con)
    found = con.execute(
        f"""
        select f.severity, f.rule_id, coalesce(e.name_en, f.entity_id), f.fiscal_period,
               f.detail, array_to_string(f.event_ids, ', '), e.institution_type
        from dq.findings as f
        left join marts.dim_entity as e on e.entity_id = f.entity_id
        order by {severity_rank("f.severity")}, f.rule_id, f.entity_id, f.fiscal_period,
                 f.finding_key
        limit ?
        """,
        [shown],
    ).fetchall()
    rows = [(*r[:4], with_names(r[4] or "", names), *r[5:]) for r in found]
    total = sum(counts.values())
    if not total:
        return "<h3>Findings</h3><p>None.</p>"
    by_severity = ", ".join(f"{counts.get(s, 0):,} {s}" for s in SEVERITIES)
    heading = (
        f"Findings ({by_severity}; the first {min(shown, total):,} of {total:,}, errors first)"
    )
    return f"<h3>{escape(heading)}</h3>" + _table(
        ["severity", "rule", "entity", "period", "explanation", "events"], rows
    )


def suite_outcomes(con: duckdb.DuckDBPyConnection, shown: int = SUITE_FAILURES_SHOWN) -> str:
    """Great Expectations' outcomes per contract over every ingest batch, from the
    warehouse (``dq.validation_runs``, ``dq.expectation_results``): complete whichever
    worker, on whichever host, validated (each host's Data Docs show its own validations
    only). Grain: one row per contract, then one row per failing expectation (the first
    ``shown``, most unexpected rows first)."""
    runs = con.execute(
        """
        select contract, count(distinct batch_id), sum(rows_checked), sum(rows_failed)
        from dq.validation_runs group by contract order by contract
        """
    ).fetchall()
    if not runs:
        return "<h3>Great Expectations suites</h3><p>No validation yet.</p>"
    failing = con.execute(
        """
        select contract, expectation, coalesce(column_name, ''), reason_code,
               sum(unexpected_count), count(distinct batch_id)
        from dq.expectation_results where not success
        group by all order by 5 desc, 1, 2, 3 limit ?
        """,
        [shown],
    ).fetchall()
    head = "<tr><th>contract</th><th>batches</th><th>rows checked</th><th>rows failed</th></tr>"
    body = "".join(
        f"<tr><td>{escape(c)}</td><td>{b:,}</td><td>{int(n or 0):,}</td>"
        f"<td>{int(f or 0):,}</td></tr>"
        for c, b, n, f in runs
    )
    failed = "".join(
        "<tr>"
        + "".join(f"<td>{escape(str(v))}</td>" for v in row[:4])
        + f"<td>{int(row[4] or 0):,}</td><td>{row[5]:,}</td></tr>"
        for row in failing
    )
    failed_table = (
        '<table class="suites"><tr><th>contract</th><th>expectation</th><th>column</th>'
        f"<th>reason</th><th>unexpected rows</th><th>batches</th></tr>{failed}</table>"
        if failing
        else "<p>No expectation has failed.</p>"
    )
    return (
        "<h3>Great Expectations suites (every worker's validations, from dq.*)</h3>"
        f'<table class="suites">{head}{body}</table>{failed_table}'
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """One ``tr.finding`` per row: its cells but the last, which is its ``data-type``."""
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        f'<tr class="finding {escape(str(row[0]))}" data-type="{escape(str(row[-1] or ""))}">'
        + "".join(f"<td>{escape(str(v if v is not None else ''))}</td>" for v in row[:-1])
        + "</tr>"
        for row in rows
    )
    return f'<table class="findings"><tr>{head}</tr>{body}</table>'
