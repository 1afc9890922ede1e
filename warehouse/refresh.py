"""``finradar refresh``: rebuild the reference tables, models and findings whose inputs changed.

Everything a refresh writes commits in one DuckLake transaction, so an analyst sees the
marts and findings of one refresh or the next, never a mix, and ingestion can land events
at the same time: it writes ``raw.*``, the refresh reads a snapshot of them and writes
``reference.*``, ``staging.*``, ``marts.*``, ``dq.*`` views, ``dq.findings``,
``dq.findings_history`` (``warehouse.findings_history``) and its ``ops`` rows. After building
the models it runs the tests their headers declare (``warehouse.model_tests``): a failing one
fails the refresh, and nothing of it is committed.

A relation is rebuilt when its fingerprint changes: the SHA-256 of its SQL and of the
fingerprints of what it reads (a raw table's row count and newest batch; a reference
table's contents). ``ops.model_state`` keeps the fingerprint each relation was built from.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import duckdb

from contracts.spec import contracts
from finradar.errors import FinradarError
from finradar.settings import Settings
from warehouse import findings_history, model_tests
from warehouse.lake import connect
from warehouse.model_files import Check, Model, checks, models
from warehouse.reference import REFERENCE_TABLES, fingerprint
from warehouse.schema import create_all
from warehouse.transactions import in_transaction, writers_turn
from warehouse.writer_locks import writer_lock

T = TypeVar("T")
FINDING_COLUMNS = ("rule_id", "severity", "entity_id", "fiscal_period", "detail", "event_ids")
# after the bound, how long a refresh has to stop once interrupted before it is given up
INTERRUPT_GRACE_S = 10.0


@dataclass
class RefreshSummary:
    refresh_id: str
    rebuilt: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    findings_by_rule: dict[str, int] = field(default_factory=dict)
    new_findings: int = 0
    seconds: float = 0.0
    plain_plans: bool = False  # planned with ``SMALL_WAREHOUSE_PLANS`` (a small warehouse)

    @property
    def findings(self) -> int:
        return sum(self.findings_by_rule.values())


def new_refresh_id(now: datetime) -> str:
    return f"refresh-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def refresh(settings: Settings, *, full: bool = False) -> RefreshSummary:
    """Rebuild what changed (everything with ``full``) and recompute the findings.

    Fails with one line (``FinradarError``) if it has not finished after
    ``warehouse.refresh_timeout_s``: nothing of it is committed."""
    started = time.perf_counter()
    wait = settings.warehouse.turn_wait_s
    with writer_lock(settings, "refresh", "another refresh").hold():
        con = connect(settings)
        stuck = False
        given_up = threading.Event()

        def unless_given_up() -> None:
            # a refresh past its bound never commits, even if its statement returns later
            if given_up.is_set():
                raise FinradarError("refresh given up past its bound; nothing was committed")

        try:
            create_all(con, turn_wait_s=wait)
            # the turn is taken here, outside the bound: waiting for it is not running, and
            # a refresh given up lets it go at once, whatever its session is still doing
            with writers_turn(con, wait):
                summary = _bounded(
                    con,
                    lambda: in_transaction(
                        con,
                        lambda: _refresh(
                            con, full, started, settings.warehouse.refresh_planned_below
                        ),
                        retries=settings.warehouse.commit_retries,
                        before_commit=unless_given_up,
                        message=lambda s: f"refresh {s.refresh_id}",  # lake.snapshots()
                        take_turn=False,
                    ),
                    settings.warehouse.refresh_timeout_s,
                    given_up,
                )
        except _Stuck as exc:
            stuck = True
            atexit.register(_exit_past_stuck_session)
            raise FinradarError(str(exc)) from None
        finally:
            if not stuck:  # a session whose statement never returns cannot be closed
                con.close()
    summary.seconds = time.perf_counter() - started
    return summary


class _Stuck(Exception):
    """The refresh ran past its bound and did not stop when interrupted."""


def _exit_past_stuck_session() -> None:
    """At exit of a process that left a DuckDB statement running: end it as failed without
    the interpreter's and DuckDB's teardown, which would abort the process ("terminate
    called without an active exception") after the one-line error was printed."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)


