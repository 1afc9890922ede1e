"""``finradar refresh``: rebuild the reference tables, models and findings whose inputs changed.

Everything a refresh writes commits in one DuckLake transaction, so an analyst sees the
marts and findings of one refresh or the next, never a mix, and ingestion can land events
at the same time: it writes ``raw.*``, the refresh reads a snapshot of them and writes
``reference.*``, ``staging.*``, ``marts.*``, ``dq.findings`` and its ``ops`` rows.

A relation is rebuilt when its fingerprint changes: the SHA-256 of its SQL and of the
fingerprints of what it reads (a raw table's row count and newest batch; a reference
table's contents). ``ops.model_state`` keeps the fingerprint each relation was built from.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from finradar.settings import Settings
from warehouse.lake import connect
from warehouse.locks import file_lock
from warehouse.model_files import Check, Model, checks, models
from warehouse.reference import REFERENCE_TABLES, fingerprint
from warehouse.schema import TABLES, create_all
from warehouse.transactions import in_transaction

FINDING_COLUMNS = ("rule_id", "severity", "entity_id", "fiscal_period", "detail", "event_ids")


@dataclass
class RefreshSummary:
    refresh_id: str
    rebuilt: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    findings_by_rule: dict[str, int] = field(default_factory=dict)
    new_findings: int = 0
    seconds: float = 0.0

    @property
    def findings(self) -> int:
        return sum(self.findings_by_rule.values())


def new_refresh_id(now: datetime) -> str:
    return f"refresh-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def refresh(settings: Settings, *, full: bool = False) -> RefreshSummary:
    """Rebuild what changed (everything with ``full``) and recompute the findings."""
    started = time.perf_counter()
    with file_lock(settings.warehouse_dir / "refresh.lock", "another refresh"):
        con = connect(settings)
        try:
            create_all(con)
            summary = in_transaction(
                con,
                lambda: _refresh(con, full, started),
                retries=settings.warehouse.commit_retries,
            )
        finally:
            con.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _refresh(con: duckdb.DuckDBPyConnection, full: bool, started: float) -> RefreshSummary:
    now = datetime.now(UTC)
    summary = RefreshSummary(new_refresh_id(now))
    state = dict(con.execute("select relation, fingerprint from ops.model_state").fetchall())
    prints: dict[str, str] = {}
    built: list[tuple[str, str, str, int]] = []

    for relation, build in REFERENCE_TABLES.items():
        table = build()
        prints[relation] = fingerprint(table)
        if full or state.get(relation) != prints[relation]:
            con.register("reference_rows", table)
            con.execute(f"create or replace table {relation} as select * from reference_rows")
            con.unregister("reference_rows")
            built.append((relation, "reference", prints[relation], table.num_rows))
            summary.rebuilt.append(relation)
        else:
            summary.unchanged.append(relation)

    for model in models():
        prints[model.relation] = _model_print(con, model, prints)
        is_view = model.materialized == "view"
        stored = _definition_print(model) if is_view else prints[model.relation]
        if full or state.get(model.relation) != stored:
            rows = _build(con, model)
            built.append((model.relation, model.materialized, stored, rows))
            summary.rebuilt.append(model.relation)
        else:
            summary.unchanged.append(model.relation)

    checks_print = _digest(
        *(c.sql for c in checks()),
        *(_source_print(con, d, prints) for c in checks() for d in c.depends_on),
    )
    if full or state.get("dq.findings") != checks_print:
        findings = _findings(con, checks(), summary.refresh_id, now)
        built.append(("dq.findings", "checks", checks_print, findings.num_rows))
        summary.rebuilt.append("dq.findings")
    else:
        summary.unchanged.append("dq.findings")
    by_rule = con.execute(
        "select rule_id, count(*) from dq.findings group by rule_id order by rule_id"
    ).fetchall()
    summary.findings_by_rule = {rule: n for rule, n in by_rule}
    summary.new_findings = con.execute(
        "select count(*) from dq.findings where detected_at = ?", [now]
    ).fetchone()[0]

    for relation, kind, fp, rows in built:
        con.execute("delete from ops.model_state where relation = ?", [relation])
        con.execute(
            "insert into ops.model_state values (?, ?, ?, ?, ?, ?)",
            [relation, kind, fp, rows, summary.refresh_id, now],
        )
    con.execute(
        "insert into ops.refresh_runs values (?, ?, ?, ?, ?, ?, ?)",
        [
            summary.refresh_id,
            now,
            datetime.now(UTC),
            summary.rebuilt,
            len(summary.unchanged),
            summary.findings,
            time.perf_counter() - started,
        ],
    )
    return summary


def _digest(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _source_print(con: duckdb.DuckDBPyConnection, relation: str, prints: dict[str, str]) -> str:
    """A raw or ops table's fingerprint: rows and newest batch (they are append-only)."""
    if relation not in prints:
        count, newest = con.execute(f"select count(*), max(batch_id) from {relation}").fetchone()
        prints[relation] = f"{relation}:{count}:{newest}"
    return prints[relation]


def _model_print(con: duckdb.DuckDBPyConnection, model: Model, prints: dict[str, str]) -> str:
    """What the model's rows are computed from: its SQL and the data of everything upstream."""
    upstream = [_source_print(con, d, prints) for d in model.depends_on]
    return _digest(model.sql, *upstream)


def _definition_print(model: Model) -> str:
    """A view is bound when queried, so only its own SQL decides whether to recreate it."""
    return _digest(model.sql)


def _build(con: duckdb.DuckDBPyConnection, model: Model) -> int:
    if model.materialized == "view":
        con.execute(f"create or replace view {model.relation} as\n{model.sql}")
        return -1
    con.execute(f"create or replace table {model.relation} as\n{model.sql}")
    return con.execute(f"select count(*) from {model.relation}").fetchone()[0]


def _findings(
    con: duckdb.DuckDBPyConnection, all_checks: tuple[Check, ...], refresh_id: str, now: datetime
) -> pa.Table:
    """Replace ``dq.findings`` with what the checks find now; a finding seen before keeps
    the time it was first detected."""
    union = "\nunion all\n".join(
        f"select {', '.join(FINDING_COLUMNS)} from (\n{c.sql}\n)" for c in all_checks
    )
    found = con.execute(
        f"""
        with found as ({union})
        select
            sha256(concat_ws('|', rule_id, entity_id, fiscal_period,
                array_to_string(list_sort(event_ids), ','))) as finding_key,
            *
        from found
        """
    ).to_arrow_table()
    first_seen = dict(con.execute("select finding_key, detected_at from dq.findings").fetchall())
    keys = found.column("finding_key").to_pylist()
    schema = TABLES["dq.findings"]
    detected = pa.array([first_seen.get(k, now) for k in keys], schema.field("detected_at").type)
    table = found.append_column("detected_at", detected).append_column(
        "refresh_id", pa.array([refresh_id] * found.num_rows, pa.string())
    )
    table = table.select(schema.names).cast(schema)
    con.execute("delete from dq.findings")
    con.register("finding_rows", table)
    con.execute("insert into dq.findings select * from finding_rows")
    con.unregister("finding_rows")
    return table
