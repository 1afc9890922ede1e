"""Land one ingest run in the warehouse: everything in one DuckLake transaction.

The run's staged Parquet files (``handoff.staging``, written by ``pipelines.normalise``) are
classified and inserted into ``raw.*``, ``quarantine.events``, ``ops.*`` and ``dq.*``
together with the next offsets of every partition read, then committed at once: a reader
sees the state before or after the run, never between, and a crash before the commit leaves
nothing (the rerun reads the same offsets again). Repeated event ids are decided here,
against the run and everything landed before: the first copy lands, a byte-identical repeat
is a duplicate (``ops.duplicate_events``), other content under the same id is quarantined as
``event_id_conflict``. The commit refuses to land if the committed offsets moved since the
run was planned, or if any partition's records are not all accounted for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

import duckdb
import pyarrow as pa

from contracts.export.arrow import raw_schemas
from contracts.export.ddl import duckdb_type
from contracts.spec import contracts
from handoff.errors import AccountingError, OffsetsMoved
from handoff.records import PartitionRange
from handoff.staging import StagedFile, staging_schemas
from warehouse.schema import RAW_TEXT, create_all, register_raw_text
from warehouse.transactions import DEFAULT_TURN_WAIT_S, in_transaction


@dataclass
class LandingSummary:
    batch_id: str
    consumed: int = 0
    landed: int = 0
    duplicates: int = 0
    quarantined: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    partitions: list[tuple[str, int, int, int, int, int, int]] = field(default_factory=list)
    commit_attempts: int = 0
    already_accounted: int = 0  # backfill: messages read again that the warehouse had


def committed_offsets(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, int], int]:
    rows = con.execute("select kafka_topic, kafka_partition, next_offset from ops.kafka_offsets")
    return {(t, p): o for t, p, o in rows.fetchall()}


def _files(staged: Sequence[StagedFile], table: str) -> str | None:
    paths = [s.path for s in staged if s.table == table and s.rows]
    if not paths:
        return None
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def staged_view(
    con: duckdb.DuckDBPyConnection, name: str, staged: Sequence[StagedFile], table: str
) -> None:
    """A view over the run's files of one staging table (empty, same columns, if none)."""
    files = _files(staged, table)
    if files is None:
        con.register(f"{name}_empty", staging_schemas()[table].empty_table())
        source = f"{name}_empty"
    else:
        source = f"read_parquet({files})"
    con.execute(f"create or replace temp view {name} as select * from {source}")


def quarantined_at_commit(con: duckdb.DuckDBPyConnection, staged: Sequence[StagedFile]) -> None:
    """``quarantined_at_commit``: the staged valid events ``classified`` gives a reason
    (conflicts, GX rejections, unstorable values), each with what its quarantine row takes
    of its ``_valid`` row and its bytes: its raw table's ``raw_json`` (the same bytes as
    text; ``encode`` gives them back). The few rows are found first, then only their
    ``raw_json`` is kept: a join of every staged ``raw_json`` would hold the pass's bytes
    (a pass of large events ran out of the session's memory so)."""
    con.execute(
        """
        create or replace temp table quarantined_at_commit as
        select kafka_topic, kafka_partition, kafka_offset, s.kafka_timestamp, s.message_key,
               c.content_sha256 as raw_sha256, s.redacted, c.event_id, c.event_type,
               c.reason_code, c.reason_detail, c.reasons, c.raw_table,
               null::varchar as raw_json
        from classified as c
        join staged_valid as s using (kafka_topic, kafka_partition, kafka_offset)
        where c.reason_code is not null
        """
    )
    # most passes quarantine few events at commit, of few tables: only their files are read
    tables = con.execute("select distinct raw_table from quarantined_at_commit").fetchall()
    for (table,) in tables:
        files = _files(staged, table)
        if files is None:
            continue
        con.execute(
            f"""
            update quarantined_at_commit as q set raw_json = j.raw_json
            from (select kafka_topic, kafka_partition, kafka_offset, raw_json
                  from read_parquet({files})
                  semi join (from quarantined_at_commit where raw_table = ?)
                  using (kafka_topic, kafka_partition, kafka_offset)) as j
            where q.kafka_topic = j.kafka_topic and q.kafka_partition = j.kafka_partition
              and q.kafka_offset = j.kafka_offset
            """,
            [table],
        )