def _bounded(
    con: duckdb.DuckDBPyConnection,
    work: Callable[[], T],
    bound: float,
    given_up: threading.Event | None = None,
) -> T:
    """``work()`` (statements on ``con``) in a worker thread, given ``bound`` seconds.

    Past the bound the session is interrupted: the running statement fails, the
    transaction rolls back, and this raises ``FinradarError``. A statement DuckDB cannot
    interrupt (its executor waiting on a task that never comes, as the findings query once
    did) is left behind in its daemon thread after ``INTERRUPT_GRACE_S``, uncommitted, and
    this raises ``_Stuck``, so the caller fails instead of waiting for ever."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="finradar-refresh", daemon=True)
    worker.start()
    try:
        worker.join(bound)
    except BaseException:  # Ctrl-C: stop the work before the session is closed under it
        con.interrupt()
        worker.join(INTERRUPT_GRACE_S)
        raise
    timed_out = worker.is_alive()
    if timed_out:
        if given_up is not None:
            given_up.set()
        # again and again: an interrupt between two statements is lost when the next starts
        deadline = time.monotonic() + INTERRUPT_GRACE_S
        while worker.is_alive() and time.monotonic() < deadline:
            con.interrupt()
            worker.join(0.05)
        if worker.is_alive():
            raise _Stuck(
                f"refresh did not finish within {bound:g} s (warehouse.refresh_timeout_s) and "
                f"did not stop when interrupted; nothing was committed"
            )
    if "value" in outcome:
        return outcome["value"]  # type: ignore[return-value]
    error = outcome["error"]
    if timed_out and isinstance(error, duckdb.InterruptException):
        raise FinradarError(
            f"refresh did not finish within {bound:g} s (warehouse.refresh_timeout_s) and "
            f"was stopped; nothing was committed"
        ) from None
    raise error  # type: ignore[misc]


def _refresh(
    con: duckdb.DuckDBPyConnection, full: bool, started: float, planned_below: int
) -> RefreshSummary:
    """The refresh's statements, in the transaction ``refresh`` opened. A warehouse of
    fewer than ``planned_below`` raw events is refreshed with ``SMALL_WAREHOUSE_PLANS``."""
    small = _raw_events(con) < planned_below
    # decided again by each attempt of a retried transaction, and never reset: a failed
    # statement leaves the transaction aborted, where a reset would fail in its place (the
    # session is closed with the refresh)
    con.execute(
        f"set disabled_optimizers = '{SMALL_WAREHOUSE_PLANS}'"
        if small
        else "reset disabled_optimizers"
    )
    summary = _refresh_statements(con, full, started)
    summary.plain_plans = small
    return summary


# DuckDB's optimizer steps that read every column's statistics from the catalog. DuckLake
# 1.5.5 keeps no answer for a table without statistics (an empty one: a model's input that
# has no events yet, or its output), so each step asks the catalog again for each of its
# columns (fixed upstream in duckdb/ducklake#1313, after the last wheel on PyPI): on a
# near-empty warehouse they made up most of a refresh, to order joins of a few rows.
SMALL_WAREHOUSE_PLANS = "join_order,statistics_propagation"


def _raw_events(con: duckdb.DuckDBPyConnection) -> int:
    """The events in the warehouse's raw tables."""
    counts = " + ".join(f"(select count(*) from raw.{c.table})" for c in contracts().values())
    return con.execute(f"select {counts}").fetchone()[0]


