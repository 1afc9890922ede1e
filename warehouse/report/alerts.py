"""The report's alerts section: the current state of every alert rule × subject.

Red: firing. Amber: resolved within ``RECENT_S`` (it fired lately). Green: ok — resolved
longer ago, or a rule that never fired (one line for the rule). Firing first, then by
when the state last changed, newest first. Entity ids in subjects and details are shown as
the entities' names. Self-contained HTML (inline styles).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html import escape

import duckdb

from warehouse.alerts import RULES
from warehouse.report.names import entity_names, with_names

RECENT_S = 86_400.0
COLOURS = {"firing": "#c0392b", "recent": "#d68910", "ok": "#1e8449"}
LABELS = {"firing": "firing", "recent": "resolved lately", "ok": "ok"}


def alert_states(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """The latest row of each rule × subject in ``dq.alerts``: rule, subject, state, value,
    threshold, detail, changed_at (empty for a warehouse without the table)."""
    try:
        return con.execute(
            """
            select rule, subject, state, value, threshold, detail, changed_at from dq.alerts
            qualify row_number() over (partition by rule, subject
                                       order by changed_at desc, alert_id desc) = 1
            """
        ).fetchall()
    except duckdb.CatalogException:
        return []


def alerts_section(
    con: duckdb.DuckDBPyConnection, now: datetime | None = None, recent_s: float = RECENT_S
) -> str:
    """The ``<section>`` of current alert states, one row per rule × subject (and per rule
    that never fired), as of ``now`` (default: the current time)."""
    now = now or datetime.now(UTC)
    rows = alert_states(con)
    names = _names(con)
    recent = now - timedelta(seconds=recent_s)
    lines = []
    for rule, subject, state, value, threshold, detail, changed_at in rows:
        colour = "firing" if state == "firing" else "recent" if changed_at >= recent else "ok"
        lines.append(
            (
                colour,
                rule,
                with_names(subject, names),
                _value(rule, value, threshold),
                with_names(detail or "", names),
                changed_at,
            )
        )
    fired = {r[0] for r in rows}
    lines += [("ok", rule, "—", "", "never fired", None) for rule in RULES if rule not in fired]
    order = {"firing": 0, "recent": 1, "ok": 2}
    lines.sort(key=lambda r: (order[r[0]], -(r[5].timestamp() if r[5] else 0), r[1], r[2]))
    counts = {k: sum(1 for r in lines if r[0] == k) for k in order}
    summary = ", ".join(f"{counts[k]} {LABELS[k]}" for k in order)
    return (
        '<section id="alerts"><h2>Alerts</h2>'
        f"<p>Current state of each alert rule and subject: {escape(summary)}. "
        f"Amber: resolved in the last {recent_s / 3600:.0f} h. Every change is in "
        "<code>dq.alerts</code>.</p>" + _table(lines) + "</section>"
    )


def _names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Entity names by id, to show in place of the ids alert details mention (none for a
    warehouse without marts yet)."""
    try:
        return entity_names(con)
    except duckdb.CatalogException:
        return {}


def _table(lines: Sequence[tuple]) -> str:
    head = "".join(
        f"<th>{h}</th>" for h in ("state", "rule", "subject", "value", "since", "detail")
    )
    body = "".join(
        f'<tr data-state="{colour}"><td><span style="display:inline-block;width:10px;'
        f'height:10px;border-radius:50%;background:{COLOURS[colour]};margin-right:6px">'
        f"</span>{LABELS[colour]}</td><td>{escape(rule)}</td><td>{escape(subject)}</td>"
        f'<td class="n">{escape(value)}</td>'
        f"<td>{_when(changed_at)}</td>"
        f"<td>{escape(detail or '')}</td></tr>"
        for colour, rule, subject, value, detail, changed_at in lines
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _value(rule: str, value: float | None, threshold: float | None) -> str:
    if value is None:
        return ""
    if rule == "quarantine_rate":
        return f"{value:.1%} (bound {threshold or 0:.1%})"
    if rule == "freshness":
        return f"{value:,.0f} s (SLA {threshold or 0:,.0f} s)"
    if rule == "consumer_lag":
        return f"{value:,.0f} (bound {threshold or 0:,.0f})"
    return ""


def _when(changed_at: datetime | None) -> str:
    return changed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if changed_at else ""