def land(
    con: duckdb.DuckDBPyConnection,
    batch_id: str,
    plan: Sequence[PartitionRange],
    staged: Sequence[StagedFile],
    started_at: datetime,
    runner: str,
    retries: int = 12,
    failpoint: Callable[[str], None] = lambda name: None,
    report_path: str | None = None,
    backfill: bool = False,
    ensure_schema: bool = True,
    reset: bool = False,
    threads: int | None = None,
    turn_wait_s: float = DEFAULT_TURN_WAIT_S,
) -> LandingSummary:
    """Commit the run, retrying on catalog lock contention; on ``threads`` DuckDB threads
    if given (the session's own setting again afterwards).

    ``backfill``: the ranges were chosen by hand (``pipelines.backfill``), not from the
    committed offsets: messages the warehouse already accounted for (landed, dropped as
    duplicates, quarantined) are skipped by their offset, and each partition's committed
    offset moves to the range's end (never back); offsets between the committed offset and
    a later start are skipped on purpose and the ledger shows it. ``reset`` (a backfill of
    recreated topics): a partition that now ends before its committed offset starts again;
    what was accounted for before its reset belongs to the old topic (``ops.offset_resets``).

    ``ensure_schema``: create what is missing of the warehouse first (its own transaction;
    a session that did so already, like follow's, leaves it out)."""
    if ensure_schema:
        create_all(con, turn_wait_s)
    attempts = 0

    def attempt() -> LandingSummary:
        nonlocal attempts
        attempts += 1
        return _land_in_transaction(
            con, batch_id, plan, staged, started_at, runner, report_path, backfill, reset
        )

    # outside the transaction: a function created in one that rolls back is gone from the
    # session's catalog but still known to its connection, and the commit run again could
    # neither create nor call it
    register_raw_text(con)
    if threads:
        con.execute(f"set threads = {int(threads)}")
    try:
        summary = in_transaction(
            con,
            attempt,
            retries,
            before_commit=lambda: failpoint("in_transaction"),
            message=lambda s: f"{'backfill' if backfill else 'ingest'} {s.batch_id}",
            turn_wait_s=turn_wait_s,
        )
    finally:
        if threads:  # as in ``drop_pass_tables``: never in place of the commit's own error
            with contextlib.suppress(duckdb.Error):
                con.execute("reset threads")
        drop_pass_tables(con)
    summary.commit_attempts = attempts
    return summary


def drop_pass_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the temporary tables of the session: only a commit builds any (``classified``
    holds a row per valid event, a backfill's ``staged_quarantine_all`` its rejected
    messages' bytes), and a session kept open between passes (``follow``'s) would hold the
    last pass's until the next replaced them. A session DuckDB has invalidated holds
    nothing any more: its error must not hide the commit's own."""
    with contextlib.suppress(duckdb.Error):
        temporary = con.execute(
            "select table_name from duckdb_tables() where database_name = 'temp'"
        ).fetchall()
        for (table,) in temporary:
            con.execute(f'drop table if exists temp.main."{table}" cascade')


