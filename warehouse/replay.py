"""Replay: quarantined messages checked again under today's contract, landed exactly once.

``pending`` selects the messages to replay (not replayed yet, optionally by reason code;
redacted messages are left out: their bytes are no longer the ones sent), and
``pending_records`` reads them a few at a time (``read_ranges``): the quarantine's bytes
may be gigabytes (a backlog's oversize messages) where a session holds
``warehouse.memory_limit``. After the replay pipeline has checked and staged them again
(``pipelines.replay``), ``land_replayed`` commits in one transaction: the events that now
pass land in ``raw.*`` (an event whose id landed meanwhile with the same content counts as
a duplicate), and exactly those messages are marked ``replayed_at``/``replay_batch_id`` in
``quarantine.events``, so a second replay never sees them again. Messages that still fail
stay as they are.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pyarrow as pa

from finradar.errors import TransientError
from handoff.records import Coordinates, KafkaRecord
from handoff.staging import StagedFile
from warehouse.landing import classify, insert_landed, staged_view
from warehouse.schema import create_all
from warehouse.transactions import DEFAULT_TURN_WAIT_S, in_transaction

# what one read of the messages to replay holds at most (``read_ranges``)
READ_BYTES = 64 * 1024 * 1024
READ_ROWS = 2048
Pending = tuple[str, int, int, int | None]  # a message to replay: coordinates, value bytes
Range = tuple[str, int, int, int]  # a read: topic, partition, first and last offset


class ReplayedMeanwhile(TransientError):
    """Another replay marked some of these messages after they were selected."""


@dataclass
class ReplaySummary:
    replay_batch_id: str
    reasons: list[str] = field(default_factory=list)
    rechecked: int = 0
    landed: int = 0
    duplicates: int = 0
    still_quarantined: int = 0
    still_by_reason: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _reason_filter(reasons: Sequence[str]) -> tuple[str, list[str]]:
    if not reasons:
        return "", []
    return f"and reason_code in ({', '.join('?' for _ in reasons)})", list(reasons)


def _pending(reasons: Sequence[str]) -> tuple[str, list[str]]:
    where, params = _reason_filter(reasons)
    return (
        "from quarantine.events "
        f"where replayed_at is null and not coalesce(redacted, false) {where}",
        params,
    )


def pending(con: duckdb.DuckDBPyConnection, reasons: Sequence[str] = ()) -> list[Pending]:
    """The quarantined messages not replayed yet (of ``reasons``, if given): each one's
    coordinates and the bytes of its value, in offset order (not the bytes themselves:
    ``pending_records`` reads them)."""
    create_all(con)
    source, params = _pending(reasons)
    rows = con.execute(
        f"select kafka_topic, kafka_partition, kafka_offset, octet_length(raw_value) {source} "
        "order by kafka_topic, kafka_partition, kafka_offset",
        params,
    ).fetchall()
    return [(t, p, o, size) for t, p, o, size in rows]


def pending_records(
    con: duckdb.DuckDBPyConnection, ranges: Sequence[Range], reasons: Sequence[str] = ()
) -> Iterator[KafkaRecord]:
    """The messages of ``pending`` (of ``reasons``, if given) in ``ranges``
    (``read_ranges``), as read from Kafka, one range's at a time. DuckDB 1.5 holds a
    query's whole result (a reader of it as well): read at once, a 1,000,000-event pass's
    quarantine (1.7 GiB of oversize messages) failed past a session's memory limit."""
    source, params = _pending(reasons)
    for topic, partition, first, last in ranges:
        rows = con.execute(
            "select kafka_topic, kafka_partition, kafka_offset, epoch_ms(kafka_timestamp), "
            f"message_key, raw_value {source} and kafka_topic = ? and kafka_partition = ? "
            "and kafka_offset between ? and ? order by kafka_offset",
            [*params, topic, partition, first, last],
        ).fetchall()
        for t, p, o, ts, key, value in rows:
            yield KafkaRecord(t, p, o, ts, key.encode() if key is not None else None, value)


def read_ranges(
    sizes: Sequence[Pending], read_bytes: int = READ_BYTES, read_rows: int = READ_ROWS
) -> list[Range]:
    """The reads of ``pending``'s messages (``sizes``): ranges of one partition's offsets,
    each of at most ``read_bytes`` bytes (or one message) and ``read_rows`` messages."""
    return list(_ranges(sizes, read_bytes, read_rows))


