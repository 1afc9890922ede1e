"""The warehouse's tables: ``raw.*`` from the contracts, and quarantine, ops and dq.

``raw.*`` columns come from ``contracts`` (``contracts/generated/raw_tables.sql``); the
others are defined here, once, as Arrow schemas, and their DDL is derived from those.
``create_all`` is idempotent: every run calls it before landing.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
from duckdb.sqltypes import BLOB, VARCHAR

from contracts.export.arrow import raw_schemas
from contracts.export.ddl import create_table, duckdb_type, raw_ddl
from contracts.spec import MAX_MESSAGE_BYTES
from handoff.staging import QUARANTINE_SCHEMA
from warehouse.model_files import models
from warehouse.reference import REFERENCE_TABLES
from warehouse.transactions import (
    DEFAULT_TURN_WAIT_S,
    rollback,
    set_commit_message,
    writers_turn,
)

TS = pa.timestamp("us", tz="UTC")

TABLES: dict[str, pa.Schema] = {
    # a staged quarantine row, and what landing it adds
    "quarantine.events": pa.schema(
        [
            *QUARANTINE_SCHEMA,
            ("batch_id", pa.string()),
            ("quarantined_at", TS),
            ("replayed_at", TS),
            ("replay_batch_id", pa.string()),
            # raw_value as text (warehouse.landing.RAW_TEXT); added after the first release,
            # so it comes last in every warehouse, old or new
            ("raw_text", pa.string()),
        ]
    ),
    "ops.kafka_offsets": pa.schema(
        [
            ("kafka_topic", pa.string()),
            ("kafka_partition", pa.int32()),
            ("next_offset", pa.int64()),
            ("batch_id", pa.string()),
            ("committed_at", TS),
        ]
    ),
    "ops.partition_batches": pa.schema(
        [
            ("batch_id", pa.string()),
            ("kafka_topic", pa.string()),
            ("kafka_partition", pa.int32()),
            ("start_offset", pa.int64()),
            ("next_offset", pa.int64()),
            ("consumed", pa.int64()),
            ("landed", pa.int64()),
            ("duplicates", pa.int64()),
            ("quarantined", pa.int64()),
        ]
    ),
    "ops.ingest_runs": pa.schema(
        [
            ("batch_id", pa.string()),
            ("started_at", TS),
            ("finished_at", TS),
            ("consumed", pa.int64()),
            ("landed", pa.int64()),
            ("duplicates", pa.int64()),
            ("quarantined", pa.int64()),
            ("runner", pa.string()),
            ("seconds", pa.float64()),
        ]
    ),
    "ops.landed_events": pa.schema(
        [
            ("event_id", pa.string()),
            ("event_type", pa.string()),
            ("content_sha256", pa.string()),
            ("kafka_topic", pa.string()),
            ("kafka_partition", pa.int32()),
            ("kafka_offset", pa.int64()),
            ("batch_id", pa.string()),
        ]
    ),
    "ops.duplicate_events": pa.schema(
        [
            ("kafka_topic", pa.string()),
            ("kafka_partition", pa.int32()),
            ("kafka_offset", pa.int64()),
            ("event_id", pa.string()),
            ("content_sha256", pa.string()),
            ("batch_id", pa.string()),
        ]
    ),
    "dq.validation_runs": pa.schema(
        [
            ("batch_id", pa.string()),
            ("contract", pa.string()),
            ("rows_checked", pa.int64()),
            ("rows_failed", pa.int64()),
            ("expectations", pa.int64()),
            ("expectations_failed", pa.int64()),
            ("success", pa.bool_()),
            ("report_path", pa.string()),
        ]
    ),
    "dq.expectation_results": pa.schema(
        [
            ("batch_id", pa.string()),
            ("contract", pa.string()),
            ("expectation", pa.string()),
            ("column_name", pa.string()),
            ("reason_code", pa.string()),
            ("success", pa.bool_()),
            ("unexpected_count", pa.int64()),
        ]
    ),
    "dq.findings": pa.schema(
        [
            ("finding_key", pa.string()),  # stable id: same rule, subject and events
            ("rule_id", pa.string()),
            ("severity", pa.string()),  # error | warning | info
            ("entity_id", pa.string()),
            ("fiscal_period", pa.string()),
            ("detail", pa.string()),
            ("event_ids", pa.list_(pa.string())),
            ("detected_at", TS),  # first refresh that raised it
            ("refresh_id", pa.string()),  # last refresh that confirmed it
        ]
    ),
    "dq.findings_history": pa.schema(
        [
            ("finding_key", pa.string()),  # as in dq.findings
            ("episode", pa.int32()),  # 1, then 2 if it reappears after it was resolved, …
            ("rule_id", pa.string()),
            ("severity", pa.string()),
            ("entity_id", pa.string()),
            ("fiscal_period", pa.string()),
            ("event_ids", pa.list_(pa.string())),
            ("detail", pa.string()),  # as last seen
            ("first_seen_refresh_id", pa.string()),
            ("first_seen_at", TS),
            # the last refresh whose checks found it (a refresh whose inputs had not changed
            # runs no checks: the finding stays open, as in dq.findings)
            ("last_seen_refresh_id", pa.string()),
            ("last_seen_at", TS),
            ("resolved_refresh_id", pa.string()),  # first refresh that no longer found it
            ("resolved_at", TS),  # NULL: open
        ]
    ),
    "dq.alerts": pa.schema(
        [
            ("alert_id", pa.string()),  # one id per state change
            ("rule", pa.string()),  # the alert rule of the settings (``alerts.*``)
            ("subject", pa.string()),  # what it is about: a topic, a flow, a finding key
            ("state", pa.string()),  # firing | resolved
            ("previous_state", pa.string()),  # ok | firing
            ("value", pa.float64()),  # what was measured (rate, age in s, lag, count)
            ("threshold", pa.float64()),  # the bound it was held against
            ("detail", pa.string()),  # one line for a person
            ("changed_at", TS),
            ("notified", pa.list_(pa.string())),  # notifiers that took it (webhook, log)
        ]
    ),
    "ops.model_state": pa.schema(
        [
            ("relation", pa.string()),
            ("kind", pa.string()),  # reference | view | table | checks
            ("fingerprint", pa.string()),  # SQL and inputs it was built from
            ("rows", pa.int64()),
            ("refresh_id", pa.string()),
            ("built_at", TS),
        ]
    ),
    "ops.refresh_runs": pa.schema(
        [
            ("refresh_id", pa.string()),
            ("started_at", TS),
            ("finished_at", TS),
            ("rebuilt", pa.list_(pa.string())),
            ("unchanged", pa.int64()),
            ("findings", pa.int64()),
            ("seconds", pa.float64()),
        ]
    ),
    "ops.offset_resets": pa.schema(
        [
            ("kafka_topic", pa.string()),
            ("kafka_partition", pa.int32()),
            ("batch_id", pa.string()),  # the backfill that read the partition again
            ("previous_next_offset", pa.int64()),  # what the warehouse had committed
            ("next_offset", pa.int64()),  # where the recreated partition ended
            ("reset_at", TS),
        ]
    ),
    "ops.replay_runs": pa.schema(
        [
            ("replay_batch_id", pa.string()),
            ("started_at", TS),
            ("finished_at", TS),
            ("reasons", pa.list_(pa.string())),  # the reason codes replayed (empty: all)
            ("rechecked", pa.int64()),  # quarantined messages checked again
            ("landed", pa.int64()),
            ("duplicates", pa.int64()),  # their event had landed meanwhile, same content
            ("still_quarantined", pa.int64()),
            ("seconds", pa.float64()),
        ]
    ),
}
# ``quarantine.events.raw_text``: the quarantined bytes as text for a person, UTF-8 decoded with
# each invalid byte as U+FFFD (�); NULL when there are no bytes, they hold a NUL byte (not
# text: JSON never holds one unescaped), or there are more of them than the contract allows a
# message (``oversize``: megabytes no person reads in a cell, kept whole in raw_value; their
# text was most of the column's cost: ``python -m tests.bench.profile_ingest_steps 200000``
# derived it for the bench stream's 2,950 quarantined messages, 358 MiB, in 0.01 s against
# 0.64 s with the text of the oversize ones too, on 2026-12-05). Derived at landing, and
# once for older rows when a warehouse made before it gains the column. A Python function,
# not DuckDB's ``decode(blob, 'replace')``: DuckDB 1.5.5 replaces the invalid bytes in the
# BLOB itself (a stored raw_value read back changed), which would break "the bytes as
# received".
# Bytes that are valid UTF-8 are decoded by DuckDB's own strict ``decode`` (the same text):
# the function is called for the others only: the bench stream's oversized quarantined
# messages made it most of a commit's quarantine insert (``python -m
# tests.bench.profile_ingest_steps 40000`` prints both: 0.14–0.16 s against 0.28–0.30 s for
# 602 quarantined messages holding 76 MiB, two runs on 2026-12-02).
RAW_TEXT_FUNCTION = "finradar_raw_text"
_DECODED = "try(decode(raw_value))"
# the text of bytes of any size (the bench's baseline of the size rule below)
RAW_TEXT_OF_ANY_SIZE = (
    f"case when {_DECODED} is null then {RAW_TEXT_FUNCTION}(raw_value)"
    f" when contains({_DECODED}, chr(0)) then null else {_DECODED} end"
)
RAW_TEXT = (
    f"case when octet_length(raw_value) > {MAX_MESSAGE_BYTES} then null"
    f" else {RAW_TEXT_OF_ANY_SIZE} end"
)


def raw_text(values: pa.Array) -> pa.Array:
    """``quarantine.events.raw_text`` of each message value (one per row)."""
    return pa.array(
        [
            None
            if v is None or len(v) > MAX_MESSAGE_BYTES or b"\x00" in v
            else v.decode("utf-8", "replace")
            for v in values.to_pylist()
        ],
        pa.string(),
    )


def register_raw_text(con: duckdb.DuckDBPyConnection) -> None:
    """Make ``RAW_TEXT`` callable in ``con`` (once per session)."""
    known = con.execute(
        "select count(*) from duckdb_functions() where function_name = ?", [RAW_TEXT_FUNCTION]
    ).fetchone()[0]
    if not known:
        con.create_function(
            RAW_TEXT_FUNCTION,
            raw_text,
            [BLOB],
            VARCHAR,
            type="arrow",
            null_handling="special",
            side_effects=False,
        )


# what fills a column for the rows a warehouse held before the column was added
DERIVED_ON_ADD = {("quarantine.events", "raw_text"): RAW_TEXT}
SCHEMAS = ("raw", "quarantine", "reference", "staging", "marts", "dq", "ops")

# One line per table of this module and of raw.*: what a row is (for the data dictionary).
GRAINS = {
    "raw.spend_disclosures": "one row per landed spend_disclosure event (first copy of its id)",
    "raw.deployment_milestones": "one row per landed deployment_milestone event",
    "raw.survey_responses": "one row per landed survey_response event",
    "raw.survey_answers": "one row per answer of a landed survey_response (event × question)",
    "raw.observations": "one row per landed observation event (contract v1.2)",
    "quarantine.events": "one row per message not landed: its bytes, first reason and all reasons",
    "ops.kafka_offsets": "one row per topic × partition: the next offset to read",
    "ops.partition_batches": "one row per ingest batch × topic × partition: offsets and accounting",
    "ops.ingest_runs": "one row per ingest batch: when, how many, which runner",
    "ops.landed_events": "one row per landed event_id: where it was read and its content hash",
    "ops.duplicate_events": "one row per message dropped as a byte-identical repeat",
    "dq.validation_runs": "one row per ingest batch × contract validated by Great Expectations "
    "(GX's verdicts only: contract rejections come before GX; dq.batch_quality counts both)",
    "dq.expectation_results": "one row per ingest batch × contract × expectation",
    "dq.findings": "one row per cross-record finding of the latest refresh",
    "dq.findings_history": "one row per finding × episode: each stretch of refreshes that "
    "found it, from first seen to resolved (NULL while open); a finding that reappears after "
    "it was resolved opens its next episode",
    "dq.alerts": "one row per alert state change (firing or resolved) of a rule × subject",
    "ops.model_state": "one row per reference table, model and findings: what it was built from",
    "ops.refresh_runs": "one row per refresh: what it rebuilt and how many findings it left",
    "ops.replay_runs": "one row per replay: quarantined messages checked again and what landed",
    "ops.offset_resets": "one row per partition read again after its topic was recreated "
    "(backfill --reset): offsets before it belong to the old topic",
}


def ddl() -> str:
    """DDL of every table the ingest writes."""
    parts = [raw_ddl()]
    for name, schema in TABLES.items():
        schema_name, table = name.split(".")
        parts.append(create_table(schema_name, table, schema))
    return "\n".join(parts)


def create_all(con: duckdb.DuckDBPyConnection, turn_wait_s: float = DEFAULT_TURN_WAIT_S) -> None:
    """Create the schemas, tables and columns that do not exist yet (one transaction) and
    set the catalog's options, in this writer's turn (``warehouse.transactions``). A
    warehouse that has them all is only read: opening it never waits for a refresh."""
    if _is_complete(con):
        return
    # outside the transaction (see ``warehouse.landing.land``): a column derived on add
    # calls it, and a shared session (follow's) goes on after a rollback
    register_raw_text(con)
    with writers_turn(con, turn_wait_s):
        con.execute("begin")
        try:
            for schema in SCHEMAS:
                con.execute(f"create schema if not exists {schema}")
            con.execute(ddl())
            add_new_columns(con)
            set_commit_message(con, "schema: create or extend tables")
            con.execute("commit")
        except BaseException:
            rollback(con)  # a shared session (follow's) goes on
            raise
        for call in _option_calls(con):
            con.execute(call)


def _is_complete(con: duckdb.DuckDBPyConnection) -> bool:
    present = set(
        con.execute(
            "select schema_name from information_schema.schemata "
            "where catalog_name = current_database()"
        ).fetchall()
    )
    if not {(s,) for s in SCHEMAS} <= present:
        return False
    columns = _present_columns(con)
    wanted = _wanted_tables()
    if any(f.name not in columns.get(name, ()) for name, sch in wanted.items() for f in sch):
        return False
    return not _option_calls(con)


def _wanted_tables() -> dict[str, pa.Schema]:
    return {f"raw.{table}": schema for table, schema in raw_schemas().items()} | TABLES


def _present_columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    present: dict[str, set[str]] = {}
    for schema_name, table, column in con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_catalog = current_database()"
    ).fetchall():
        present.setdefault(f"{schema_name}.{table}", set()).add(column)
    return present


def add_new_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Add the columns a minor revision of the contract (or a new ops column) brought to a
    warehouse created before it; older rows read NULL there. Columns are only ever added."""
    present = _present_columns(con)
    for name, schema in _wanted_tables().items():
        for f in schema:
            if f.name not in present.get(name, {f.name}):
                con.execute(f"alter table {name} add column {f.name} {duckdb_type(f.type)}")
                derived = DERIVED_ON_ADD.get((name, f.name))
                if derived:
                    con.execute(f"update {name} set {f.name} = {derived}")