def _land_in_transaction(
    con: duckdb.DuckDBPyConnection,
    batch_id: str,
    plan: Sequence[PartitionRange],
    staged: Sequence[StagedFile],
    started_at: datetime,
    runner: str,
    report_path: str | None = None,
    backfill: bool = False,
    reset: bool = False,
) -> LandingSummary:
    current = committed_offsets(con)
    moved = [r for r in plan if current.get((r.topic, r.partition), 0) != r.start]
    if moved and not backfill:
        r = moved[0]
        raise OffsetsMoved(
            f"{r.topic}[{r.partition}] is committed at {current.get((r.topic, r.partition), 0)}, "
            f"the run read from {r.start}: another ingest ran meanwhile"
        )
    staged_view(con, "staged_valid", staged, "_valid")
    staged_view(con, "staged_quarantine", staged, "quarantine")
    staged_view(con, "staged_reads", staged, "_reads")
    staged_view(con, "staged_dq", staged, "_dq_results")
    # with ``reset`` (the user confirmed the topics were recreated), a partition that ends
    # before its committed offset starts again; the others are backfilled as usual
    resets = [
        r for r in plan if backfill and reset and current.get((r.topic, r.partition), 0) > r.end
    ]
    if backfill:
        _record_resets(con, batch_id, resets, current)
        _skip_accounted(con, plan)
        _ledger_skipped_offsets(con, batch_id, plan, current)
    classify(con, staged)
    insert_landed(con, staged, batch_id)
    landed_at = "current_timestamp"
    con.execute(
        """
        insert into ops.duplicate_events by name
        select kafka_topic, kafka_partition, kafka_offset, event_id, content_sha256,
               ? as batch_id
        from classified where verdict = 'duplicate'
        """,
        [batch_id],
    )
    quarantined_at_commit(con, staged)
    inserted = con.execute(
        f"""
        insert into quarantine.events by name
        select *, {RAW_TEXT} as raw_text, ? as batch_id, {landed_at} as quarantined_at
        from staged_quarantine
        union all by name
        select *, {RAW_TEXT} as raw_text, ? as batch_id, {landed_at} as quarantined_at
        from (
            select q.* exclude (raw_table, raw_json), encode(q.raw_json) as raw_value
            from quarantined_at_commit as q
            where q.raw_json is not null  -- else the count below fails the commit
        )
        """,
        [batch_id, batch_id],
    ).fetchone()[0]
    expected = con.execute(
        "select (select count(*) from staged_quarantine)"
        " + (select count(*) from classified where reason_code is not null)"
    ).fetchone()[0]
    expect_inserted("quarantine.events", inserted, expected)
    summary = _account(con, batch_id, plan, backfill)
    reset_keys = {(r.topic, r.partition) for r in resets}
    con.execute(
        f"""
        merge into ops.kafka_offsets as o
        using (select * from (values {", ".join("(?, ?, ?, ?)" for _ in plan)})
               as v(kafka_topic, kafka_partition, next_offset, reset)) as v
        on o.kafka_topic = v.kafka_topic and o.kafka_partition = v.kafka_partition
        when matched then update set next_offset = case when v.reset then v.next_offset
                                                        else greatest(o.next_offset,
                                                                      v.next_offset) end,
                                     batch_id = ?,
                                     committed_at = {landed_at}
        when not matched then insert (kafka_topic, kafka_partition, next_offset, batch_id,
                                      committed_at)
             values (v.kafka_topic, v.kafka_partition, v.next_offset, ?, {landed_at})
        """,
        [
            x
            for r in plan
            for x in (r.topic, r.partition, r.end, (r.topic, r.partition) in reset_keys)
        ]
        + [batch_id, batch_id],
    ) if plan else None
    con.execute(
        f"""
        insert into ops.ingest_runs by name
        select ? as batch_id, ?::timestamptz as started_at, {landed_at} as finished_at,
               ? as consumed, ? as landed, ? as duplicates, ? as quarantined, ? as runner,
               epoch({landed_at}) - epoch(?::timestamptz) as seconds
        """,
        [
            batch_id,
            started_at,
            summary.consumed,
            summary.landed,
            summary.duplicates,
            summary.quarantined,
            runner,
            started_at,
        ],
    )
    _record_dq(con, batch_id, report_path)
    return summary


