"""A fixed set of analyst queries on the marts, timed as an analyst runs them: each round
in a new read-only session, as ``finradar sql`` opens one."""

from __future__ import annotations

import statistics
import time

from finradar.settings import Settings

# {entity}: the entity with the most spend figures (known only once the warehouse is built)
QUERIES: dict[str, str] = {
    # one entity's total spend series, every scope, period and status
    "spend_series_of_entity": """
        select scope, fiscal_period, status, amount_yi, yoy, reported_yoy, is_restated
        from marts.spend_series
        where entity_id = '{entity}' and spend_class = 'total' and technology is null
        order by scope, fiscal_period, status
    """,
    # groups against their members
    "group_rollup": """
        select group_id, scope, fiscal_period, status, members_expected, members_reported,
               members_total_yi, group_reported_yi, scopes_mixed
        from marts.spend_group_rollup
        order by group_id, scope, fiscal_period, status
    """,
    # actual spend rolled up by segment (type × tier), never across currencies
    "segment_rollup": """
        select e.institution_type, e.tier, s.fiscal_period, s.currency,
               count(*) as institutions, sum(s.amount_yi) as total_yi
        from marts.spend_series as s
        inner join marts.dim_entity as e using (entity_id)
        where s.spend_class = 'total' and s.technology is null and s.status = 'actual'
            and s.scope = 'tech'
        group by all
        order by all
    """,
    "maturity_by_type": """
        select panel, institution_type, capability, institutions, median_stage,
               share_at_or_beyond_scaled
        from marts.capability_maturity
        order by panel, institution_type, capability
    """,
    "findings_by_rule": """
        select rule_id, severity, count(*) as findings, count(distinct entity_id) as entities
        from dq.findings
        group by rule_id, severity
        order by rule_id
    """,
}


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(1, min(len(ordered), round(q * len(ordered) + 0.5))) - 1]


def time_queries(settings: Settings, repeat: int = 20) -> dict[str, dict[str, float]]:
    """p50 and p95 in milliseconds of each query over ``repeat`` rounds."""
    # lazy: DuckDB and the warehouse load only for this step of a benchmark
    from warehouse.lake import connect

    con = connect(settings, read_only=True)
    try:
        entity = con.execute(
            "select entity_id from marts.spend_series group by all order by count(*) desc limit 1"
        ).fetchone()
    finally:
        con.close()
    queries = {
        name: sql.format(entity=entity[0] if entity else "") for name, sql in QUERIES.items()
    }
    samples: dict[str, list[float]] = {name: [] for name in queries}
    for _ in range(repeat):
        con = connect(settings, read_only=True)
        try:
            for name, sql in queries.items():
                started = time.perf_counter()
                con.execute(sql).fetchall()
                samples[name].append((time.perf_counter() - started) * 1000)
        finally:
            con.close()
    return {
        name: {"p50": round(statistics.median(t), 1), "p95": round(percentile(t, 0.95), 1)}
        for name, t in samples.items()
    }