ROW_GROUP_BYTES = "32MB"


def rebuilt_schemas() -> list[str]:
    """The schemas a refresh replaces whole tables in (``create or replace``: its reference
    tables and table models): an option set on such a table would go with it."""
    relations = [*REFERENCE_TABLES, *(m.relation for m in models() if m.materialized == "table")]
    return sorted({relation.split(".")[0] for relation in relations})


def _option_calls(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The ``set_option`` calls the catalog still lacks (each persisted in it, set once):

    - Row groups of the lake's Parquet files end at ``ROW_GROUP_BYTES`` as well as at
      DuckLake's row count: a writer holds a row group in memory, and 122,880 quarantined
      messages of up to a megabyte each would not fit a session's memory limit (lake-wide).
    - Tables with a STRUCT or LIST column always write Parquet files. DuckLake 1.5 keeps an
      insert of fewer than 10 rows in its catalog ("data inlining") and reads STRUCT values
      back wrong: a quote in a string is dropped, and a ``}`` or a final backslash makes every
      later read of the table fail. One quarantined message whose reason quotes such a value
      would stop ingestion for good. A LIST of strings holding a NUL character (``members:
      ["a\\u0000b"]``, valid JSON) makes the commit itself fail ("unterminated quoted
      string" while flushing the inlined rows), so that pass could never land. Set per
      table the ingest writes, and for each of the ``rebuilt_schemas`` (small ops inserts
      elsewhere stay inlined)."""
    catalog = con.execute("select current_database()").fetchone()[0]
    options = con.execute(f"from {catalog}.options()").fetchall()
    calls = []
    if not any(o[0] == "parquet_row_group_size_bytes" and o[3] == "GLOBAL" for o in options):
        calls.append(
            f"call {catalog}.set_option('parquet_row_group_size_bytes', '{ROW_GROUP_BYTES}')"
        )
    no_inlining = {
        (kind, scope)
        for name, _, value, kind, scope in options
        if name == "data_inlining_row_limit" and value == "0"
    }
    for schema in rebuilt_schemas():
        if ("SCHEMA", schema) not in no_inlining:
            calls.append(
                f"call {catalog}.set_option('data_inlining_row_limit', 0, schema => '{schema}')"
            )
    for name, table_schema in _wanted_tables().items():
        if any(_nested(f.type) for f in table_schema) and ("TABLE", name) not in no_inlining:
            schema, table = name.split(".")
            calls.append(
                f"call {catalog}.set_option('data_inlining_row_limit', 0, "
                f"schema => '{schema}', table_name => '{table}')"
            )
    return calls


def _nested(t: pa.DataType) -> bool:
    return pa.types.is_struct(t) or pa.types.is_list(t) or pa.types.is_large_list(t)