# what a verdict needs of a staged valid event (its key stays in ``staged_valid``, its bytes
# in its raw table's ``raw_json``)
_VERDICT_KEYS = (
    "kafka_topic, kafka_partition, kafka_offset, event_id, event_type, content_sha256, raw_table"
)


def classify(con: duckdb.DuckDBPyConnection, staged: Sequence[StagedFile]) -> None:
    """``classified``: each staged valid event with its verdict against the run and
    everything landed before — ``land`` (first copy), ``duplicate`` (byte-identical repeat),
    ``conflict`` (other content under a landed or earlier event_id), ``rejected`` (by the
    GX suites: ``_gx_rejected``, decided over many batches after they were staged) or
    ``unstorable`` (a value its raw table cannot hold: see ``unstorable``); the last three
    with the ``reason_code``, ``reason_detail`` and ``reasons`` they are quarantined with.
    An event GX rejected takes no part in deciding the others' duplicates and conflicts, as
    if it had never been a candidate. Without the message bytes (its raw table's
    ``raw_json`` holds them): the verdicts of a large pass then fit in memory."""
    staged_view(con, "staged_gx_rejected", staged, "_gx_rejected")
    unstorable(con, staged)
    con.execute(
        f"""
        create or replace temp table classified as
        with verdicts as (
        with candidates as (
            select {_VERDICT_KEYS} from staged_valid
            anti join staged_gx_rejected using (kafka_topic, kafka_partition, kafka_offset)
            anti join unstorable using (kafka_topic, kafka_partition, kafka_offset)
        ),
        ranked as (
            select *,
                row_number() over w as copy_number,
                first_value(content_sha256) over w as first_sha256
            from candidates
            window w as (partition by event_id order by kafka_topic, kafka_partition, kafka_offset)
        )
        select ranked.* exclude (copy_number, first_sha256),
            case
                when landed.event_id is not null then
                    case when ranked.content_sha256 = landed.content_sha256
                         then 'duplicate' else 'conflict' end
                when copy_number = 1 then 'land'
                when ranked.content_sha256 = first_sha256 then 'duplicate'
                else 'conflict'
            end as verdict,
            null::varchar as unstorable_detail
        from ranked
        left join ops.landed_events as landed using (event_id)
        union all by name
        select {_VERDICT_KEYS}, 'unstorable' as verdict, u.detail as unstorable_detail
        from staged_valid as s
        join unstorable as u using (kafka_topic, kafka_partition, kafka_offset)
        anti join staged_gx_rejected using (kafka_topic, kafka_partition, kafka_offset)
        union all by name
        select {_VERDICT_KEYS}, 'rejected' as verdict, g.reasons as gx_reasons
        from staged_valid as s
        join staged_gx_rejected as g using (kafka_topic, kafka_partition, kafka_offset)
        ),
        reasoned as (
        select * exclude (unstorable_detail, gx_reasons),
            case verdict when 'conflict' then 'event_id_conflict'
                         when 'unstorable' then 'internal_error'
                         when 'rejected' then gx_reasons[1].code end as reason_code,
            case verdict
                when 'conflict'
                    then 'event_id ' || event_id || ' was seen before with other content'
                when 'unstorable' then unstorable_detail
                when 'rejected' then gx_reasons[1].detail
            end as reason_detail,
            gx_reasons
        from verdicts
        )
        select * exclude (gx_reasons),
            case when verdict = 'rejected' then gx_reasons
                 when reason_code is not null
                 then [{{'code': reason_code, 'detail': reason_detail}}] end as reasons
        from reasoned
        """
    )


