"""Backfill: read partitions again from an offset or a time, without duplicating anything.

``plan_backfill`` turns the start (an offset, ``earliest`` or a time, per partition via
Kafka's offset-for-time index) into ``[start, end now)`` per partition of the chosen topics;
``run_backfill`` runs the ingest pipeline over those ranges and lands them as a backfill
(``warehouse.landing``): messages the warehouse accounted for before are skipped by
offset, events already landed under their id are duplicates as always, and each
partition's committed offset moves to the range's end. Typical uses: a new warehouse that
starts from a date instead of the beginning of the topics, or offsets the broker deleted
before they were ingested (backfill from ``earliest``, the gap is recorded).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from contracts.spec import topics_of
from finradar.errors import FinradarError
from finradar.settings import Settings
from handoff.records import PartitionRange
from infra.kafka_clients import OffsetsClient
from pipelines.ingest import IngestSummary, run_once
from pipelines.planning import committed_offsets_now, refuse_offsets_behind

Start = int | datetime | str  # an offset, a time, or "earliest"


def plan_backfill(
    settings: Settings, start: Start, topics: Sequence[str] = (), reset: bool = False
) -> list[PartitionRange]:
    """``[start, end now)`` for every partition of ``topics`` (an offset beyond a partition's
    end or before its first retained message is clamped to it).

    A partition that ends before the warehouse's committed offset belongs to a recreated
    topic: it is read only with ``reset``, which says so (the landing then starts that
    partition's offsets anew; the others are backfilled as usual)."""
    committed = committed_offsets_now(settings)
    client = OffsetsClient(settings.kafka)
    try:
        partitions = client.partitions(topics_of(topics))
        ends = client.end_offsets(partitions)
        firsts = client.beginning_offsets(partitions)
        if isinstance(start, datetime):
            found = client.offsets_for_time(partitions, int(start.timestamp() * 1000))
            starts = {tp: found[tp].offset if found[tp] else ends[tp] for tp in partitions}
        elif start == "earliest":
            starts = dict(firsts)
        elif isinstance(start, int):
            starts = {tp: start for tp in partitions}
        else:
            raise FinradarError(
                f"a backfill starts at an offset, a time or 'earliest', not {start!r}"
            )
    finally:
        client.close()
    if not reset:
        refuse_offsets_behind(
            partitions, ends, committed, "if the topics were recreated, add --reset"
        )
    plan = []
    for tp in partitions:
        begin = min(max(starts[tp], firsts[tp]), ends[tp])
        plan.append(PartitionRange(tp.topic, tp.partition, begin, ends[tp]))
    return plan


def run_backfill(
    settings: Settings,
    start: Start,
    topics: Sequence[str] = (),
    on_plan: Callable[[list[PartitionRange]], None] | None = None,
    reset: bool = False,
) -> IngestSummary:
    """One backfill pass from ``start`` to the current end of every partition of ``topics``
    (``reset``: see ``plan_backfill``)."""
    return run_once(
        settings,
        on_plan,
        backfill=lambda: plan_backfill(settings, start, topics, reset),
        reset=reset,
    )