def _refresh_statements(
    con: duckdb.DuckDBPyConnection, full: bool, started: float
) -> RefreshSummary:
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
    model_tests.run(con, model_tests.to_test(models(), summary.rebuilt))

    checks_print = _digest(
        *(c.sql for c in checks()),
        *(_source_print(con, d, prints) for c in checks() for d in c.depends_on),
    )
    if full or state.get("dq.findings") != checks_print:
        findings = _findings(con, checks(), summary.refresh_id, now)
        built.append(("dq.findings", "checks", checks_print, findings))
        summary.rebuilt.append("dq.findings")
    else:
        summary.unchanged.append("dq.findings")
    # kept in step with the findings; a warehouse from before the history catches up once
    if full or state.get("dq.findings_history") != checks_print:
        episodes = findings_history.record(con, summary.refresh_id, now)
        built.append(("dq.findings_history", "checks", checks_print, episodes))
        summary.rebuilt.append("dq.findings_history")
    else:
        summary.unchanged.append("dq.findings_history")
    by_rule = con.execute(
        "select rule_id, count(*) from dq.findings group by rule_id order by rule_id"
    ).fetchall()
    summary.findings_by_rule = {rule: n for rule, n in by_rule}
    summary.new_findings = con.execute(
        "select count(*) from dq.findings where detected_at = ?", [now]
    ).fetchone()[0]

    if built:
        # one statement each, not two per relation: a statement in a DuckLake transaction
        # has a fixed cost, which adds up over every relation a small warehouse rebuilds
        relations, kinds, fps, rows = (list(column) for column in zip(*built, strict=True))
        con.execute("delete from ops.model_state where list_contains(?, relation)", [relations])
        con.execute(
            "insert into ops.model_state select unnest(?), unnest(?), unnest(?), "
            "unnest(?::bigint[]), ?, ?",
            [relations, kinds, fps, rows, summary.refresh_id, now],
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
    """A raw or ops table's fingerprint: rows and newest batch (they are append-only). A
    table without batches (``dq.findings_history``, ``ops.refresh_runs``: written by the
    refresh itself) has no such fingerprint: a table built from it is built every time."""
    if relation not in prints:
        schema, table = relation.split(".")
        (batched,) = con.execute(
            "select count(*) from information_schema.columns where table_catalog = "
            "current_database() and table_schema = ? and table_name = ? and column_name = "
            "'batch_id'",
            [schema, table],
        ).fetchone()
        if batched:
            count, newest = con.execute(
                f"select count(*), max(batch_id) from {relation}"
            ).fetchone()
            prints[relation] = f"{relation}:{count}:{newest}"
        else:
            prints[relation] = f"{relation}:unversioned:{uuid.uuid4().hex}"
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
) -> int:
    """Replace ``dq.findings`` with what the checks find now; a finding seen before keeps
    the time it was first detected. Returns how many there are.

    All in one ``insert … select`` inside DuckDB: the findings (millions at millions of
    events) never travel to Python. Fetching them as a result once hung the refresh for
    good: DuckDB streams a result through a buffer of ``streaming_buffer_size`` (1 MB), and
    with the checks' union of window, join and CTE pipelines the buffer filled while
    ``execute`` still waited for the query to be ready: every thread idle, uninterruptible.
    """
    union = "\nunion all\n".join(
        f"select {', '.join(FINDING_COLUMNS)} from (\n{c.sql}\n)" for c in all_checks
    )
    con.execute(
        f"""
        insert into dq.findings
        with found as ({union}),
        keyed as (
            select
                sha256(concat_ws('|', rule_id, entity_id, fiscal_period,
                    array_to_string(list_sort(event_ids), ','))) as finding_key,
                *
            from found
        ),
        first_seen as (
            select finding_key, min(detected_at) as detected_at
            from dq.findings
            group by finding_key
        )
        select
            k.finding_key,
            k.rule_id,
            k.severity,
            k.entity_id,
            k.fiscal_period,
            k.detail,
            k.event_ids,
            coalesce(s.detected_at, ?) as detected_at,
            ? as refresh_id
        from keyed as k
        left join first_seen as s on s.finding_key = k.finding_key
        """,
        [now, refresh_id],
    )
    con.execute("delete from dq.findings where refresh_id is distinct from ?", [refresh_id])
    return con.execute("select count(*) from dq.findings").fetchone()[0]