def unstorable(con: duckdb.DuckDBPyConnection, staged: Sequence[StagedFile]) -> None:
    """``unstorable``: staged events with a date or time their raw table cannot cast. The
    contract check rejects all such values first (a test proves it for every field); this
    keeps a gap between the two a quarantined message (``internal_error``) instead of a
    commit that fails for every later pass."""
    selects = []
    for contract in contracts().values():
        files = _files(staged, contract.table)
        casts = _casts(contract.table)
        if files is None or not casts:
            continue
        failing = [f"try_cast({c} as {t}) is null and {c} is not null" for c, t in casts]
        detail = ", ".join(
            f"case when {test} then '{c} ' || {c} || ' is not a {t}' end"
            for (c, t), test in zip(casts, failing, strict=True)
        )
        selects.append(
            f"""
            select kafka_topic, kafka_partition, kafka_offset,
                   'landing: raw.{contract.table}: ' || concat_ws('; ', {detail}) as detail
            from read_parquet({files}) where {" or ".join(f"({t})" for t in failing)}
            """
        )
    empty = (
        "select null::varchar as kafka_topic, null::integer as kafka_partition, "
        "null::bigint as kafka_offset, null::varchar as detail where false"
    )
    con.execute(
        "create or replace temp table unstorable as " + " union all ".join([empty, *selects])
    )


@cache
def _casts(table: str) -> list[tuple[str, str]]:
    """The columns the warehouse casts on insert (staged as text): name and raw type."""
    staged = staging_schemas()[table]
    raw = raw_schemas()[table]
    return [
        (f.name, duckdb_type(raw.field(f.name).type))
        for f in staged
        if pa.types.is_string(f.type) and not pa.types.is_string(raw.field(f.name).type)
    ]


def expect_inserted(table: str, inserted: int, expected: int) -> None:
    """Fail the commit when an insert took other than the rows the verdicts give: a staged
    valid event whose raw-table row is missing would otherwise be counted landed (or
    quarantined) and kept nowhere."""
    if inserted != expected:
        raise AccountingError(
            f"{table}: {inserted} rows inserted where the verdicts give {expected}: "
            "the pass's staged files disagree"
        )


def insert_landed(
    con: duckdb.DuckDBPyConnection, staged: Sequence[StagedFile], batch_id: str
) -> None:
    """Insert the ``land`` verdicts of ``classified`` into ``raw.*`` (answers included)
    and ``ops.landed_events``."""
    landing = dict(
        con.execute(
            "select raw_table, count(*) from classified where verdict = 'land' group by all"
        ).fetchall()
    )
    for contract in contracts().values():
        files = _files(staged, contract.table)
        inserted = 0
        if files is not None:
            # the semi join's side holds this table's landing events only, not the pass's
            inserted = con.execute(
                f"""
                insert into raw.{contract.table} by name
                select s.* from read_parquet({files}) as s
                semi join (select kafka_topic, kafka_partition, kafka_offset from classified
                           where verdict = 'land' and raw_table = ?) as c
                  using (kafka_topic, kafka_partition, kafka_offset)
                """,
                [contract.table],
            ).fetchone()[0]
        expect_inserted(f"raw.{contract.table}", inserted, landing.get(contract.table, 0))
    answers = _files(staged, "survey_answers")
    if answers is not None:
        con.execute(
            f"""
            insert into raw.survey_answers by name
            select a.* exclude (kafka_topic, kafka_partition, kafka_offset)
            from read_parquet({answers}) as a
            semi join (select kafka_topic, kafka_partition, kafka_offset from classified
                       where verdict = 'land' and event_type = 'survey_response') as c
              using (kafka_topic, kafka_partition, kafka_offset)
            """
        )
    con.execute(
        """
        insert into ops.landed_events by name
        select event_id, event_type, content_sha256, kafka_topic, kafka_partition, kafka_offset,
               ? as batch_id
        from classified where verdict = 'land'
        """,
        [batch_id],
    )


def _record_resets(
    con: duckdb.DuckDBPyConnection,
    batch_id: str,
    resets: Sequence[PartitionRange],
    current: dict[tuple[str, int], int],
) -> None:
    for r in resets:
        con.execute(
            "insert into ops.offset_resets values (?, ?, ?, ?, ?, current_timestamp)",
            [r.topic, r.partition, batch_id, current[(r.topic, r.partition)], r.end],
        )