def _ranges(sizes: Sequence[Pending], read_bytes: int, read_rows: int) -> Iterator[Range]:
    start = 0
    while start < len(sizes):
        topic, partition, first, size = sizes[start]
        end, held = start + 1, size or 0
        while (
            end < len(sizes)
            and end - start < read_rows
            and sizes[end][:2] == (topic, partition)
            and held + (sizes[end][3] or 0) <= read_bytes
        ):
            held += sizes[end][3] or 0
            end += 1
        yield topic, partition, first, sizes[end - 1][2]
        start = end


def land_replayed(
    con: duckdb.DuckDBPyConnection,
    replay_batch_id: str,
    records: Sequence[Coordinates],
    staged: Sequence[StagedFile],
    started_at: datetime,
    reasons: Sequence[str] = (),
    retries: int = 12,
    turn_wait_s: float = DEFAULT_TURN_WAIT_S,
) -> ReplaySummary:
    """Commit the replay of the messages at ``records`` (staged by the replay pipeline) in
    one transaction."""

    def attempt() -> ReplaySummary:
        return _land(con, replay_batch_id, records, staged, started_at, reasons)

    return in_transaction(
        con,
        attempt,
        retries,
        message=lambda s: f"replay {s.replay_batch_id}",
        turn_wait_s=turn_wait_s,
    )


def _land(
    con: duckdb.DuckDBPyConnection,
    replay_batch_id: str,
    records: Sequence[Coordinates],
    staged: Sequence[StagedFile],
    started_at: datetime,
    reasons: Sequence[str],
) -> ReplaySummary:
    con.register("replay_selected", _selected_table(records))
    still_pending = con.execute(
        """
        select count(*) from quarantine.events q semi join replay_selected s
          on q.kafka_topic = s.kafka_topic and q.kafka_partition = s.kafka_partition
         and q.kafka_offset = s.kafka_offset
        where q.replayed_at is null
        """
    ).fetchone()[0]
    if still_pending != len(records):
        raise ReplayedMeanwhile(
            f"{len(records) - still_pending} of {len(records)} selected messages were replayed "
            "by another run meanwhile"
        )
    staged_view(con, "staged_valid", staged, "_valid")
    staged_view(con, "staged_quarantine", staged, "quarantine")
    classify(con, staged)
    insert_landed(con, staged, replay_batch_id)
    con.execute(
        """
        update quarantine.events as q
        set replayed_at = current_timestamp, replay_batch_id = ?
        from (select kafka_topic, kafka_partition, kafka_offset from classified
              where verdict in ('land', 'duplicate')) as c
        where q.kafka_topic = c.kafka_topic and q.kafka_partition = c.kafka_partition
          and q.kafka_offset = c.kafka_offset and q.replayed_at is null
        """,
        [replay_batch_id],
    )
    landed, duplicates = con.execute(
        """
        select count(*) filter (where verdict = 'land'),
               count(*) filter (where verdict = 'duplicate')
        from classified
        """
    ).fetchone()
    summary = ReplaySummary(
        replay_batch_id,
        list(reasons),
        rechecked=len(records),
        landed=landed,
        duplicates=duplicates,
        still_quarantined=len(records) - landed - duplicates,
    )
    summary.still_by_reason = dict(
        con.execute(
            """
            select reason_code, count(*) from (
                select reason_code from staged_quarantine
                union all
                select reason_code from classified where reason_code is not null
            ) group by 1 order by 2 desc, 1
            """
        ).fetchall()
    )
    con.execute(
        """
        insert into ops.replay_runs by name
        select ? as replay_batch_id, ?::timestamptz as started_at,
               current_timestamp as finished_at, ? as reasons, ? as rechecked, ? as landed,
               ? as duplicates, ? as still_quarantined,
               epoch(current_timestamp) - epoch(?::timestamptz) as seconds
        """,
        [
            replay_batch_id,
            started_at,
            list(reasons),
            summary.rechecked,
            landed,
            duplicates,
            summary.still_quarantined,
            started_at,
        ],
    )
    return summary


def _selected_table(records: Sequence[Coordinates]) -> pa.Table:
    return pa.table(
        {
            "kafka_topic": pa.array([r[0] for r in records], pa.string()),
            "kafka_partition": pa.array([r[1] for r in records], pa.int32()),
            "kafka_offset": pa.array([r[2] for r in records], pa.int64()),
        }
    )