def _skip_accounted(con: duckdb.DuckDBPyConnection, plan: Sequence[PartitionRange]) -> None:
    """Leave out of the staged rows every message the warehouse accounted for before (since
    its partition's last reset: offsets before a reset are another topic's)."""
    ranges = " or ".join(
        "(kafka_topic = ? and kafka_partition = ? and kafka_offset >= ? and kafka_offset < ?)"
        for _ in plan
    )
    params = [x for r in plan for x in (r.topic, r.partition, r.start, r.end)]
    since_reset = f"""
        left join (select kafka_topic, kafka_partition, max(reset_at) as reset_at
                   from ops.offset_resets group by all) as e
          using (kafka_topic, kafka_partition)
        left join ops.ingest_runs as runs using (batch_id)
        where coalesce(runs.finished_at >= e.reset_at, e.reset_at is null) and ({ranges})
    """
    con.execute(
        f"""
        create or replace temp table accounted as
        select kafka_topic, kafka_partition, kafka_offset from ops.landed_events {since_reset}
        union
        select kafka_topic, kafka_partition, kafka_offset from ops.duplicate_events {since_reset}
        union
        select kafka_topic, kafka_partition, kafka_offset from quarantine.events {since_reset}
        """,
        params * 3,
    )
    for view in ("staged_valid", "staged_quarantine"):
        con.execute(f"create or replace temp table {view}_all as select * from {view}")
        con.execute(
            f"""
            create or replace temp view {view} as
            select * from {view}_all
            anti join accounted using (kafka_topic, kafka_partition, kafka_offset)
            """
        )


def _ledger_skipped_offsets(
    con: duckdb.DuckDBPyConnection,
    batch_id: str,
    plan: Sequence[PartitionRange],
    current: dict[tuple[str, int], int],
) -> None:
    """A backfill that starts after a partition's committed offset leaves the offsets in
    between unread on purpose: one ledger row with nothing consumed says so."""
    for r in plan:
        committed = current.get((r.topic, r.partition), 0)
        if r.start > committed:
            con.execute(
                "insert into ops.partition_batches values (?, ?, ?, ?, ?, 0, 0, 0, 0)",
                [batch_id, r.topic, r.partition, committed, r.start],
            )


def _account(
    con: duckdb.DuckDBPyConnection,
    batch_id: str,
    plan: Sequence[PartitionRange],
    backfill: bool = False,
) -> LandingSummary:
    """Per-partition accounting of the run; refuse to land if a record is unaccounted.

    A backfill's consumed count is what it accounted for anew; the messages it read again
    that the warehouse already had are counted in ``already_accounted``."""
    summary = LandingSummary(batch_id)
    ledger: list[list[object]] = []
    # one query for every partition (a query per partition cost more than the inserts)
    skipped = (
        "select kafka_topic, kafka_partition, count(*) as skipped from accounted group by all"
        if backfill
        else "select kafka_topic, kafka_partition, 0 as skipped from staged_reads where false"
    )
    counts_by_partition = {
        (topic, partition): counts
        for topic, partition, *counts in con.execute(
            f"""
            with reads as (
                select kafka_topic, kafka_partition, sum(records) as consumed
                from staged_reads group by all
            ),
            verdicts as (
                select kafka_topic, kafka_partition,
                       count(*) filter (where verdict = 'land') as landed,
                       count(*) filter (where verdict = 'duplicate') as duplicates,
                       count(*) filter (where reason_code is not null) as refused
                from classified group by all
            ),
            rejected as (
                select kafka_topic, kafka_partition, count(*) as rejected
                from staged_quarantine group by all
            ),
            skipped as ({skipped}),
            partitions as (
                select kafka_topic, kafka_partition from reads union
                select kafka_topic, kafka_partition from verdicts union
                select kafka_topic, kafka_partition from rejected union
                select kafka_topic, kafka_partition from skipped
            )
            select kafka_topic, kafka_partition,
                   coalesce(consumed, 0), coalesce(landed, 0), coalesce(duplicates, 0),
                   coalesce(refused, 0) + coalesce(rejected, 0), coalesce(skipped, 0)
            from partitions
            left join reads using (kafka_topic, kafka_partition)
            left join verdicts using (kafka_topic, kafka_partition)
            left join rejected using (kafka_topic, kafka_partition)
            left join skipped using (kafka_topic, kafka_partition)
            """
        ).fetchall()
    }
    for r in plan:
        consumed, landed, duplicates, quarantined, skipped = (
            int(x) for x in counts_by_partition.get((r.topic, r.partition), (0, 0, 0, 0, 0))
        )
        summary.already_accounted += skipped
        consumed -= skipped
        if consumed != landed + duplicates + quarantined or consumed > r.size:
            raise AccountingError(
                f"{r.topic}[{r.partition}] offsets {r.start}-{r.end}: consumed {consumed} != "
                f"landed {landed} + duplicates {duplicates} + quarantined {quarantined}"
            )
        counts = [consumed, landed, duplicates, quarantined]
        ledger.append([batch_id, r.topic, r.partition, r.start, r.end, *counts])
        summary.partitions.append(
            (r.topic, r.partition, r.start, r.end, landed, duplicates, quarantined)
        )
        summary.consumed += consumed
        summary.landed += landed
        summary.duplicates += duplicates
        summary.quarantined += quarantined
    if ledger:  # one insert: each statement would add a data file of its own to the table
        con.execute(
            "insert into ops.partition_batches values "
            + ", ".join("(?, ?, ?, ?, ?, ?, ?, ?, ?)" for _ in ledger),
            [x for row in ledger for x in row],
        )
    # from what this commit inserts into quarantine.events, not by scanning that table
    summary.by_reason = dict(
        con.execute(
            """
            select reason_code, count(*) from (
                select reason_code from staged_quarantine
                union all
                select reason_code from classified where reason_code is not null
            )
            group by reason_code order by count(*) desc, reason_code
            """
        ).fetchall()
    )
    return summary


def _record_dq(con: duckdb.DuckDBPyConnection, batch_id: str, report_path: str | None) -> None:
    # the run's expectation results, aggregated once: stored, and counted per contract below
    con.execute(
        """
        create or replace temp table run_expectations as
        select contract, suite || ': ' || expectation as expectation, column_name, reason_code,
               bool_and(success) as success, sum(unexpected_count) as unexpected_count
        from staged_dq group by contract, suite, expectation, column_name, reason_code
        """
    )
    con.execute(
        "insert into dq.expectation_results by name select ? as batch_id, * from run_expectations",
        [batch_id],
    )
    con.execute(
        """
        insert into dq.validation_runs by name
        with checked as (
            select contract, sum(rows_checked) as rows_checked
            from (select distinct chunk_id, contract, suite, rows_checked from staged_dq)
            where suite = contract group by contract
        ),
        -- from this run's results, not by scanning dq.expectation_results and
        -- quarantine.events for the batch (they grow with every pass)
        results as (
            select contract, count(*) as expectations,
                   count(*) filter (where not success) as expectations_failed
            from run_expectations group by contract
        ),
        -- the events a suite rejected (the commit quarantines them: ``classify``)
        failed as (
            select event_type as contract, count(*) as rows_failed
            from (select event_type, reasons from staged_quarantine
                  union all
                  select event_type, reasons from classified where verdict = 'rejected')
            where list_has_any(list_transform(reasons, r -> contains(r.detail, '.v1 ')), [true])
            group by event_type
        )
        select $b as batch_id, contract, rows_checked, coalesce(rows_failed, 0) as rows_failed,
               expectations, expectations_failed, expectations_failed = 0 as success,
               $report as report_path
        from checked join results using (contract) left join failed using (contract)
        """,
        {"b": batch_id, "report": report_path},
    )
